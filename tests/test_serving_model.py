"""The serving model against hand-computed values (a table of public model configs) and against a plain-Python
re-implementation of its formulas (tests/serving_formulas.py) on every shipped example.

Expected numbers are arithmetic on published figures — model configs (Hugging Face config.json), the catalog's
datasheet figures read straight from the catalog file — never the rules' own output.
"""

from __future__ import annotations

import io
import math
from functools import cache

import pyoxigraph as ox
import pytest
from ruamel.yaml import YAML

from sortai.reasoner import resources
from sortai.reasoner.description import load_bytes, load_file
from sortai.reasoner.engine import infer

from .conftest import SCENARIOS
from .serving_formulas import BYTES, Device, Interconnect, Model, Pool, all_reduce_gb

SAI = resources.SAI


@cache
def catalog(entry: str) -> dict[str, float]:
    """Numeric figures of a catalog entry, read from the catalog modules (not from anything the rules derive)."""
    figures = {}
    for t in resources.catalog_triples():
        if t.subject.value == resources.CAT + entry and isinstance(t.object, ox.Literal):
            try:
                figures[t.predicate.value[len(SAI):]] = float(t.object.value)
            except ValueError:
                pass
    return figures


def whole_memory_gb(accelerator: str) -> float:
    figures = catalog(accelerator)
    if "reportedMemoryMiB" in figures:
        return round(figures["reportedMemoryMiB"] * 1048576 / 1e9, 3)
    return figures["hbmCapacityGB"]


def device(accelerator: str, dtype: str = "bf16") -> Device:
    f = catalog(accelerator)
    tflops = f["denseFP8TFLOPS"] if dtype == "fp8" and "denseFP8TFLOPS" in f else f["denseBF16TFLOPS"]
    return Device(whole_memory_gb(accelerator), f["memoryBandwidthGBps"], tflops)


def describe(model: dict, *, accelerator="H100-SXM", per_node=8, count=1, pool: dict | None = None,
             workload: dict | None = None, virtualization: dict | None = None) -> str:
    node = {"id": "gpus", "cluster": "c1", "count": count, "accelerator": accelerator, "acceleratorsPerNode": per_node,
            "nic": "IB-NDR", "nicsPerNode": 8}
    if virtualization:
        node["virtualization"] = virtualization
    tree = {
        "id": "case",
        "environments": [{"id": "dc", "kind": "on-prem"}],
        "clusters": [{"id": "c1", "environment": "dc", "fabric": "ib"}],
        "fabrics": [{"id": "ib", "linkType": "IB-NDR", "oversubscription": 1}],
        "nodes": [node],
        "models": [{"id": "m", **model}],
        "pools": [{"id": "p", "role": "colocated", "model": "m", "hostedOn": ["gpus"], **(pool or {})}],
        "workloads": [{"id": "w", "servedBy": ["p"], "promptTokensP50": 1000, "promptTokensP99": 4000,
                       "outputTokensP50": 200, "outputTokensP99": 800, **(workload or {})}],
    }
    buffer = io.StringIO()
    YAML().dump(tree, buffer)
    return buffer.getvalue()


def derived(text: str, subject: str = "p") -> dict[str, float]:
    description = load_bytes(text.encode(), "case.yaml")
    reasoning = infer(description)
    node = ox.NamedNode(description.base + subject)
    values = {}
    for q in reasoning.store.quads_for_pattern(node, None, None, reasoning.inferred_graph):
        if isinstance(q.object, ox.Literal) and q.predicate.value.startswith(SAI):
            try:
                values[q.predicate.value[len(SAI):]] = float(q.object.value)
            except ValueError:
                values[q.predicate.value[len(SAI):]] = q.object.value
    return values


# Public configs (Hugging Face config.json): layers, KV heads, head dim, hidden size, query heads.
LLAMA_8B = {"parametersB": 8.03, "layers": 32, "kvHeads": 8, "headDim": 128, "hiddenSize": 4096, "attentionHeads": 32,
            "weightDtype": "bf16", "kvDtype": "bf16"}
