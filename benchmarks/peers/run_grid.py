#!/usr/bin/env python3
"""Regenerate benchmarks/peers/aiconfigurator-estimates.json from NVIDIA aiconfigurator (offline).

Every number comes from aiconfigurator's public Python API, the same call its CLI makes:

    aiconfigurator.cli.api.cli_estimate(model, system, mode=..., backend_name=..., ...)
        == aiconfigurator cli estimate --model-path M --system S --backend B --estimate-mode MODE ...

For each grid point two modes are recorded:
  * agg    - aiconfigurator's default: in-flight batching steady state with `batch` concurrent
             requests (one request prefilling, the rest decoding; vLLM model adds its own
             TTFT queuing factor and 0.8 ms/layer prefill dispatch overhead).
  * static - one static batch: TTFT = prefill of all `batch` prompts at once, TPOT = mean decode
             step of the batch over OSL (the closest match to "prefill time" and "decode step time").
KV capacity per GPU is taken from aiconfigurator_core.sdk.memory.estimate_kv_cache with each
backend's default memory fraction (vLLM gpu_memory_utilization, SGLang mem_fraction_static,
TRT-LLM free_gpu_memory_fraction) as aiconfigurator resolves it.

Usage:  PEERS_VENV/bin/python benchmarks/peers/run_grid.py [--out PATH] [--backends vllm,sglang,trtllm]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import io
import json
import logging
import math
import pathlib
import platform
import sys
import time
import traceback
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

import aiconfigurator  # noqa: E402
import aiconfigurator_core  # noqa: E402
from aiconfigurator.cli.api import cli_estimate  # noqa: E402
from aiconfigurator.sdk.backends.factory import get_backend  # noqa: E402
from aiconfigurator_core.sdk.memory import estimate_kv_cache  # noqa: E402
from aiconfigurator_core.sdk import perf_database  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
MODEL_CONFIG_DIR = pathlib.Path(aiconfigurator_core.__file__).parent / "model_configs"
BACKENDS = ("vllm", "sglang", "trtllm")
KV_PROBE_MAX_NUM_TOKENS = 8192  # activation budget used for the KV-capacity probe (vLLM H100 server default)
KV_PROBE_MAX_BATCH = 256

# ---------------------------------------------------------------------------------------------
# The grid. Each group: a model (HF id as shipped in aiconfigurator_core/model_configs), a system,
# a parallel layout, optional quant overrides, and the ISL/OSL/batch points.
# ---------------------------------------------------------------------------------------------
L8, L70, L405 = "meta-llama/Meta-Llama-3.1-8B", "meta-llama/Meta-Llama-3.1-70B", "meta-llama/Meta-Llama-3.1-405B"
L70FP8 = "nvidia/Llama-3.1-70B-Instruct-FP8"
QWEN_MOE, DSV3, GPTOSS = "Qwen/Qwen3-30B-A3B", "deepseek-ai/DeepSeek-V3", "openai/gpt-oss-120b"


def group(name, model, system, isls, osl, batches, tp=1, pp=1, dp=1, moe_tp=None, moe_ep=None, quant=None, note=""):
    return dict(group=name, model=model, system=system, isls=isls, osl=osl, batches=batches,
                tp=tp, pp=pp, dp=dp, moe_tp=moe_tp, moe_ep=moe_ep, quant=quant or {}, note=note)


GRID = [
    group("llama8b-h100-tp1", L8, "h100_sxm", [1000, 4000, 8000, 32000], 300, [1, 8, 32, 64, 128, 256]),
    group("llama8b-a100-tp1", L8, "a100_sxm", [4000], 300, [1, 32]),
    group("llama8b-l40s-tp1", L8, "l40s", [4000], 300, [1, 32]),
    group("llama70b-h100-tp8", L70, "h100_sxm", [1200, 6000], 250, [1, 8, 32, 128, 256], tp=8),
    group("llama70b-fp8-h100-tp4", L70FP8, "h100_sxm", [1200, 6000], 250, [1, 8, 32, 128, 256], tp=4,
          note="nvidia/Llama-3.1-70B-Instruct-FP8 (ModelOpt FP8 weights, FP8 KV per its hf_quant_config)"),
    group("llama70b-fp8w-bf16kv-h100-tp4", L70FP8, "h100_sxm", [1200, 6000], 250, [1, 32, 128], tp=4,
          quant=dict(kvcache_quant_mode="bfloat16", fmha_quant_mode="bfloat16"),
          note="same FP8 weights, KV cache forced to bf16 (vLLM's --kv-cache-dtype auto)"),
    group("llama70b-h200-tp4", L70, "h200_sxm", [1200, 6000], 250, [1, 8, 32, 128, 256], tp=4),
    group("llama405b-fp8-h100-tp8", L405, "h100_sxm", [2000], 250, [1, 16, 64], tp=8,
          quant=dict(gemm_quant_mode="fp8"), note="bf16 HF config + fp8 GEMMs (per-tensor), bf16 KV"),
    group("llama405b-fp8-h200-tp8", L405, "h200_sxm", [2000], 250, [1, 16, 64], tp=8,
          quant=dict(gemm_quant_mode="fp8"), note="bf16 HF config + fp8 GEMMs (per-tensor), bf16 KV"),
    group("llama405b-fp8-h100-tp16", L405, "h100_sxm", [2000], 250, [1, 16, 64], tp=16,
          quant=dict(gemm_quant_mode="fp8"), note="TP16 spans 2 nodes x 8 GPUs (inter-node all-reduce)"),
    group("llama405b-fp8-h100-tp8pp2", L405, "h100_sxm", [2000], 250, [1, 16, 64], tp=8, pp=2,
          quant=dict(gemm_quant_mode="fp8"), note="2 nodes: TP8 within node, PP2 across nodes"),
    group("llama405b-fp8-h200-tp16", L405, "h200_sxm", [2000], 250, [1, 16, 64], tp=16,
          quant=dict(gemm_quant_mode="fp8"), note="TP16 spans 2 nodes x 8 GPUs (inter-node all-reduce)"),
    group("qwen3-30b-a3b-h200-tp8-moetp8", QWEN_MOE, "h200_sxm", [2000], 500, [1, 16, 64, 256], tp=8, moe_tp=8, moe_ep=1,
          note="vLLM default for TP8 (experts TP-sharded); 4 KV heads < TP8 -> KV replicated x2"),
    group("qwen3-30b-a3b-h200-tp8-ep8", QWEN_MOE, "h200_sxm", [2000], 500, [1, 16, 64, 256], tp=8, moe_tp=1, moe_ep=8,
          note="vLLM --enable-expert-parallel"),
    group("qwen3-30b-a3b-h200-tp1", QWEN_MOE, "h200_sxm", [2000], 500, [1, 16, 64, 256], tp=1, moe_tp=1, moe_ep=1),
    group("dsv3-fp8-h200-tp8-moetp8", DSV3, "h200_sxm", [2000], 500, [1, 16, 64, 256], tp=8, moe_tp=8, moe_ep=1,
          note="FP8 block-quant checkpoint; vLLM default TP8 (MLA latent KV replicated on every rank)"),
    group("dsv3-fp8w-bf16kv-h200-tp8-moetp8", DSV3, "h200_sxm", [2000], 500, [1, 16, 64, 256], tp=8, moe_tp=8, moe_ep=1,
          quant=dict(kvcache_quant_mode="bfloat16"),
          note="as above but bf16 latent KV = vLLM's kv_cache_dtype 'auto' for DeepSeek-V3 (aiconfigurator infers fp8 KV)"),
    group("dsv3-fp8-h200-tp8-ep8", DSV3, "h200_sxm", [2000], 500, [1, 16, 64, 256], tp=8, moe_tp=1, moe_ep=8,
          note="TP8 attention + EP8 experts"),
    group("dsv3-fp8-h200-dp8-ep8", DSV3, "h200_sxm", [2000], 500, [1, 16, 64, 256], tp=1, dp=8, moe_tp=1, moe_ep=8,
          note="attention DP8 + EP8 (vLLM --data-parallel-size 8 --enable-expert-parallel); batch is per DP rank"),
    group("gptoss120b-h100-tp1", GPTOSS, "h100_sxm", [2000], 500, [1, 16, 64, 256], tp=1, moe_tp=1, moe_ep=1,
          note="MXFP4 MoE weights, bf16 attention"),
    group("gptoss120b-h100-tp8-moetp8", GPTOSS, "h100_sxm", [2000], 500, [1, 16, 64, 256], tp=8, moe_tp=8, moe_ep=1),
    group("llama70b-b200-tp4", L70, "b200_sxm", [2000], 250, [1, 64], tp=4),
    group("llama70b-b200-tp8", L70, "b200_sxm", [2000], 250, [1, 64], tp=8),
    group("llama70b-gb200-tp4", L70, "gb200", [2000], 250, [1, 64], tp=4),
    group("llama70b-gb200-tp8", L70, "gb200", [2000], 250, [1, 64], tp=8),
]


def _f(x):
    """JSON-safe float (numpy scalars -> float, NaN/inf -> None)."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return x
    return v if math.isfinite(v) else None


