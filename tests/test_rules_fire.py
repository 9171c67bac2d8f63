"""Each rule has a case where it fires and one where it must not.

A case is a shipped example plus small edits (set, delete, add) to its YAML, and the element the rule's
conclusions must (or must not) be about. The edited descriptions are reasoned over without validation:
these tests are about the rules, not the shapes.
"""

from __future__ import annotations

import io
import re

import pytest
from ruamel.yaml import YAML

from sortai.reasoner import resources
from sortai.reasoner.description import load_bytes
from sortai.reasoner.engine import infer
from sortai.reasoner.rules import load_rule_base

from .conftest import EXAMPLES

D, H, G, M, X, O = ("disaggregated-h100-l4", "homogeneous-h100", "mig-multitenant", "migration-onprem-to-cloud",
                    "mixed-vendor-pools", "oversubscribed-scaleout")
NO_BANDWIDTH = [("del", "links[kv-handoff-path].bandwidthGBps"), ("del", "links[kv-handoff-path].linkType")]
ALL_H100 = [("set", "nodes[mi300x-nodes].accelerator", "H100-SXM"), ("set", "nodes[gaudi2-nodes].accelerator", "H100-SXM")]
NO_SERVED = [("del", "workloads[document-qa].servedBy")]

# rule: (fires: example, edits, subject), (does not fire: example, edits, subject)
CASES = {
    "Q01": ((D, [], "llama-3.1-8b-instruct"), (D, [("del", "models[llama-3.1-8b-instruct].kvDtype")], "llama-3.1-8b-instruct")),
    "Q02": ((D, [], "cat:H100-SXM"), (D, [], "cat:A10G")),
    "Q03": ((D, [], "kv-handoff-path"), (D, NO_BANDWIDTH, "kv-handoff-path")),
    "Q04": ((D, [], "cluster-rdma-fabric"), (D, [("del", "fabrics[cluster-rdma-fabric].linkType")], "cluster-rdma-fabric")),
    "Q05": ((D, [], "h100-prefill-nodes"), (D, [("del", "nodes[h100-prefill-nodes].accelerator")], "h100-prefill-nodes")),
    "Q06": ((D, [], "h100-prefill"), (D, [("del", "nodes[h100-prefill-nodes].acceleratorsPerNode")], "h100-prefill")),
    "Q07": ((D, [], "h100-prefill"), (D, [("del", "nodes[h100-prefill-nodes].accelerator")], "h100-prefill")),
    "Q08": ((D, [], "h100-prefill"), (D, [("del", "models[llama-3.1-8b-instruct].weightDtype")], "h100-prefill")),
    "Q09": ((D, [], "l4-decode"), (D, [], "h100-prefill")),
    "Q10": ((D, [], "h100-prefill"), (D, [("del", "nodes[h100-prefill-nodes].acceleratorsPerNode")], "h100-prefill")),
    "Q11": ((D, [], "l4-decode"), (D, [("del", "workloads[document-qa].promptTokensP99")], "l4-decode")),
    "Q12": ((D, [], "prefill-to-decode-kv"), (D, NO_BANDWIDTH, "prefill-to-decode-kv")),
    "Q13": ((D, [], "prefill-to-decode-kv"), (D, [("del", "workloads[document-qa].promptTokensP50")], "prefill-to-decode-kv")),
    "Q14": ((D, [], "prefill-to-decode-kv"), (D, [("del", "models[llama-3.1-8b-instruct].kvDtype")], "prefill-to-decode-kv")),
    "Q15": ((D, [], "h100-prefill-nodes"), (D, [("del", "nodes[h100-prefill-nodes].cluster")], "h100-prefill-nodes")),
    "Q17": ((H, [], "h100-nodes-rack-a"), (H, [("del", "nodes[h100-nodes-rack-a].rack")], "h100-nodes-rack-a")),
    "Q16": ((D, [], "cloud-us-east"), (D, [("del", "clusters[qa-inference-cluster].environment")], "cloud-us-east")),
    "P01": ((D, [], "h100-prefill"), (D, [("set", "workloads[document-qa].servedBy", ["l4-decode"])], "h100-prefill")),
    "P02": ((D, [], "prefill-to-decode-kv"), (D, NO_SERVED, "prefill-to-decode-kv")),
    "P03": ((D, [], "h100-prefill-nodes"), (D, NO_SERVED, "h100-prefill-nodes")),
    "P04": ((D, [], "pd-router"), (D, NO_SERVED, "pd-router")),
    "P05": ((M, [], "onprem-to-cloud-2025"), (M, [("del", "workloads[enterprise-assistant].servedBy")], "onprem-to-cloud-2025")),
    "P06": ((M, [], "cloud-autoscaler"), (M, [("del", "workloads[enterprise-assistant].servedBy")], "cloud-autoscaler")),
    "C01": ((X, [], "llama70b-mixed"), (X, ALL_H100, "llama70b-mixed")),
    "C02": ((X, [], "unified-batch-scheduler"), (X, ALL_H100, "unified-batch-scheduler")),
    "C03": ((X, [], "llama70b-mixed"), (X, [("set", "nodes[mi300x-nodes].accelerator", "H200-SXM"),
                                           ("set", "nodes[gaudi2-nodes].accelerator", "H200-SXM")], "llama70b-mixed")),
    "C04": ((D, [], "l4-decode"), (D, [("set", "workloads[document-qa].slo.tpotMs", 200)], "l4-decode")),
    "C05": ((D, [("set", "workloads[document-qa].promptTokensP99", 64000)], "l4-decode"), (D, [], "l4-decode")),
    "C06": ((D, [], "prefill-to-decode-kv"), (D, [("set", "nodes[l4-decode-nodes].accelerator", "H100-SXM")], "prefill-to-decode-kv")),
    "C07": ((D, [], "prefill-to-decode-kv"), (D, [("set", "workloads[document-qa].slo.ttftMs", 5000)], "prefill-to-decode-kv")),
    "C08": ((D, [("set", "links[kv-handoff-path].crossRegion", True)], "prefill-to-decode-kv"), (D, [], "prefill-to-decode-kv")),
    "C09": ((D, [("set", "links[kv-handoff-path].linkType", "Ethernet-100G")], "prefill-to-decode-kv"), (D, [], "prefill-to-decode-kv")),
    "C10": ((O, [], "llama405b-serving"), (O, [("set", "fabrics[roce-leaf-spine].oversubscription", 1)], "llama405b-serving")),
    "C11": ((G, [], "h100-vgpu-nodes"), (G, [("set", "nodes[h100-vgpu-nodes].virtualization.sharedBy", ["retail-bank"])], "h100-vgpu-nodes")),
    "C12": ((D, [], "h100-prefill-nodes"), (D, [("set", "nodes[h100-prefill-nodes].virtualization.network", "direct")], "h100-prefill-nodes")),
    "C13": ((D, [], "h100-prefill-nodes"), (D, [("set", "nodes[h100-prefill-nodes].virtualization.gpu", "bare-metal")], "h100-prefill-nodes")),
    "C14": ((G, [], "retail-chat-8b"), (G, [("set", "nodes[a100-mig-nodes].virtualization.migProfile", "7g.80gb")], "retail-chat-8b")),
    "C15": ((M, [], "onprem-to-cloud-2025"), (M, [("set", "fabrics[cloud-roce].linkType", "IB-NDR"),
                                                  ("set", "fabrics[cloud-roce].bandwidthGBps", 50)], "onprem-to-cloud-2025")),
    "C16": ((M, [], "onprem-to-cloud-2025"), (M, [("set", "environments[cloud-region].storageLocality", "local-nvme")], "onprem-to-cloud-2025")),
    "C17": ((M, [], "onprem-to-cloud-2025"), (M, [("set", "nodes[cloud-h100-nodes].virtualization.gpu", "bare-metal")], "onprem-to-cloud-2025")),
    "C18": ((M, [("set", "nodes[cloud-h100-nodes].accelerator", "H200-SXM")], "onprem-to-cloud-2025"), (M, [], "onprem-to-cloud-2025")),
    "C19": ((X, [], "request-router"), (X, [("set", "controlLoops[*].timescaleMs", 50)], "request-router")),
    "M01": ((D, [], "prefill-to-decode-kv"), (H, [], "")),
    "S01": ((X, [], "llama70b-mixed"), (X, [("set", "measurements[tpot-p99].value", 50)], "llama70b-mixed")),
    "S02": ((X, [("set", "measurements[pool-compute-utilization].value", 45), ("add", "measurements", {"id": "pool-memory-bandwidth", "metric": "dram-active",
                                          "component": "llama70b-mixed", "value": 93, "unit": "percent"})], "llama70b-mixed"),
            (X, [], "llama70b-mixed")),
    "S03": ((O, [], "llama405b-serving"), (O, [("set", "measurements[throughput-at-1024].value", 1000000)], "llama405b-serving")),
    "S04": ((M, [], "qwen72b-serving"), (M, [("set", "measurements[ttft-p99-after].regime", "bare-metal"),
                                             ("set", "measurements[tpot-p99-after].regime", "bare-metal"),
                                             ("set", "measurements[ttft-p50-after].regime", "bare-metal")], "qwen72b-serving")),
    "S05": ((M, [], "onprem-to-cloud-2025"), (M, [("set", "migrations[onprem-to-cloud-2025].codeChange", True)], "onprem-to-cloud-2025")),
    "D01": ((D, [], "l4-decode"), (H, [], "")),
    "D02": ((D, [], "l4-decode"), (H, [], "")),
    "D03": ((D, [], "l4-decode"), (H, [], "")),
    "D04": ((D, [], "l4-decode"), (H, [], "")),
    "D05": ((D, [], "l4-decode"), (O, [], "")),
    "D06": ((M, [], "onprem-to-cloud-2025"), (D, [], "")),
    "D07": ((D, [], "prefill-to-decode-kv"), (O, [], "")),
}