LLAMA_70B = {"parametersB": 70.6, "layers": 80, "kvHeads": 8, "headDim": 128, "hiddenSize": 8192, "attentionHeads": 64,
             "weightDtype": "bf16", "kvDtype": "bf16"}
LLAMA_405B = {"parametersB": 405, "layers": 126, "kvHeads": 8, "headDim": 128, "hiddenSize": 16384, "attentionHeads": 128,
              "weightDtype": "bf16", "kvDtype": "bf16"}
MIXTRAL = {"parametersB": 46.7, "activeParametersB": 12.9, "layers": 32, "kvHeads": 8, "headDim": 128, "hiddenSize": 4096,
           "attentionHeads": 32, "experts": 8, "expertsPerToken": 2, "weightDtype": "bf16", "kvDtype": "bf16"}
DEEPSEEK_V3 = {"parametersB": 671, "activeParametersB": 37, "layers": 61, "kvHeads": 128, "headDim": 128, "hiddenSize": 7168,
               "attentionHeads": 128, "experts": 256, "expertsPerToken": 8, "attention": "mla", "kvLatentDim": 576,
               "weightDtype": "fp8", "kvDtype": "bf16"}
GPT_OSS_120B = {"parametersB": 116.8, "activeParametersB": 5.1, "layers": 36, "kvHeads": 8, "headDim": 64, "hiddenSize": 2880,
                "attentionHeads": 64, "experts": 128, "expertsPerToken": 4, "weightDtype": "mxfp4", "kvDtype": "bf16"}
QWEN_7B = {"parametersB": 7.62, "layers": 28, "kvHeads": 4, "headDim": 128, "hiddenSize": 3584, "attentionHeads": 28,
           "weightDtype": "bf16", "kvDtype": "bf16"}


def test_llama_8b_on_one_h100():
    got = derived(describe(LLAMA_8B, pool={"tensorParallel": 1}))
    bw = catalog("H100-SXM")["memoryBandwidthGBps"]
    assert got["weightBytesPerDeviceGB"] == pytest.approx(8.03 * 2)
    assert got["kvBytesPerTokenPerDevice"] == 2 * 32 * 8 * 128 * 2  # 131072 bytes
    assert got["decodeStepFloorMs"] == pytest.approx(16.06 / bw * 1000, abs=0.001)
    # 92 % of the device's memory (vLLM's default), less the weights and the activation reserve (1 GB + 4 %),
    # holds KV cache.
    memory = whole_memory_gb("H100-SXM")
    free = 0.92 * memory - 16.06 - (1 + 0.04 * memory)
    assert got["kvCapacityGBPerDevice"] == pytest.approx(free, abs=0.001)
    assert got["kvCapacityTokens"] == math.floor(free * 1e9 / 131072)


def test_llama_8b_prefill_of_a_32k_prompt():
    got = derived(describe(LLAMA_8B, pool={"tensorParallel": 1},
                           workload={"promptTokensP50": 8000, "promptTokensP99": 32000}))
    # 2 FLOPs per parameter and token, plus causal attention 2 × layers × n² × (32 heads × 128).
    flop = 2 * 8.03e9 * 32000 + 2 * 32 * 32000 ** 2 * 4096
    assert got["prefillTFLOPP99"] == pytest.approx(flop / 1e12, abs=0.01)
    peak = catalog("H100-SXM")["denseBF16TFLOPS"]
    assert got["prefillTimeP99Ms"] == pytest.approx(flop / (peak * 1e12 * 0.5) * 1000, abs=0.01)
    assert got["prefillFloorP99Ms"] == pytest.approx(flop / (peak * 1e12) * 1000, abs=0.01)


