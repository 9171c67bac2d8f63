"""Each rule has a case where it fires and one where it must not.

A case is a shipped example plus small edits to its YAML, and the element the rule's conclusions must (or must
not) be about: a conclusion is about an element when its subject is the element or a resource named under it
(`<element>/condition/…`, `<element>/diagnosis/…`). The does-not-fire case removes the one premise that matters,
usually by editing the same example as the fires case; its element must exist in the description, so that an
empty result means the rule held back, not that it had nothing to look at. The edited descriptions are reasoned
over without validation: these tests are about the rules, not the shapes.

Edits: ("set", path, value), ("del", path) a key, ("add", section, element), ("drop", "section[id]") an element.
A path is `section[id].key.key`; `section[*]` is every element of the section.
"""

from __future__ import annotations

import io
import json
import re
from functools import cache

import pytest
from ruamel.yaml import YAML

from sortai.reasoner import resources
from sortai.reasoner.description import load_bytes
from sortai.reasoner.engine import infer
from sortai.reasoner.rules import load_rule_base

from .conftest import EXAMPLES

D, H, G, M, X, O = ("disaggregated-h100-l4", "homogeneous-h100", "mig-multitenant", "migration-onprem-to-cloud",
                    "mixed-vendor-pools", "oversubscribed-scaleout")
GB, HPA, LOOPS, MEASURED, MIGRATE_OK, MOE, OVER, P5, PCIE, LLMD = (
    "gb200-nvl72-moe", "hpa-descheduler", "loop-cascade-control", "measurement-only", "migration-equal-or-better",
    "moe-tp-across-domains", "over-provisioned-h100", "p5-instance-type", "tp-pcie-ethernet", "imported-llmd")

NO_BANDWIDTH = [("del", "links[kv-handoff-path].bandwidthGBps"), ("del", "links[kv-handoff-path].linkType")]
ALL_H100 = [("set", "nodes[mi300x-nodes].accelerator", "H100-SXM"), ("set", "nodes[gaudi2-nodes].accelerator", "H100-SXM")]
NO_SERVED = [("del", "workloads[document-qa].servedBy")]
NO_DEMAND = [("del", "workloads[document-qa].arrivalRateRps")]
SATURATED = [("set", "workloads[document-qa].arrivalRateRps", 100000)]
NO_HIDDEN = [("del", "models[llama-3.1-8b-instruct].hiddenSize"), ("del", "models[llama-3.1-8b-instruct].attentionHeads")]
NO_KV_DTYPE = [("del", "models[llama-3.1-8b-instruct].kvDtype")]
SEPARATED = [("set", "controlLoops[descheduler].timescaleMs", 600000)]  # 40× the HPA's 15 s: a cascade

