"""Our serving-model estimates against NVIDIA aiconfigurator's, as ratios (ours ÷ peer), from one recorded run.

    python -m benchmarks.peers                  # vLLM backend records (default)
    python -m benchmarks.peers --backend sglang

The peer figures are in `benchmarks/peers/aiconfigurator-estimates.json` (aiconfigurator 0.12.0, offline, from its
measured kernel tables; reproduce with `benchmarks/peers/run_grid.py`, see `benchmarks/peers/README.md`). Nothing
here is a runtime dependency. For each point we build the same deployment as a description, reason over it, and
compare:
- prefill: our `prefillTimeP50Ms` for a prompt of `isl` tokens with aiconfigurator's static TTFT at batch 1;
- decode: our step at batch B, max(decodeFixed + B × decodeMsPerSequence, B × decodeComputeMsPerSequence), at a
  context of isl + osl/2, with aiconfigurator's static TPOT at batch B;
- KV capacity: our `kvCapacityTokens` per replica with aiconfigurator's tokens per GPU (vLLM's default memory
  fraction; each GPU holds its shard of every token, so the two count the same thing).
Results: a table on stdout and `benchmarks/results/peers.json`.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
from pathlib import Path

from ruamel.yaml import YAML

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers" / "aiconfigurator-estimates.json"
RESULTS = HERE / "results"

GPUS = {"h100_sxm": "H100-SXM", "h200_sxm": "H200-SXM", "b200_sxm": "B200", "gb200": "GB200",
        "a100_sxm": "A100-80GB-SXM", "l40s": "L40S"}
PER_NODE = {"gb200": 4, "l40s": 4}
HUB_IDS = {"meta-llama/Meta-Llama-3.1-8B": "meta-llama/Llama-3.1-8B",
           "meta-llama/Meta-Llama-3.1-70B": "meta-llama/Llama-3.1-70B",
           "nvidia/Llama-3.1-70B-Instruct-FP8": "meta-llama/Llama-3.1-70B-Instruct",
           "meta-llama/Meta-Llama-3.1-405B": "meta-llama/Llama-3.1-405B-Instruct",
           "Qwen/Qwen3-30B-A3B": "Qwen/Qwen3-30B-A3B", "deepseek-ai/DeepSeek-V3": "deepseek-ai/DeepSeek-V3",
           "openai/gpt-oss-120b": "openai/gpt-oss-120b"}


def _dtypes(record: dict) -> tuple[str, str]:
    dtype = record.get("dtype") or {}
    gemm = (record.get("quant_overrides") or {}).get("gemm_quant_mode") or dtype.get("gemm") or "bfloat16"
    weights = "fp8" if "fp8" in gemm else "bf16"
    if record["model"] == "openai/gpt-oss-120b":
        weights = "mxfp4"  # the published checkpoint's MoE weights; the rest stays bf16 (underestimates bytes)
    kv = (record.get("quant_overrides") or {}).get("kvcache_quant_mode") or dtype.get("kvcache") or "bfloat16"
    return weights, ("fp8" if "fp8" in kv else "bf16")


def description(record: dict) -> str | None:
    """The record's deployment as a description, or None when our format cannot say it (attention DP)."""
    tp, pp = record["tp"], record["pp"]
    if record.get("dp", 1) != 1 or record["num_gpus"] != tp * pp or record["gpu"] not in GPUS:
        return None
    weights, kv = _dtypes(record)
    per_node = PER_NODE.get(record["gpu"], 8)
    pool = {"id": "p", "role": "colocated", "model": "m", "hostedOn": ["n"], "tensorParallel": tp,
            "pipelineParallel": pp, "replicas": 1, "maxBatchSize": max(record["batch"], 1)}
    if record.get("ep") and record["ep"] > 1:
        pool["expertParallel"] = record["ep"]
    tree = {
        "id": "peer", "environments": [{"id": "dc", "kind": "on-prem"}],
        "clusters": [{"id": "c", "environment": "dc", "fabric": "ib"}],
        "fabrics": [{"id": "ib", "linkType": "IB-NDR", "oversubscription": 1}],
        "nodes": [{"id": "n", "cluster": "c", "count": max(1, -(-tp * pp // per_node)),
                   "accelerator": GPUS[record["gpu"]], "acceleratorsPerNode": per_node,
                   "nic": "IB-NDR", "nicsPerNode": per_node}],
        "models": [{"id": "m", "hubId": HUB_IDS[record["model"]], "weightDtype": weights, "kvDtype": kv}],
        "pools": [pool],
        "workloads": [{"id": "w", "servedBy": ["p"], "promptTokensP50": record["isl"],
                       "promptTokensP99": record["isl"], "outputTokensP50": record["osl"],
                       "outputTokensP99": record["osl"]}],
    }
    buffer = io.StringIO()
    YAML().dump(tree, buffer)
    return buffer.getvalue()


def ours(text: str) -> dict[str, float]:
    import pyoxigraph as ox

    from sortai.reasoner.description import load_bytes
    from sortai.reasoner.engine import infer
    from sortai.reasoner.resources import SAI

    loaded = load_bytes(text.encode(), "peer.yaml")
    reasoning = infer(loaded)
    pool = ox.NamedNode(loaded.base + "p")
    return {q.predicate.value[len(SAI):]: float(q.object.value)
            for q in reasoning.store.quads_for_pattern(pool, None, None, reasoning.inferred_graph)
            if isinstance(q.object, ox.Literal) and q.object.datatype.value.endswith(("decimal", "integer"))}


def step_at(values: dict[str, float], batch: int) -> float:
    fixed = values.get("decodeFixedMsAtCapacity", values["decodeFixedMsPerStep"])  # MoE: experts at this batch
    return max(fixed + batch * values["decodeMsPerSequence"], batch * values["decodeComputeMsPerSequence"])


def compare(backend: str) -> list[dict]:
    data = json.loads(PEERS.read_text())
    capacity = {(k["model"], k["gpu"], k["tp"], k["pp"], k.get("backend")): k for k in data.get("kv_capacity", [])}
    rows, cache = [], {}
    for record in data["records"]:
        if record["backend"] != backend or not record.get("static"):
            continue
        text = description(record)
        if text is None:
            continue
        values = cache.setdefault(text, ours(text))
        static = record["static"]
        row = {"group": record["group"], "isl": record["isl"], "osl": record["osl"], "batch": record["batch"],
               "peer_tpot_ms": static["tpot_ms"], "our_step_ms": round(step_at(values, record["batch"]), 3)}
        if record["batch"] == 1:
            row.update(peer_prefill_ms=static["ttft_ms"], our_prefill_ms=values["prefillTimeP50Ms"])
        peer_kv = record.get("kv_capacity_tokens_per_gpu")
        if peer_kv and record["batch"] == 1:
            row.update(peer_kv_tokens=peer_kv, our_kv_tokens=values.get("kvCapacityTokens"))
        rows.append(row)
    return rows


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "—"


def summarize(rows: list[dict]) -> list[dict]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["group"], []).append(row)
    summary = []
    for group, members in groups.items():
        prefill = [r["our_prefill_ms"] / r["peer_prefill_ms"] for r in members if "peer_prefill_ms" in r]
        decode1 = [r["our_step_ms"] / r["peer_tpot_ms"] for r in members if r["batch"] == 1]
        decode_n = [r["our_step_ms"] / r["peer_tpot_ms"] for r in members if r["batch"] > 1]
        kv = [r["our_kv_tokens"] / r["peer_kv_tokens"] for r in members if r.get("our_kv_tokens")]
        summary.append({"group": group, "points": len(members), "prefill": _median(prefill),
                        "decode_batch1": _median(decode1), "decode_batched": _median(decode_n), "kv": _median(kv)})
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="vllm", choices=["vllm", "sglang", "trtllm"])
    args = parser.parse_args()
    rows = compare(args.backend)
    summary = summarize(rows)
    print(f"ours ÷ aiconfigurator ({args.backend}), median per group; 1.00 = same estimate")
    print(f"{'group':34} {'pts':>4} {'prefill':>8} {'decode b1':>10} {'decode b>1':>11} {'KV tokens':>10}")
    for s in summary:
        print(f"{s['group']:34} {s['points']:>4} {s['prefill']:>8} {s['decode_batch1']:>10} "
              f"{s['decode_batched']:>11} {s['kv']:>10}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "peers.json").write_text(json.dumps({"backend": args.backend, "summary": summary, "points": rows},
                                                   indent=1) + "\n")


if __name__ == "__main__":
    main()