def test_llama_70b_tp8_shards_weights_and_kv_heads():
    got = derived(describe(LLAMA_70B, pool={"tensorParallel": 8}))
    assert got["weightBytesPerDeviceGB"] == pytest.approx(141.2 / 8, abs=0.001)
    assert got["kvShards"] == 8
    assert got["kvBytesPerTokenPerDevice"] == 2 * 80 * 8 * 128 * 2 / 8  # 40960
    assert got["decodeStepFloorMs"] == pytest.approx(141.2 / 8 / catalog("H100-SXM")["memoryBandwidthGBps"] * 1000, abs=0.001)


def test_llama_405b_tp16_keeps_one_kv_head_per_rank():
    """TP 16 over 8 KV heads replicates the heads: each GPU holds a whole head, 1/8 of the cache, not 1/16."""
    got = derived(describe(LLAMA_405B, count=2, pool={"tensorParallel": 16},
                           workload={"promptTokensP50": 3000, "promptTokensP99": 16000}))
    assert got["kvShards"] == 8
    per_gpu = 2 * 126 * 8 * 128 * 2 * 16000 / 8 / 1e9
    assert got["kvBytesPerSequenceGB"] == pytest.approx(per_gpu, abs=0.001)
    assert per_gpu == pytest.approx(1.03, abs=0.01)


def test_pipeline_parallelism_does_not_shorten_the_decode_floor():
    got = derived(describe(LLAMA_70B, pool={"tensorParallel": 2, "pipelineParallel": 4}))
    bw = catalog("H100-SXM")["memoryBandwidthGBps"]
    assert got["weightBytesPerDeviceGB"] == pytest.approx(141.2 / 8, abs=0.001)
    assert got["decodeStepFloorMs"] == pytest.approx(141.2 / 2 / bw * 1000, abs=0.001)  # ÷ TP, not ÷ (TP × PP)
    assert got["kvBytesPerTokenPerDevice"] == 2 * 80 * 8 * 128 * 2 / (2 * 4)


def test_mig_slice_gets_its_share_of_bandwidth():
    """1g.10gb holds 1/8 of the A100's memory slices, so 1/8 of 2039 GB/s: an 8 GB model's floor is ~31 ms."""
    model = {**LLAMA_8B, "weightDtype": "fp8"}
    got = derived(describe(model, accelerator="A100-80GB-SXM", pool={"tensorParallel": 1},
                           virtualization={"gpu": "mig", "migProfile": "1g.10gb"}), "gpus")
    share = catalog("1g.10gb").get("migMemoryFraction", 10 / 80)
    assert got["deviceBandwidthGBps"] == pytest.approx(2039 * share, abs=0.001)
    assert got["deviceMemoryGB"] == 10
    pool = derived(describe(model, accelerator="A100-80GB-SXM", pool={"tensorParallel": 1},
                            virtualization={"gpu": "mig", "migProfile": "1g.10gb"}))
    assert pool["decodeStepFloorMs"] == pytest.approx(8.03 / (2039 * share) * 1000, abs=0.01)
    assert pool["decodeStepFloorMs"] == pytest.approx(31.5, abs=0.2)


def test_mixtral_reads_its_active_experts():
    got = derived(describe(MIXTRAL, pool={"tensorParallel": 2}))
    expert = (46.7 - 12.9) / (8 - 2) * 2
    shared = 12.9 * 2 - 2 * expert
    assert got["weightBytesPerTokenGB"] == pytest.approx(shared / 2 + 2 * expert / 2, abs=0.001)  # = 12.9 GB
    assert got["weightBytesPerDeviceGB"] == pytest.approx(46.7 * 2 / 2, abs=0.002)


def test_deepseek_v3_mla_cache_is_one_latent_per_token_held_by_every_rank():
    got = derived(describe(DEEPSEEK_V3, accelerator="H200-SXM", pool={"tensorParallel": 8}))
    assert got["kvShards"] == 1
    assert got["kvBytesPerTokenPerDevice"] == 61 * 576 * 2  # 70272 bytes: K and V share the latent
    expert = (671 - 37) / (256 - 8) * 1
    shared = 37 - 8 * expert
    assert got["weightBytesPerTokenGB"] == pytest.approx(shared / 8 + 8 * expert / 8, abs=0.002)
    assert got["decodeStepFloorMs"] == pytest.approx((shared / 8 + expert) / catalog("H200-SXM")["memoryBandwidthGBps"] * 1000,
                                                     abs=0.002)


