"""`sortai import k8s` on the real manifests of tests/artefacts/k8s (facts from tests/artefacts/README.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sortai.importers import merge
from sortai.importers.kubernetes import import_k8s
from sortai.reasoner.problems import InputError

from .conftest import ROOT

K8S = ROOT / "tests" / "artefacts" / "k8s"
KUBECTL = shutil.which("kubectl")


def imported(*names):
    return merge.merge([import_k8s([K8S / n for n in names])])


def pool(fragment, pool_id):
    found = fragment.get("pools", pool_id)
    assert found is not None, sorted(fragment.sections.get("pools", {}))
    return found


def codes(fragment, severity=None):
    return [p.code for p in fragment.problems if severity is None or p.severity == severity]


def test_k1_llmd_vllm_disaggregated_set():
    f = imported("llmd-pd-vllm-disaggregatedset.yaml")
    prefill, decode = pool(f, "pd-disagg-vllm-prefill"), pool(f, "pd-disagg-vllm-decode")
    assert (prefill.get("role"), prefill.get("tensorParallel"), prefill.get("replicas")) == ("prefill", 1, 1)
    assert (decode.get("role"), decode.get("tensorParallel"), decode.get("replicas")) == ("decode", 4, 1)
    assert prefill.get("pipelineParallel") is None and decode.get("pipelineParallel") is None
    assert f.get("nodes", "pd-disagg-vllm-prefill-nodes").get("acceleratorsPerNode") == 1
    assert f.get("nodes", "pd-disagg-vllm-decode-nodes").get("acceleratorsPerNode") == 4
    assert decode.origins["tensorParallel"].line == 198 and prefill.origins["tensorParallel"].line == 61
    model = f.get("models", "gpt-oss-120b")
    assert model.get("hubId") == "openai/gpt-oss-120b"
    assert (model.get("weightDtype"), model.get("kvDtype")) == ("mxfp4", "bf16")
    kv = f.elements("kvTransfers")[0]
    assert (kv.get("from"), kv.get("to")) == ("pd-disagg-vllm-prefill", "pd-disagg-vllm-decode")
    assert "NixlConnector" in kv.get("description") and "UCX" in kv.get("description")
    assert "nixlv2" in kv.get("description")  # the routing sidecar's --kv-connector
    # Absent: the GPU model (no selector, no Node labels) and the KV path's network.
    missing = {(p.element, p.code) for p in f.problems if p.severity == "violation"}
    assert ("pd-disagg-vllm-prefill-nodes", "missing-accelerator") in missing
    assert ("pd-disagg-vllm-decode-nodes", "missing-accelerator") in missing
    assert (kv.id, "missing") in missing


@pytest.mark.parametrize("name,tp,nodes,role_how", [
    ("dynamo-vllm-disagg-planner.yaml", None, 1, "subComponentType"),
    ("dynamo-vllm-disagg-multinode.yaml", 2, 2, None),
])
def test_k8_k9_dynamo(name, tp, nodes, role_how):
    f = imported(name)
    pools = {p.get("role"): p for p in f.elements("pools")}
    assert set(pools) == {"prefill", "decode"}
    for p in pools.values():
        assert p.get("tensorParallel") == tp and p.get("replicas") == 1
        assert f.get("models", p.get("model")).get("hubId") == "Qwen/Qwen3-0.6B"
        hosts = f.get("nodes", p.get("hostedOn")[0])
        assert (hosts.get("count"), hosts.get("acceleratorsPerNode")) == (nodes, 1)
    if role_how:
        assert role_how in " ".join(pools["decode"].comments["role"])
    else:  # K9: prefill from --is-prefill-worker, decode by elimination
        assert "--is-prefill-worker" in " ".join(pools["prefill"].comments["role"])
        assert "elimination" in " ".join(pools["decode"].comments["role"])
    if "planner" in name:
        planner = f.get("controlLoops", "vllm-disagg-planner-planner")
        assert (planner.get("loopKind"), planner.get("timescaleMs")) == ("autoscaler", 60000)
        assert planner.get("actuates") == ["replica-count"] and len(planner.get("governs")) == 2
        assert "planner-profile-data" in planner.get("description")


def test_k10_kserve_llmisvc():
    f = imported("kserve-llmisvc-pd-qwen2-7b-gpu.yaml")
    decode, prefill = pool(f, "qwen2-7b-instruct-pd-decode"), pool(f, "qwen2-7b-instruct-pd-prefill")
    assert (decode.get("role"), decode.get("replicas")) == ("decode", 1)
    assert (prefill.get("role"), prefill.get("replicas")) == ("prefill", 2)
    assert decode.get("tensorParallel") is None
    assert f.get("models", decode.get("model")).get("hubId") == "Qwen/Qwen2.5-7B-Instruct"
    kv = f.elements("kvTransfers")[0]
    assert "NixlConnector" in kv.get("description") and "kv_producer" in kv.get("description")
    nodes = f.get("nodes", "qwen2-7b-instruct-pd-prefill-nodes")
    assert nodes.get("nicsPerNode") == 1 and nodes.meta["networks"] == "roce-p2"
    router = f.get("controlLoops", "qwen2-7b-instruct-pd-scheduler")
    assert router.get("loopKind") == "request-router" and router.get("timescaleMs") is None
    assert any(p.element == router.id and p.key == "timescaleMs" for p in f.problems)


def test_k11_gke_deployment_l4():
    f = imported("gke-vllm-gemma-2-27b-it-l4-tp4.yaml")
    serve = pool(f, "vllm-gemma-deployment")
    assert (serve.get("role"), serve.get("tensorParallel"), serve.get("replicas")) == ("colocated", 4, 1)
    nodes = f.get("nodes", serve.get("hostedOn")[0])
    assert (nodes.get("accelerator"), nodes.get("acceleratorsPerNode")) == ("L4", 4)
    assert f.get("models", serve.get("model")).get("hubId") == "google/gemma-2-27b-it"  # via $(MODEL_ID)
    assert serve.origins["model"].line == 57  # the env line that states the model id
    assert f.elements("environments")[0].get("provider") == "gcp"
    assert "missing-accelerator" not in codes(f)


def test_k12_production_stack_values_gpu_only_in_comments():
    f = imported("production-stack-values-v100-tp4.yaml")
    serve = pool(f, "qwen14b")
    assert (serve.get("tensorParallel"), serve.get("replicas"), serve.get("gpuMemoryUtilization")) == (4, 1, 0.9)
    model = f.get("models", serve.get("model"))
    assert (model.get("hubId"), model.get("weightDtype")) == ("Qwen/Qwen2.5-14B-Instruct", "fp16")
    nodes = f.get("nodes", serve.get("hostedOn")[0])
    assert nodes.get("acceleratorsPerNode") == 4 and nodes.meta["hostnames"] == ["gpu-node-02"]
    assert not nodes.has("accelerator")  # "V100" appears only in comments
    assert "missing-accelerator" in codes(f, "violation")


def test_k13_keda_scaled_object_and_binding():
    alone = imported("production-stack-keda-scaledobject.yaml")
    loop = alone.get("controlLoops", "vllm-scaledobject")
    assert (loop.get("loopKind"), loop.get("timescaleMs"), loop.get("observes"), loop.get("actuates")) == (
        "autoscaler", 15000, ["queue-depth"], ["replica-count"])
    assert any(p.element == loop.id and p.code == "unmatched" for p in alone.problems)


def test_k14_gfd_node_labels_excerpt():
    f = imported("gfd-node-labels-excerpt.txt")
    node = f.elements("nodes")[0]
    assert (node.get("accelerator"), node.get("acceleratorsPerNode"), node.get("count")) == ("A100-40GB-SXM", 1, 1)
    assert not node.has("virtualization")  # no MIG labels
    skipped = [p for p in f.problems if p.code == "excerpt"]
    assert {p.location.line for p in skipped} >= {1, 106 - 99, 122 - 99}  # prompt and the two '...' elisions
    assert any(p.code == "not-used" and "DGX-2H" in p.message for p in f.problems)  # gpu.machine is a trap


def test_kustomize_set_as_copied_reports_exactly_what_is_missing():
    with pytest.raises(InputError) as caught:
        import_k8s([K8S / "llmd-pd-sglang" / "aws"])
    problems = caught.value.problems
    where = {(Path(p.location.file).name, p.location.line) for p in problems}
    assert ("kustomization.yaml", 15) in where and ("kustomization.yaml", 8) in where
    assert any("disaggregatedset-schema.json" in p.message for p in problems)
    assert sum("components:" in p.message for p in problems) == 2


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (Debian package kubectl; .ci/run installs it)")
def test_kustomize_set_rendered_by_kubectl(tmp_path):
    """The copied tree completed by tests/artefacts/kustomize-completion/ (the two components and the CRD schema
    that were not copied, re-created for this test) rendered by the real kubectl kustomize."""
    guide = tmp_path / "guides" / "pd" / "sglang"
    shutil.copytree(K8S / "llmd-pd-sglang", guide)
    completion = ROOT / "tests" / "artefacts" / "kustomize-completion"
    shutil.copytree(completion / "recipes", tmp_path / "recipes")
    shutil.copy(completion / "disaggregatedset-schema.json", guide / "aws")
    base = guide / "base" / "kustomization.yaml"
    base.chmod(0o644)
    base.write_text(base.read_text().replace("../../../../../recipes", "../../../../recipes"))
    f = merge.merge([import_k8s([guide / "aws"])])
    prefill, decode = pool(f, "pd-disagg-sglang-prefill"), pool(f, "pd-disagg-sglang-decode")
    assert (prefill.get("tensorParallel"), prefill.get("replicas")) == (4, 2)  # after patch-prefill.yaml
    assert (decode.get("tensorParallel"), decode.get("replicas")) == (2, 2)  # from the base
    nodes = {n.id: n for n in f.elements("nodes")}
    assert nodes["pd-disagg-sglang-prefill-nodes"].get("acceleratorsPerNode") == 4
    assert nodes["pd-disagg-sglang-decode-nodes"].get("acceleratorsPerNode") == 2
    total = sum(n.get("count") * n.get("acceleratorsPerNode") for n in nodes.values() if n.meta.get("placeholder"))
    assert total == 12
    for n in ("pd-disagg-sglang-prefill-nodes", "pd-disagg-sglang-decode-nodes"):
        assert nodes[n].get("instanceType") == "p5en.48xlarge" and nodes[n].get("nicsPerNode") == 8
    kv = f.elements("kvTransfers")[0]
    assert "LIBFABRIC" in kv.get("description") and "nixl" in kv.get("description")
    assert "sglang" in kv.get("description")  # the decode sidecar's --kv-connector
    # Traced to the files of the tree, not to the rendered stream.
    assert (Path(prefill.origins["tensorParallel"].file).name, prefill.origins["tensorParallel"].line) == (
        "patch-prefill.yaml", 44)
    assert (Path(decode.origins["tensorParallel"].file).name, decode.origins["tensorParallel"].line) == (
        "disaggregatedset.yaml", 175)
    assert nodes["pd-disagg-sglang-prefill-nodes"].origins["instanceType"].line == 49  # the inline patch
    assert "engine sglang" in prefill.get("description")


def test_without_kubectl_a_kustomization_says_how_to_render(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    (tmp_path / "kustomization.yaml").write_text("resources: [deploy.yaml]\n")
    (tmp_path / "deploy.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(InputError) as caught:
        import_k8s([tmp_path])
    assert "kubectl kustomize" in caught.value.problems[0].fix


def test_nothing_is_silently_dropped():
    """Every object of every manifest is a pool, loop, node, or named in an 'ignored' note."""
    f = merge.merge([import_k8s(sorted(p for p in K8S.glob("*") if p.is_file()))])
    ignored = " ".join(p.message for p in f.problems if p.code == "ignored")
    assert "Service llm-service" in ignored
    pools = {p.id for p in f.elements("pools")}
    assert len(pools) == 10  # K1 2, K8 2, K9 2, K10 2, K11 1, K12 1
    assert json.dumps([p.to_json() for p in f.problems])  # every problem renders