# rule: (fires: example, edits, subject), (does not fire: example, edits, subject)
CASES = {
    # Derived quantities of models, accelerators, links, fabrics, nodes
    "Q01": ((D, [], "llama-3.1-8b-instruct"), (D, NO_KV_DTYPE, "llama-3.1-8b-instruct")),
    "Q02": ((D, [], "cat:H100-SXM"), (D, [], "cat:A10G")),  # the catalog publishes no bandwidth or BF16 figure for the A10G
    "Q03": ((D, [], "kv-handoff-path"), (D, NO_BANDWIDTH, "kv-handoff-path")),
    "Q04": ((D, [], "cluster-rdma-fabric"), (D, [("del", "fabrics[cluster-rdma-fabric].linkType")], "cluster-rdma-fabric")),
    "Q05": ((D, [], "h100-prefill-nodes"), (D, [("del", "nodes[h100-prefill-nodes].accelerator")], "h100-prefill-nodes")),
    "Q15": ((D, [], "h100-prefill-nodes"), (D, [("del", "nodes[h100-prefill-nodes].cluster")], "h100-prefill-nodes")),
    "Q17": ((H, [], "h100-nodes-rack-a"), (H, [("del", "nodes[h100-nodes-rack-a].rack")], "h100-nodes-rack-a")),
    "Q18": ((D, [], "llama-3.1-8b-instruct"), (D, [("del", "models[llama-3.1-8b-instruct].weightDtype")], "llama-3.1-8b-instruct")),
    "Q19": ((D, [], "llama-3.1-8b-instruct"), (D, NO_HIDDEN, "llama-3.1-8b-instruct")),
    "Q31": ((D, [], "h100-prefill-nodes"), (D, [("del", "nodes[h100-prefill-nodes].acceleratorsPerNode")], "h100-prefill-nodes")),
    "Q32": ((D, [], "h100-prefill-nodes"), (D, [("del", "nodes[h100-prefill-nodes].nic"),
                                                ("del", "fabrics[cluster-rdma-fabric].linkType")], "h100-prefill-nodes")),
    # Serving path and scope
    "P01": ((D, [], "h100-prefill"), (D, [("set", "workloads[document-qa].servedBy", ["l4-decode"])], "h100-prefill")),
    "P02": ((D, [], "prefill-to-decode-kv"), (D, NO_SERVED, "prefill-to-decode-kv")),
    "P03": ((D, [], "h100-prefill-nodes"), (D, NO_SERVED, "h100-prefill-nodes")),
    "P04": ((D, [], "pd-router"), (D, NO_SERVED, "pd-router")),
    "P05": ((M, [], "onprem-to-cloud-2025"), (M, [("del", "workloads[enterprise-assistant].servedBy")], "onprem-to-cloud-2025")),
    "P06": ((M, [], "cloud-autoscaler"), (M, [("del", "workloads[enterprise-assistant].servedBy")], "cloud-autoscaler")),
    "P07": ((D, [], "qa-inference-cluster"), (D, NO_SERVED, "qa-inference-cluster")),
    "P08": ((H, [], "h100-cluster"), (H, [("del", "workloads[assistant-chat].servedBy")], "h100-cluster")),
    "P09": ((X, [], "llama70b-mixed"), (X, ALL_H100, "llama70b-mixed")),
    "P10": ((D, [], "h100-prefill"), (D, [("set", "nodes[l4-decode-nodes].accelerator", "H100-SXM")], "h100-prefill")),
    "P11": ((D, [], "h100-prefill"), (D, [("set", "controlLoops[pd-router].governs", ["h100-prefill"])], "h100-prefill")),
    "P12": ((HPA, [], "descheduler"), (HPA, [("del", "controlLoops[descheduler].governs")], "descheduler")),
    # The serving model
    "Q06": ((D, [], "h100-prefill"), (D, [("del", "nodes[h100-prefill-nodes].acceleratorsPerNode")], "h100-prefill")),
    "Q07": ((X, [], "llama70b-mixed"), (D, [("set", "nodes[l4-decode-nodes].accelerator", "A10G")], "l4-decode")),
    "Q08": ((D, [], "h100-prefill"), (D, [("del", "models[llama-3.1-8b-instruct].weightDtype")], "h100-prefill")),
    "Q09": ((D, [], "l4-decode"), (D, [("set", "pools[l4-decode].role", "prefill")], "l4-decode")),
    "Q11": ((D, [], "l4-decode"), (D, NO_KV_DTYPE, "l4-decode")),
    "Q20": ((D, [], "l4-decode"), (D, [("del", "nodes[l4-decode-nodes].accelerator")], "l4-decode")),
    "Q21": ((D, [], "l4-decode"), (D, NO_KV_DTYPE, "l4-decode")),
    "Q22": ((D, [], "h100-prefill"), (D, [("del", "workloads[document-qa].promptTokensP50")], "h100-prefill")),
    "Q23": ((D, [], "h100-prefill"), (D, [("set", "pools[h100-prefill].role", "decode")], "h100-prefill")),
    "Q33": ((D, [], "l4-decode"), (D, [("del", "nodes[l4-decode-nodes].accelerator")], "l4-decode")),
    "Q44": ((D, [], "l4-decode"), (D, NO_HIDDEN, "l4-decode")),
    "Q45": ((LLMD, [], "pd-disagg-vllm-decode"),
            (LLMD, [("set", "measurements[kv-cache-usage-pd-disagg-vllm-decode-0].value", 50)], "pd-disagg-vllm-decode")),
    "Q46": ((M, [], "qwen72b-serving"), (M, [("set", "pools[qwen72b-serving].hostedOn", ["onprem-h100-nodes"])], "qwen72b-serving")),
    "W02": ((LLMD, [], "pd-disagg-vllm-decode"),
            (LLMD, [("set", "measurements[kv-cache-usage-pd-disagg-vllm-decode-0].value", 50)], "pd-disagg-vllm-decode")),
    "Q34": ((O, [], "llama405b-serving"), (O, [("del", "models[llama-3.1-405b-instruct].hiddenSize"),
                                               ("del", "models[llama-3.1-405b-instruct].attentionHeads")], "llama405b-serving")),
    # Demand and capacity
    "Q24": ((D, [], "h100-prefill"), (D, NO_DEMAND, "h100-prefill")),
    "Q25": ((D, [], "l4-decode"), (D, [("set", "pools[l4-decode].role", "prefill")], "l4-decode")),
    "Q26": ((D, [], "l4-decode"), (D, NO_DEMAND, "l4-decode")),
    "Q27": ((GB, [], "r1-serving"), (H, [], "llama70b-serving")),  # a dense model: no experts to count
    "Q28": ((D, [], "l4-decode"), (D, SATURATED, "l4-decode")),
    "Q29": ((D, [], "l4-decode"), (D, NO_DEMAND, "l4-decode")),
    "Q30": ((D, [], "h100-prefill"), (D, NO_DEMAND, "h100-prefill")),
    # KV path
    "Q12": ((D, [], "prefill-to-decode-kv"), (D, NO_BANDWIDTH, "prefill-to-decode-kv")),
    "Q13": ((D, [], "prefill-to-decode-kv"), (D, [("del", "workloads[document-qa].promptTokensP50")], "prefill-to-decode-kv")),
    "Q14": ((D, [], "prefill-to-decode-kv"), (D, NO_KV_DTYPE, "prefill-to-decode-kv")),
    "Q37": ((D, [], "prefill-to-decode-kv"), (D, NO_BANDWIDTH, "prefill-to-decode-kv")),
    # Migration hosts
    "Q16": ((M, [], "onprem-to-cloud-2025"), (M, [("del", "migrations[onprem-to-cloud-2025].before")], "onprem-to-cloud-2025")),
    "Q35": ((M, [], "onprem-to-cloud-2025"), (M, [("del", "migrations[onprem-to-cloud-2025].after"),  # not yet cut over
                                                  ("set", "pools[qwen72b-serving].hostedOn", ["onprem-h100-nodes"])],
                                              "onprem-to-cloud-2025")),
    # Predictions and measurements
    "Q36": ((D, [], "ttft-p99"), (D, [("del", "measurements[ttft-p99].unit")], "ttft-p99")),
    "Q38": ((D, [], "document-qa"), (D, [("set", "workloads[document-qa].servedBy", ["l4-decode"])], "document-qa")),
    "Q39": ((D, [], "document-qa"), (D, SATURATED, "document-qa")),
    "Q40": ((D, [], "ttft-p99"), (D, [("del", "workloads[document-qa].slo.ttftMs")], "ttft-p99")),
    "Q41": ((D, [], "kv-transfer-p99"), (D, NO_BANDWIDTH, "kv-transfer-p99")),
    "Q42": ((D, [], "ttft-p99"), (D, [("set", "measurements[ttft-p99].percentile", 90)], "ttft-p99")),
    "Q43": ((H, [], "tpot-p99"), (H, [("set", "workloads[assistant-chat].arrivalRateRps", 100000)], "tpot-p99")),
    # 10 ms for a 4.2 GB KV cache over 12.5 GB/s (at least 335.5 ms)
    "W01": ((D, [("set", "measurements[kv-transfer-p99].value", 10)], "kv-transfer-p99"), (D, [], "kv-transfer-p99")),
    # Conditions: accelerator heterogeneity
    "C01": ((X, [], "llama70b-mixed"), (X, ALL_H100, "llama70b-mixed")),
    "C02": ((X, [], "unified-batch-scheduler"), (X, ALL_H100, "unified-batch-scheduler")),
    "C03": ((X, [], "llama70b-mixed"), (X, [("set", "nodes[mi300x-nodes].accelerator", "H200-SXM"),
                                           ("set", "nodes[gaudi2-nodes].accelerator", "H200-SXM")], "llama70b-mixed")),
    "C04": ((D, [], "l4-decode"), (D, [("set", "workloads[document-qa].slo.tpotMs", 200)], "l4-decode")),
    "C05": ((D, [("set", "workloads[document-qa].promptTokensP99", 64000)], "l4-decode"), (D, [], "l4-decode")),
    "C06": ((D, [], "prefill-to-decode-kv"), (D, [("set", "nodes[l4-decode-nodes].accelerator", "H100-SXM")], "prefill-to-decode-kv")),
    # Conditions: network and placement
    "C07": ((D, [], "prefill-to-decode-kv"), (D, [("set", "workloads[document-qa].slo.ttftMs", 5000)], "prefill-to-decode-kv")),
    "C08": ((D, [("set", "links[kv-handoff-path].crossRegion", True)], "prefill-to-decode-kv"), (D, [], "prefill-to-decode-kv")),
    "C09": ((D, [("set", "links[kv-handoff-path].linkType", "Ethernet-100G")], "prefill-to-decode-kv"), (D, [], "prefill-to-decode-kv")),
    "C10": ((O, [], "llama405b-serving"), (O, [("set", "pools[llama405b-serving].tensorParallel", 8)], "llama405b-serving")),
    "C20": ((MOE, [], "r1-serving"), (MOE, [("set", "pools[r1-serving].tensorParallel", 8)], "r1-serving")),
    "C21": ((PCIE, [], "assistant-70b"), (PCIE, [("set", "pools[assistant-70b].tensorParallel", 1)], "assistant-70b")),
    # Conditions: virtualization
    "C11": ((G, [], "h100-vgpu-nodes"), (G, [("set", "nodes[h100-vgpu-nodes].virtualization.sharesPerGPU", 1)], "h100-vgpu-nodes")),
    "C12": ((G, [], "a100-mig-nodes"), (G, [("set", "nodes[a100-mig-nodes].virtualization.sharedBy", ["retail-bank"])], "a100-mig-nodes")),
    "C13": ((G, [], "h100-vgpu-nodes"), (G, [("del", "nodes[h100-vgpu-nodes].virtualization.hypervisor")], "h100-vgpu-nodes")),
    "C14": ((G, [], "insurer-claims-8b"), (G, [("set", "nodes[a100-small-slice-nodes].virtualization.migProfile", "3g.40gb")], "insurer-claims-8b")),
    # Conditions: migration
    "C15": ((M, [], "onprem-to-cloud-2025"), (M, [("set", "nodes[cloud-h100-nodes].nic", "RoCE-400G")], "onprem-to-cloud-2025")),
    "C16": ((M, [], "onprem-to-cloud-2025"), (M, [("set", "environments[cloud-region].storageLocality", "local-nvme")], "onprem-to-cloud-2025")),
    "C17": ((M, [], "onprem-to-cloud-2025"), (M, [("set", "nodes[cloud-h100-nodes].virtualization.gpu", "bare-metal")], "onprem-to-cloud-2025")),
    "C18": ((M, [("set", "nodes[cloud-h100-nodes].accelerator", "H200-SXM")], "onprem-to-cloud-2025"), (M, [], "onprem-to-cloud-2025")),
    "C22": ((M, [], "onprem-to-cloud-2025"), (M, [("del", "migrations[onprem-to-cloud-2025].introduces")], "onprem-to-cloud-2025")),
    # Conditions: control loops
    "C19": ((HPA, [], "descheduler"), (HPA, SEPARATED, "descheduler")),
    # Serving findings
    "F01": ((D, [], "document-qa"), (D, [("set", "workloads[document-qa].slo.ttftMs", 100000)], "document-qa")),
    "F02": ((H, [("set", "workloads[assistant-chat].slo.tpotMs", 4)], "llama70b-serving"), (H, [], "llama70b-serving")),
    "F03": ((G, [], "insurer-underwriting-70b"), (G, [("set", "workloads[insurer-underwriting].slo.tpotMs", 200)], "insurer-underwriting-70b")),
    "F04": ((O, [("set", "workloads[public-api].arrivalRateRps", 400)], "llama405b-serving"), (O, [], "llama405b-serving")),
    "F05": ((OVER, [], "llama70b-serving"), (OVER, [("set", "workloads[assistant-chat].arrivalRateRps", 230)], "llama70b-serving")),
    "F06": ((H, [("set", "workloads[assistant-chat].promptTokensP99", 400000)], "llama70b-serving"), (H, [], "llama70b-serving")),
    "F07": ((H, [("set", "workloads[assistant-chat].slo.p99LatencyMs", 10000)], "assistant-chat"), (H, [], "assistant-chat")),
    "F08": ((D, [], "document-qa"), (D, [("set", "measurements[ttft-p99].value", 1000)], "document-qa")),
    # Modes
    "M01": ((HPA, [], "descheduler"), (HPA, SEPARATED, "descheduler")),
    "S01": ((X, [], "llama70b-mixed"), (X, [("set", "measurements[tpot-p99].value", 50)], "llama70b-mixed")),
    "S02": ((MEASURED, [], "chat"), (MEASURED, [("set", "measurements[dram-active].value", 70)], "chat")),
    "S03": ((O, [], "llama405b-serving"), (O, [("set", "measurements[throughput-at-1024].value", 70000)], "llama405b-serving")),
    "S04": ((M, [("set", "measurements[ttft-p99-before].measuredIn", "cloud-region")], "qwen72b-serving"), (M, [], "qwen72b-serving")),
    "S05": ((M, [], "onprem-to-cloud-2025"), (M, [("set", "migrations[onprem-to-cloud-2025].codeChange", True)], "onprem-to-cloud-2025")),
    "S06": ((X, [], "llama70b-mixed"), (X, [("drop", "measurements[tpot-p99]")], "llama70b-mixed")),
    "S07": ((D, [], "prefill-to-decode-kv"), (D, [("set", "measurements[kv-transfer-p99].value", 500)], "prefill-to-decode-kv")),
    # Diagnoses
    "D08": ((HPA, [], "descheduler"), (HPA, SEPARATED, "descheduler")),
    "D01": ((HPA, [], "descheduler"), (HPA, SEPARATED, "descheduler")),
    "D09": ((HPA, [], "descheduler"), (HPA, SEPARATED, "descheduler")),
    "D10": ((HPA, [], "descheduler"), (HPA, SEPARATED, "descheduler")),
    "D02": ((HPA, [], "descheduler"), (HPA, SEPARATED, "descheduler")),
    "D03": ((HPA, [], "descheduler"), (HPA, SEPARATED, "descheduler")),
    "D04": ((HPA, [], "descheduler"), (HPA, SEPARATED, "descheduler")),
    "D05": ((D, [], "prefill-to-decode-kv"), (D, NO_SERVED, "prefill-to-decode-kv")),  # LAD and MPI stay, on no serving path
    "D06": ((M, [], "onprem-to-cloud-2025"), (M, [("set", "migrations[onprem-to-cloud-2025].codeChange", True)], "onprem-to-cloud-2025")),
    "D07": ((HPA, [], "descheduler"), (X, [], "llama70b-mixed")),  # its conditions (C01, C03) involve nothing
}