def test_moe_batch_reads_the_experts_its_tokens_touch():
    got = derived(describe(DEEPSEEK_V3, accelerator="H200-SXM", pool={"tensorParallel": 8, "maxBatchSize": 32},
                           workload={"promptTokensP50": 500, "promptTokensP99": 1000, "outputTokensP50": 50,
                                     "outputTokensP99": 100}))
    assert got["capacityBatch"] == 32
    assert got["expertsReadPerStepAtCapacity"] == pytest.approx(256 * (1 - (1 - 8 / 256) ** 32), abs=0.05)  # 163.3


def test_gpt_oss_mxfp4_weights():
    got = derived(describe(GPT_OSS_120B, pool={"tensorParallel": 1}))
    assert got["weightBytesPerDeviceGB"] == pytest.approx(116.8 * 0.53125, abs=0.002)
    assert got["kvBytesPerTokenPerDevice"] == 2 * 36 * 8 * 64 * 2


def test_gpt_oss_sliding_window_layers_attend_to_their_window_only():
    """gpt-oss-120b alternates full and 128-token sliding-window layers (config.json layer_types): at a 64k prompt the
    windowed half adds almost no attention, so prefill is about a third cheaper than 36 full layers would be."""
    windowed = dict(GPT_OSS_120B, slidingWindow=128, slidingWindowLayers=18)
    prompt = {"promptTokensP50": 1000, "promptTokensP99": 64000, "outputTokensP50": 1000}
    got = derived(describe(windowed, pool={"tensorParallel": 1}, workload=prompt))
    width = 64 * 64
    full = 18 * 64000 ** 2
    sliding = 18 * (2 * 64000 * 128 - 128 ** 2)  # Σ min(i, 128) scores, ×2
    flop = 2 * 5.1e9 * 64000 + 2 * (full + sliding) * width
    assert got["prefillTFLOPP99"] == pytest.approx(flop / 1e12, abs=0.01)
    everywhere = derived(describe(GPT_OSS_120B, pool={"tensorParallel": 1}, workload=prompt))
    assert everywhere["prefillTFLOPP99"] == pytest.approx((2 * 5.1e9 * 64000 + 2 * 36 * 64000 ** 2 * width) / 1e12, abs=0.01)
    # decode: a token attends to 1,500 keys in a full layer (context = 1,000 + 1,000 / 2) and 128 in a windowed one
    peak = catalog("H100-SXM")["denseBF16TFLOPS"]
    gflop = 2 * 5.1 + 4 * (18 * 1500 + 18 * 128) * width / 1e9
    assert got["decodeComputeMsPerSequence"] == pytest.approx(gflop / (peak * 0.5), abs=1e-5)
    # the KV cache is still counted for every layer and token (conservative: vLLM's hybrid manager keeps the window)
    assert got["kvBytesPerTokenPerDevice"] == 2 * 36 * 8 * 64 * 2


def test_gqa_tp_above_kv_heads():
    got = derived(describe(QWEN_7B, pool={"tensorParallel": 8}))
    assert got["kvShards"] == 4
    assert got["kvBytesPerTokenPerDevice"] == 2 * 28 * 4 * 128 * 2 / 4