def cli_equivalent(g, backend, mode, isl, osl, batch):
    parts = ["aiconfigurator", "cli", "estimate", "--model-path", g["model"], "--system", g["system"],
             "--backend", backend, "--estimate-mode", mode, "--isl", str(isl), "--osl", str(osl),
             "--batch-size", str(batch), "--tp", str(g["tp"]), "--pp", str(g["pp"])]
    if g["dp"] != 1:
        parts += ["--dp", str(g["dp"])]
    if g["moe_tp"] is not None:
        parts += ["--etp", str(g["moe_tp"])]
    if g["moe_ep"] is not None:
        parts += ["--ep", str(g["moe_ep"])]
    for k, v in g["quant"].items():
        parts += ["--" + k.replace("_", "-"), v]
    return " ".join(parts)


def estimate_kwargs(g, backend, mode, isl, osl, batch):
    kw = dict(mode=mode, backend_name=backend, isl=isl, osl=osl, batch_size=batch,
              tp_size=g["tp"], pp_size=g["pp"], attention_dp_size=g["dp"],
              moe_tp_size=g["moe_tp"], moe_ep_size=g["moe_ep"], **g["quant"])
    return kw


def default_memory_fraction(backend, version, system, g):
    """The KV memory fraction aiconfigurator applies by default for this backend."""
    be = get_backend(backend)
    if backend == "sglang":
        from aiconfigurator_core.sdk.backends.sglang_backend import derive_sglang_mem_fraction_static
        db = perf_database.get_database(system, backend, version)
        cap = db.system_spec["gpu"]["mem_capacity"]
        return float(derive_sglang_mem_fraction_static(cap, tp_size=g["tp"], pp_size=g["pp"], dp_size=g["dp"]))
    return float(be.get_default_free_gpu_memory_fraction(version))