# Rules that do not fire where they must: the finding, for the lead (the rules are not this file's to change).
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
        elif op == "drop":
            section, ident = _ITEM.match(path).groups()
            kept = [item for item in tree[section] if item["id"] != ident]
            assert len(kept) == len(tree[section]) - 1, path
            tree[section] = kept
        else:
            for node, key in _resolve(tree, path):
                assert op == "set" or key in node, f"{example}: {path} is not there to delete"
                if op == "set":
                    node[key] = value[0]
                else:
                    del node[key]
    buffer = io.StringIO()
    yaml.dump(tree, buffer)
    return buffer.getvalue().encode()


@cache
def _reasoned(example: str, edits_json: str):
    description = load_bytes(edited(example, json.loads(edits_json)), f"{example}.yaml")
    return description, infer(description)


def reasoned(example: str, edits):
    """The description and its reasoning; shared by every case with the same example and edits."""
    return _reasoned(example, json.dumps(edits))


def subject_iri(description, subject: str) -> str:
    return resources.CAT + subject[4:] if subject.startswith("cat:") else description.base + subject


def conclusions_about(rule_id: str, example: str, edits, subject: str) -> list:
    description, reasoning = reasoned(example, edits)
    iri = subject_iri(description, subject)
    return [t for t, derivations in reasoning.derivations.items()
            if any(d.rule.rule_id == rule_id for d in derivations)
            and (t.subject.value == iri or t.subject.value.startswith(iri + "/"))]