def test_tensor_parallel_over_two_hgx_nodes_crosses_the_scale_up_domain():
    got = derived(describe(LLAMA_405B, count=2, pool={"tensorParallel": 16}))
    assert got["scaleUpDomainAccelerators"] == 8
    assert got["tensorParallelCrossesScaleUp"] == "true"
    tokens = got["collectiveTokens"]
    model = Model(405, 126, 8, 128, "bf16", "bf16", hidden=16384)
    nvlink = catalog("H100-SXM")["scaleUpBandwidthGBps"]
    nic = catalog("IB-NDR")["bandwidthGBps"]  # 8 NICs for 8 GPUs: one NDR port each
    # 2 all-reduces per layer, 60 µs each across nodes, 20 µs inside an NVLink domain (our calibration).
    # Across the two nodes: reduce among each node's 8 ranks over NVLink, then exchange between the 2 nodes over
    # all 8 NICs of a node at once (2 × 1/2 of the message through 8 × 50 GB/s).
    per_token_bytes = 2 * 126 * 16384 * 2  # two all-reduces per layer of one token's bf16 activation
    intra = per_token_bytes * 2 * 7 / 8 / (nvlink * 1e9)
    inter = per_token_bytes * 2 * 1 / 2 / (8 * nic * 1e9)
    across = 2 * 126 * 60 / 1000 + tokens * (intra + inter) * 1000
    inside = 2 * 126 * 20 / 1000 + all_reduce_gb(model, 16, tokens) / nvlink * 1000
    assert got["tensorCollectiveMs"] == pytest.approx(across, rel=1e-3)
    assert got["tensorCrossingExtraMs"] == pytest.approx(across - inside, rel=1e-3)


def test_littles_law_design_batch_and_capacity():
    model = Model(8.03, 32, 8, 128, "bf16", "bf16", hidden=4096, heads=32)
    pool = Pool(model, device("H100-SXM"), tp=1, replicas=8, arrival_rps=40, prompt_p50=1000, prompt_p99=4000,
                output_p50=200, output_p99=800, tpot_target_ms=40)
    got = derived(describe(LLAMA_8B, pool={"tensorParallel": 1},
                           workload={"arrivalRateRps": 40, "slo": {"tpotMs": 40}}))
    assert got["modelReplicasPresent"] == 8
    assert got["designDecodeBatch"] == pytest.approx(pool.design_batch(), rel=0.01)
    assert got["predictedTPOTMs"] == pytest.approx(pool.predicted_tpot_ms(), rel=0.01)
    assert got["replicaCapacityRps"] == pytest.approx(pool.replica_capacity_rps(), rel=0.01)
    assert got["capacityHeadroom"] == pytest.approx(pool.headroom(), rel=0.01)
    assert got["replicasNeeded"] == pool.replicas_needed()


# --- every example, against the plain-Python formulas ------------------------------------------------------------


def _yaml(path):
    return YAML(typ="safe").load(path.read_text())


@cache
def catalog_refs(entry: str) -> dict[str, str]:
    """IRI-valued facts of a catalog entry (local names), e.g. an instance type's accelerator model."""
    refs = {}
    for t in resources.catalog_triples():
        if t.subject.value == resources.CAT + entry and isinstance(t.object, ox.NamedNode):
            refs[t.predicate.value[len(SAI):]] = t.object.value.rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    return refs


INSTANCE_KEYS = {"acceleratorModel": "accelerator", "acceleratorsPerNode": "acceleratorsPerNode",
                 "nicLinkType": "nic", "nicsPerNode": "nicsPerNode", "scaleUpDomainSize": "scaleUpDomainSize"}
PEER_TO_PEER = {"NVLinkPeerToPeer": "nvlink", "PCIePeerToPeer": "pcie", "NoPeerToPeer": "none"}
REGIMES = {"VMPassthrough": "vm-passthrough", "BareMetal": "bare-metal"}


def _node(node: dict) -> dict:
    """A node with its instance type's parts written out (what the loader's expansion does)."""
    if "instanceType" not in node:
        return node
    entry = node["instanceType"]
    filled = {}
    for predicate, key in INSTANCE_KEYS.items():
        value = catalog_refs(entry).get(predicate, catalog(entry).get(predicate))
        if value is not None:
            filled[key] = int(value) if isinstance(value, float) else value
    if "peerToPeer" in catalog_refs(entry):
        filled["peerToPeer"] = PEER_TO_PEER[catalog_refs(entry)["peerToPeer"]]
    if "gpuVirtualization" in catalog_refs(entry):
        filled["virtualization"] = {"gpu": REGIMES.get(catalog_refs(entry)["gpuVirtualization"], "vm-passthrough")}
    return {**filled, **node}