def kv_capacity(g, backend, version):
    frac = default_memory_fraction(backend, version, g["system"], g)
    kind = "of_free" if backend == "trtllm" else "of_total"
    r = estimate_kv_cache(
        g["model"], g["system"], backend, version,
        max_num_tokens=KV_PROBE_MAX_NUM_TOKENS, max_batch_size=KV_PROBE_MAX_BATCH,
        memory_fraction_kind=kind, memory_fraction_value=frac,
        tp_size=g["tp"], pp_size=g["pp"], attention_dp_size=g["dp"],
        moe_tp_size=g["moe_tp"], moe_ep_size=g["moe_ep"],
        gemm_quant_mode=g["quant"].get("gemm_quant_mode"),
        kvcache_quant_mode=g["quant"].get("kvcache_quant_mode"),
        fmha_quant_mode=g["quant"].get("fmha_quant_mode"),
    )
    mb = r.get("memory_breakdown") or {}
    return {
        "memory_fraction": frac,
        "memory_fraction_kind": kind,
        "gpu_capacity_gib": _f(r["total_gpu_capacity_bytes"] / 2**30),
        "weights_gib_per_gpu": _f(mb.get("weights_bytes", 0) / 2**30) if mb else None,
        "kv_pool_gib_per_gpu": _f(r["total_kv_size_bytes"] / 2**30),
        "kv_bytes_per_token_per_gpu": _f(r["kv_size_per_token_bytes"]),
        "kv_capacity_tokens_per_gpu": int(r["total_kv_size_tokens"]),
        "probe_max_num_tokens": KV_PROBE_MAX_NUM_TOKENS,
        "probe_max_batch_size": KV_PROBE_MAX_BATCH,
    }