_ITEM = re.compile(r"^(\w+)\[([^\]]+)\]$")


def _resolve(tree, path: str):
    """`section[id].key.key` → the list of (mapping, last key) the path names; `[*]` is every element."""
    parts = re.findall(r"\w+\[[^\]]*\]|\w+", path)
    nodes = [tree]
    for part in parts[:-1]:
        match = _ITEM.match(part)
        if match:
            section, ident = match.groups()
            nodes = [item for node in nodes for item in node[section] if ident == "*" or item["id"] == ident]
        else:
            nodes = [node[part] for node in nodes]
    assert nodes, path
    return [(node, parts[-1]) for node in nodes]


def edited(example: str, edits) -> bytes:
    yaml = YAML()
    tree = yaml.load((EXAMPLES / example / "description.yaml").read_text())
    for op, path, *value in edits:
        if op == "add":
            tree[path].append(value[0])
            continue
        for node, key in _resolve(tree, path):
            if op == "set":
                node[key] = value[0]
            else:
                del node[key]
    buffer = io.StringIO()
    yaml.dump(tree, buffer)
    return buffer.getvalue().encode()


def conclusions_about(rule_id: str, example: str, edits, subject: str) -> list:
    description = load_bytes(edited(example, edits), f"{example}.yaml")
    reasoning = infer(description)
    prefix = resources.CAT + subject[4:] if subject.startswith("cat:") else description.base + subject
    return [t for t, derivations in reasoning.derivations.items()
            if any(d.rule.rule_id == rule_id for d in derivations) and t.subject.value.startswith(prefix)]


def test_every_rule_has_a_case():
    assert sorted(CASES) == sorted(r.rule_id for r in load_rule_base().rules)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires(rule_id):
    example, edits, subject = CASES[rule_id][0]
    assert conclusions_about(rule_id, example, edits, subject), f"{rule_id} did not fire on {subject}"


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_does_not_fire_without_its_premise(rule_id):
    example, edits, subject = CASES[rule_id][1]
    assert conclusions_about(rule_id, example, edits, subject) == []