def _device_of(nodes: list[dict], model: dict) -> Device:
    """The pool's least capable device, from the catalog figures and the nodes' virtualization."""
    memories, bandwidths, computes, ampere = [], [], [], False
    for node in nodes:
        f = catalog(node["accelerator"])
        ampere |= catalog_architecture(node["accelerator"]) == "Ampere"
        virt = node.get("virtualization", {})
        whole = whole_memory_gb(node["accelerator"])
        peak = f.get("denseBF16TFLOPS")
        if model["weightDtype"] == "fp8" and "denseFP8TFLOPS" in f:
            peak = f["denseFP8TFLOPS"]
        # NVFP4 runs at the FP4 rate where the part has it; MXFP4 (vLLM's default backends take BF16 activations)
        # and NVFP4 elsewhere run as weight-only kernels, at BF16
        if model["weightDtype"] == "nvfp4" and "denseFP4TFLOPS" in f:
            peak = f["denseFP4TFLOPS"]
        if virt.get("gpu") == "mig":
            profile = catalog(virt["migProfile"])
            memory_share = profile.get("migMemoryFraction", profile["migMemoryGB"] / f["hbmCapacityGB"])
            compute_share = profile.get("migComputeFraction", memory_share)
            memories.append(profile["migMemoryGB"])
        elif virt.get("gpu") in ("time-sliced-vgpu", "time-sliced", "mps") and virt.get("sharesPerGPU"):
            memory_share = compute_share = 1 / virt["sharesPerGPU"]
            memories.append(virt.get("framebufferGB", whole / virt["sharesPerGPU"]))
        else:
            memory_share = compute_share = 1
            memories.append(whole)
        bandwidths.append(f["memoryBandwidthGBps"] * memory_share)
        if peak is not None:
            computes.append(peak * compute_share)
    return Device(min(memories), min(bandwidths), min(computes), ampere=ampere)


def catalog_architecture(entry: str) -> str | None:
    for t in resources.catalog_triples():
        if t.subject.value == resources.CAT + entry and t.predicate.value == SAI + "architecture":
            return t.object.value
    return None


def _interconnect(nodes: list[dict], tree: dict) -> Interconnect:
    """The least capable node's scale-up domain, peer-to-peer path and scale-out bandwidth per accelerator."""
    clusters = {c["id"]: c for c in tree.get("clusters", [])}
    fabrics = {f["id"]: f for f in tree.get("fabrics", [])}
    domains, peers, scale_outs, paths = [], [], [], []
    for node in nodes:
        f = catalog(node["accelerator"])
        per, count = node["acceleratorsPerNode"], node.get("count", 1)
        product = f.get("scaleUpDomainSize")
        domains.append(node.get("scaleUpDomainSize")
                       or (min(count * per, product) if product and product > per else per))
        regime = node.get("virtualization", {}).get("gpu", "bare-metal")
        link = catalog_refs(node["accelerator"]).get("scaleUpLinkType")
        pcie = link is None or catalog_refs(link).get("linkTechnology") == "PCIeTechnology"
        path = node.get("peerToPeer") or (
            "none" if regime in ("mig", "time-sliced-vgpu") else
            ("pcie" if regime == "bare-metal" else "none") if pcie else "nvlink")
        paths.append(path)
        link_bw = f.get("scaleUpBandwidthGBps")
        peers.append(min(link_bw or 64, 64) * 0.5 if path == "none" else link_bw)
        on = [fid for fid in (node.get("fabric"), clusters.get(node.get("cluster"), {}).get("fabric")) if fid]
        port = catalog(node["nic"])["bandwidthGBps"] if node.get("nic") else (
            max(catalog(fabrics[fid]["linkType"])["bandwidthGBps"] for fid in on) if on else None)
        if port is not None:
            worst = max([fabrics[fid].get("oversubscription", 1) for fid in on] or [1])
            scale_outs.append(node.get("nicsPerNode", 1) * port / per / worst)
    peer = [p for p in peers if p is not None]
    return Interconnect(domain=min(domains), peer_gbps=min(peer) if peer else None,
                        peer_to_peer="none" not in paths, scale_out_gbps=min(scale_outs) if scale_outs else None)