def run_point(g, backend, isl, osl, batch):
    rec = {
        "group": g["group"], "model": g["model"], "gpu": g["system"], "backend": backend,
        "tp": g["tp"], "pp": g["pp"], "dp": g["dp"], "moe_tp": g["moe_tp"], "ep": g["moe_ep"],
        "num_gpus": g["tp"] * g["pp"] * g["dp"],
        "isl": isl, "osl": osl, "batch": batch, "batch_semantics": "per attention-DP rank" if g["dp"] > 1 else "per replica",
        "quant_overrides": g["quant"], "note": g["note"],
    }
    for mode in ("agg", "static"):
        kw = estimate_kwargs(g, backend, mode, isl, osl, batch)
        key = mode
        t0 = time.perf_counter()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                r = cli_estimate(g["model"], g["system"], **kw)
        except Exception as exc:  # record why the tool cannot do this point
            rec[key] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:400]}",
                        "cli": cli_equivalent(g, backend, mode, isl, osl, batch)}
            continue
        raw = r.raw
        out = {
            "ttft_ms": _f(r.ttft), "tpot_ms": _f(r.tpot),
            "request_latency_ms": _f(raw.get("request_latency")),
            "tokens_per_s": _f(raw.get("tokens/s")), "tokens_per_s_per_gpu": _f(raw.get("tokens/s/gpu")),
            "tokens_per_s_per_user": _f(raw.get("tokens/s/user")), "seq_per_s": _f(raw.get("seq/s")),
            "memory_gib_per_gpu": _f(raw.get("memory")),
            "global_batch": _f(raw.get("global_bs")), "concurrency": _f(raw.get("concurrency")),
            "warning": r.kv_cache_warning,
            "cli": cli_equivalent(g, backend, mode, isl, osl, batch),
            "seconds": round(time.perf_counter() - t0, 2),
        }
        if mode == "static":
            out["context_latency_ms"] = _f(raw.get("context_latency"))
            out["generation_latency_ms"] = _f(raw.get("generation_latency"))
        else:
            out["num_ctx_reqs_per_mix_step"] = _f(raw.get("num_ctx_reqs"))
            out["num_gen_reqs_per_mix_step"] = _f(raw.get("num_gen_reqs"))
        rec[key] = out
        rec["backend_version"] = r.backend_version
        rec["dtype"] = {"gemm": raw.get("gemm"), "kvcache": raw.get("kvcache"), "fmha": raw.get("fmha"),
                        "moe": raw.get("moe"), "comm": raw.get("comm")}
    # Flat headline fields (agg mode = aiconfigurator's default estimate).
    agg = rec.get("agg", {})
    rec["ttft_ms"] = agg.get("ttft_ms")
    rec["tpot_ms"] = agg.get("tpot_ms")
    rec["static_ttft_ms"] = rec.get("static", {}).get("ttft_ms")
    rec["static_tpot_ms"] = rec.get("static", {}).get("tpot_ms")
    return rec


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(HERE / "aiconfigurator-estimates.json"))
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--groups", default="", help="comma-separated group names (default: all)")
    args = ap.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    wanted = set(filter(None, args.groups.split(",")))

    records, kv_table, slots = [], [], {}
    for g in GRID:
        if wanted and g["group"] not in wanted:
            continue
        for backend in backends:
            try:
                ver = perf_database.get_latest_database_version(system=g["system"], backend=backend)
            except Exception as exc:  # noqa: BLE001
                ver = None
                print(f"[skip] {g['group']} {backend}: {exc}", file=sys.stderr)
            slots[f"{g['system']}/{backend}"] = ver
            if ver is None:
                continue
            try:
                kv = kv_capacity(g, backend, ver)
            except Exception as exc:  # noqa: BLE001
                kv = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
            kv_table.append({"group": g["group"], "model": g["model"], "gpu": g["system"], "backend": backend,
                             "backend_version": ver, "tp": g["tp"], "pp": g["pp"], "dp": g["dp"],
                             "moe_tp": g["moe_tp"], "ep": g["moe_ep"], "quant_overrides": g["quant"], **kv})
            for isl in g["isls"]:
                for batch in g["batches"]:
                    rec = run_point(g, backend, isl, g["osl"], batch)
                    rec["kv_capacity_tokens_per_gpu"] = kv.get("kv_capacity_tokens_per_gpu")
                    records.append(rec)
                    a, s = rec.get("agg", {}), rec.get("static", {})
                    print(f"{g['group']:34s} {backend:6s} isl={isl:<6d} bs={batch:<4d} "
                          f"agg ttft={a.get('ttft_ms')} tpot={a.get('tpot_ms')} | "
                          f"static ttft={s.get('ttft_ms')} tpot={s.get('tpot_ms')} "
                          f"{a.get('error') or s.get('error') or ''}", flush=True)

    models_used = sorted({g["model"] for g in GRID})
    doc = {
        "tool": "aiconfigurator",
        "aiconfigurator_version": aiconfigurator.__version__ if hasattr(aiconfigurator, "__version__") else None,
        "aiconfigurator_core_version": getattr(aiconfigurator_core, "__version__", None),
        "generated_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "reproduce": "PEERS_VENV/bin/python benchmarks/peers/run_grid.py",
        "api_call": ("aiconfigurator.cli.api.cli_estimate(model, system, mode='agg'|'static', backend_name=B, "
                     "isl=ISL, osl=OSL, batch_size=BS, tp_size=TP, pp_size=PP, attention_dp_size=DP, "
                     "moe_tp_size=ETP, moe_ep_size=EP, [gemm_quant_mode=..., kvcache_quant_mode=...]); "
                     "database_mode='SILICON' (default), backend_version=None -> 'current' slot"),
        "kv_capacity_call": ("aiconfigurator_core.sdk.memory.estimate_kv_cache(model, system, backend, version, "
                             f"max_num_tokens={KV_PROBE_MAX_NUM_TOKENS}, max_batch_size={KV_PROBE_MAX_BATCH}, "
                             "memory_fraction_kind='of_total' (vllm/sglang) | 'of_free' (trtllm), "
                             "memory_fraction_value=<backend default as aiconfigurator resolves it>, tp/pp/dp/etp/ep)"),
        "modes": {
            "agg": "IFB steady state, `batch` concurrent requests; TTFT includes backend-specific queuing/overhead terms",
            "static": "single static batch; TTFT = prefill of all `batch` prompts together; TPOT = mean decode step",
        },
        "database_slots_used": slots,
        "model_configs": {m: {"file": f"configs/{m.replace('/', '--')}/config.json",
                              "sha256": sha256(MODEL_CONFIG_DIR / f"{m.replace('/', '--')}_config.json")}
                          for m in models_used},
        "kv_capacity": kv_table,
        "records": records,
    }
    pathlib.Path(args.out).write_text(json.dumps(doc, indent=1, default=str) + "\n")
    n_err = sum(1 for r in records for m in ("agg", "static") if "error" in r.get(m, {}))
    print(f"wrote {args.out}: {len(records)} records, {n_err} mode-level errors", file=sys.stderr)


if __name__ == "__main__":
    main()