def element_exists(example: str, edits, subject: str) -> bool:
    description, _ = reasoned(example, edits)
    iri = subject_iri(description, subject)
    triples = resources.catalog_triples() if subject.startswith("cat:") else description.triples
    return any(t.subject.value == iri for t in triples)


def test_every_rule_has_a_case():
    assert sorted(CASES) == sorted(r.rule_id for r in load_rule_base().rules)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires(rule_id):
    example, edits, subject = CASES[rule_id][0]
    assert conclusions_about(rule_id, example, edits, subject), f"{rule_id} did not fire on {subject}"


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_does_not_fire_without_its_premise(rule_id):
    example, edits, subject = CASES[rule_id][1]
    assert element_exists(example, edits, subject), f"{subject} is not an element of the edited {example}"
    assert conclusions_about(rule_id, example, edits, subject) == []


def test_c02_holds_back_for_a_capacity_weighted_router_only():
    """A router that weights each class by its capacity does not treat them as one substrate; the batch
    scheduler over the same pool still does (it forms each batch on one replica's class)."""
    weighted = [("set", "controlLoops[request-router].capacityWeighted", True)]
    assert conclusions_about("C02", X, [], "request-router")
    assert conclusions_about("C02", X, weighted, "request-router") == []
    assert conclusions_about("C02", X, weighted, "unified-batch-scheduler")