MODEL_KEYS = {"parametersBillions": "parametersB", "activeParametersBillions": "activeParametersB", "numLayers": "layers",
              "numKVHeads": "kvHeads", "headDim": "headDim", "hiddenSize": "hiddenSize",
              "numAttentionHeads": "attentionHeads", "numExperts": "experts", "expertsPerToken": "expertsPerToken",
              "kvLatentDim": "kvLatentDim", "slidingWindowTokens": "slidingWindow",
              "slidingWindowLayers": "slidingWindowLayers"}


def _model(model: dict) -> dict:
    """A model with its published config written out from the catalog entry of its hub id; stated keys win."""
    if "hubId" not in model:
        return model
    entry = next(t.subject.value[len(resources.CAT):] for t in resources.catalog_triples()
                 if t.predicate.value == SAI + "hubId" and t.object.value == model["hubId"])
    published = {key: int(catalog(entry)[p]) if catalog(entry)[p].is_integer() else catalog(entry)[p]
                 for p, key in MODEL_KEYS.items() if p in catalog(entry)}
    return {**published, **model}


def _pools(path):
    tree = _yaml(path)
    nodes = {n["id"]: _node(n) for n in tree.get("nodes", [])}
    models = {m["id"]: _model(m) for m in tree.get("models", [])}
    pools = tree.get("pools", [])
    workloads = tree.get("workloads", [])
    for pool in pools:
        m = models[pool["model"]]
        model = Model(m["parametersB"], m["layers"], m.get("kvHeads"), m.get("headDim"), m["weightDtype"], m["kvDtype"],
                      active_b=m.get("activeParametersB"), hidden=m.get("hiddenSize"), heads=m.get("attentionHeads"),
                      experts=m.get("experts"), experts_per_token=m.get("expertsPerToken"), kv_latent=m.get("kvLatentDim"),
                      window=m.get("slidingWindow"), window_layers=m.get("slidingWindowLayers", 0))
        served = [w for w in workloads if pool["id"] in w.get("servedBy", [])]
        if not served:
            continue
        hosts = [nodes[n] for n in pool["hostedOn"]]
        tp, pp = pool.get("tensorParallel", 1), pool.get("pipelineParallel", 1)
        dev = _device_of(hosts, m)
        units = []
        for node in hosts:
            virt = node.get("virtualization", {})
            per_accelerator = (math.floor(1 / catalog(virt["migProfile"]).get("migComputeFraction", 1))
                               if virt.get("gpu") == "mig" else virt.get("sharesPerGPU", 1))
            sharers = sum(node["id"] in p["hostedOn"] for p in pools)
            units.append(math.floor(node.get("count", 1) * node["acceleratorsPerNode"] * per_accelerator / sharers))
        same_role = {p["id"] for p in pools if p["role"] == pool["role"]}
        arrival = sum(w.get("arrivalRateRps", 0) / len(same_role & set(w["servedBy"])) for w in served)
        targets = [w["slo"]["tpotMs"] for w in served if "tpotMs" in w.get("slo", {})]
        yield pool["id"], Pool(
            model, dev, role=pool["role"], tp=tp, pp=pp, ep=pool.get("expertParallel"),
            replicas=pool.get("replicas", math.floor(sum(units) / (tp * pp))),
            prompt_p50=max(w["promptTokensP50"] for w in served), prompt_p99=max(w["promptTokensP99"] for w in served),
            output_p50=max(w.get("outputTokensP50", 1) for w in served),
            output_p99=max(w.get("outputTokensP99", 1) for w in served),
            arrival_rps=arrival, tpot_target_ms=min(targets) if targets else None,
            prefill_efficiency=pool.get("prefillEfficiency", 0.5), decode_efficiency=pool.get("decodeEfficiency", 0.8),
            memory_utilization=pool.get("gpuMemoryUtilization", 0.92),
            activation_reserve_gb=pool.get("activationReserveGB"), max_batch=pool.get("maxBatchSize"),
            interconnect=_interconnect(hosts, tree))


def _close(got: dict, name: str, expected: float | None, pool_id: str, rel: float = 2e-3, abs_: float = 0.01):
    if expected is None:
        assert name not in got, f"{pool_id}: {name} derived as {got.get(name)}, expected none"
        return
    assert name in got, f"{pool_id}: {name} not derived (expected {expected})"
    assert got[name] == pytest.approx(expected, rel=rel, abs=abs_), f"{pool_id}: {name}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_rules_agree_with_the_plain_formulas_on_every_example(scenario):
    description = load_file(scenario / "description.yaml")
    reasoning = infer(description)
    checked = 0
    for pool_id, pool in _pools(scenario / "description.yaml"):
        node = ox.NamedNode(description.base + pool_id)
        got = {q.predicate.value[len(SAI):]: float(q.object.value)
               for q in reasoning.store.quads_for_pattern(node, None, None, reasoning.inferred_graph)
               if isinstance(q.object, ox.Literal) and q.object.datatype.value.endswith(("decimal", "integer"))}
        _close(got, "weightBytesPerDeviceGB", pool.weights_per_device_gb(), pool_id, abs_=0.002)
        _close(got, "kvBytesPerTokenPerDevice", pool.kv_per_token_per_device(), pool_id, abs_=0.1)
        _close(got, "kvCapacityGBPerDevice", pool.kv_capacity_gb(), pool_id, abs_=0.002)
        _close(got, "capacityBatch", pool.capacity_batch(), pool_id, rel=0, abs_=0)
        modelled = pool.models_collectives()
        _close(got, "collectiveMsPerStep", pool.collective_ms_per_step() if modelled else None, pool_id, abs_=0.001)
        _close(got, "collectiveMsPerToken", pool.collective_ms_per_token() if modelled else None, pool_id,
               rel=1e-2, abs_=2e-6)
        if pool.role in ("prefill", "colocated"):
            _close(got, "prefillTimeP99Ms", pool.prefill_ms(pool.prompt_p99), pool_id, rel=1e-3)
        if pool.role in ("decode", "colocated"):
            _close(got, "decodeStepFloorMs", pool.decode_floor_ms(), pool_id, abs_=0.002)
            _close(got, "decodeKVMsPerSequence", pool.kv_ms_per_sequence(), pool_id, abs_=1e-5)
            _close(got, "decodeStepBatch1Ms", pool.batch1_step_ms(), pool_id, abs_=0.005)
            if pool.arrival_rps:
                _close(got, "predictedTPOTMs", pool.predicted_tpot_ms(), pool_id, rel=1e-2)
        if pool.arrival_rps:
            _close(got, "replicaCapacityRps", pool.replica_capacity_rps(), pool_id, rel=1e-2)
            _close(got, "replicasNeeded", pool.replicas_needed(), pool_id, rel=0, abs_=1)
        checked += 1
    assert checked, "no pool with a workload to check"


def test_the_formulas_module_uses_the_ontology_byte_sizes():
    for name, size in BYTES.items():
        iri = {"fp32": "FP32", "bf16": "BF16", "fp16": "FP16", "fp8": "FP8", "int8": "INT8", "int4": "INT4",
               "nvfp4": "NVFP4", "mxfp4": "MXFP4"}[name]
        value = [t.object.value for t in resources.ontology_triples()
                 if t.subject.value == SAI + iri and t.predicate.value == SAI + "bytesPerElement"]
        assert float(value[0]) == size, name
