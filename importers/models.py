"""Models: the served model's hub id against the model catalog, its weight and KV-cache formats, and a local
`config.json` (`sortai import model-config`) read like the catalog reads published ones.

The weight format is what the engine is told (`--dtype`, `--quantization`), else the checkpoint's own
(`quantization_config.quant_method`, else `torch_dtype`): that is what vLLM's and SGLang's `--dtype auto` load.
The KV cache is `--kv-cache-dtype`, else the model's activation dtype (`torch_dtype`). A format the description's
enum cannot say (GGUF quant types, GPTQ of unknown bits, bitsandbytes) is reported, never mapped silently.
"""

from __future__ import annotations

import json
from pathlib import Path

from sortai.reasoner.problems import InputError, Location, Problem

from . import catalog
from .engine_args import EngineFacts
from .fragment import Element, Fragment, slug
from .yamldocs import read_text

# --dtype values (vLLM, SGLang) and config.json torch_dtype -> description dtype. 'auto' means: the checkpoint's.
DTYPES = {"bfloat16": "bf16", "bf16": "bf16", "float16": "fp16", "half": "fp16", "fp16": "fp16",
          "float32": "fp32", "float": "fp32", "fp32": "fp32", "fp8": "fp8", "fp8_e4m3": "fp8", "fp8_e5m2": "fp8",
          "fp8_inc": "fp8", "int8": "int8"}
# --quantization / quantization_config.quant_method -> weight dtype; None = the method does not fix the bit width.
QUANTIZATION = {"fp8": "fp8", "fbgemm_fp8": "fp8", "modelopt": "fp8", "ptpc_fp8": "fp8", "fp8_e4m3": "fp8",
                "mxfp4": "mxfp4", "modelopt_fp4": "nvfp4", "nvfp4": "nvfp4", "awq": "int4", "awq_marlin": "int4",
                "marlin": "int4", "experts_int8": "int8", "int8": "int8", "w8a8_int8": "int8",
                "gptq": None, "gptq_marlin": None, "bitsandbytes": None, "gguf": None, "compressed-tensors": None,
                "torchao": None, "hqq": None, "quark": None}


def weight_dtype_of(engine: EngineFacts, published: dict | None):
    """(dtype, origin, how) of the weights, or (None, origin, reason) when not known."""
    quant = engine.facts.get("quantization")
    if quant is not None:
        method = str(quant.value).lower()
        if method in QUANTIZATION and QUANTIZATION[method]:
            return QUANTIZATION[method], quant.origin, f"{quant.how} {quant.value}"
        return None, quant.origin, (f"{quant.how} {quant.value}: the bit width depends on the checkpoint "
                                    "(not known to this importer)")
    dtype = engine.facts.get("dtype")
    if dtype is not None and str(dtype.value).lower() != "auto":
        value = DTYPES.get(str(dtype.value).lower())
        if value:
            return value, dtype.origin, f"{dtype.how} {dtype.value}"
        return None, dtype.origin, f"{dtype.how} {dtype.value} is not a format the description can state"
    if published and published.get("weightDtype"):
        return (published["weightDtype"].lower(), None,
                "the published checkpoint's format (model catalog; --dtype auto keeps it)")
    return None, None, "neither the flags nor the model catalog state it"


def kv_dtype_of(engine: EngineFacts, published: dict | None, weight: str | None):
    fact = engine.facts.get("kv_cache_dtype")
    if fact is not None and str(fact.value).lower() != "auto":
        value = DTYPES.get(str(fact.value).lower())
        if value:
            return value, fact.origin, f"{fact.how} {fact.value}"
        return None, fact.origin, f"{fact.how} {fact.value} is not a format the description can state"
    if published and published.get("kvCacheDtype"):
        return published["kvCacheDtype"].lower(), None, "the model's activation dtype (model catalog): KV cache auto"
    dtype = engine.facts.get("dtype")
    if weight in ("bf16", "fp16", "fp32") and dtype is not None:
        return weight, dtype.origin, "the model dtype (--kv-cache-dtype auto)"
    return None, None, "neither the flags nor the model catalog state it"


def model_element(engine: EngineFacts, workload: str, fragment: Fragment) -> Element | None:
    fact = engine.facts.get("model")
    if fact is None:
        fragment.problem(f"{workload}: the manifests name no model (--model, positional model, modelURL, "
                         "spec.model.uri)", None, element=workload, key="model", severity="violation",
                         code="missing", fix="add the model to the manifest or an overlay.")
        return None
    hub = str(fact.value).removeprefix("hf://").strip("/")
    published = catalog.published_model(hub)
    model_id = slug(hub.rsplit("/", 1)[-1])
    existing = fragment.get("models", model_id)
    element = existing or Element(model_id, origin=fact.origin)
    if existing is None:
        if published:
            element.set("hubId", published["hubId"], fact.origin,
                        f"{published['hubId']}: architecture from the model catalog ({published.get('source', '')})")
        else:
            element.set("hubId", hub, fact.origin)
            local = hub.startswith(("/", ".")) or "/" not in hub
            fragment.problem(f"model '{hub}' is not in the model catalog", fact.origin, element=model_id,
                             key="hubId", severity="warning", code="unknown-model",
                             fix=("a local path: " if local else "") + "write parametersB, layers, kvHeads and headDim "
                             "by hand from its config.json, or import it: `sortai import model-config config.json`.")
    for key, (value, origin, how) in (("weightDtype", weight_dtype_of(engine, published)),):
        _dtype(element, key, value, origin or fact.origin, how, fragment)
    weight = element.get("weightDtype")
    value, origin, how = kv_dtype_of(engine, published, weight)
    _dtype(element, "kvDtype", value, origin or fact.origin, how, fragment)
    if weight == "mxfp4" and published:
        element.note("weightDtype", "mxfp4 covers the MoE expert weights, the bulk of the parameters; attention and "
                                    "embedding weights stay bf16, so weight bytes are slightly underestimated")
    if existing is None:
        fragment.add("models", element)
    return element


def _dtype(element: Element, key: str, value, origin, how: str, fragment: Fragment) -> None:
    if value is None:
        reported = element.meta.setdefault("reported", set())
        if not element.has(key) and key not in reported:
            reported.add(key)
            fragment.problem(f"{key} of model {element.id} is not known: {how}", origin, element=element.id, key=key,
                             severity="violation", code="unknown-format",
                             fix=f"write {key} by hand (fp32, bf16, fp16, fp8, int8, int4, nvfp4, mxfp4).")
        return
    current = element.get(key)
    if current is not None and current != value:
        fragment.problem(f"{key} conflict: {current} ({element.origins.get(key)}) vs {value} ({how}, {origin})",
                         origin, element=element.id, key=key, severity="violation", code="conflict",
                         fix="serve the model with one format per description model, or split the model.")
        return
    if current is None:
        element.set(key, value, origin, f"{key} {value}: {how}")


# --- config.json -------------------------------------------------------------------------------------


def config_facts(config: dict) -> dict:
    """Description keys from a Hugging Face config.json (text_config for multimodal models)."""
    inner = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    facts: dict = {}
    pairs = (("num_hidden_layers", "layers"), ("hidden_size", "hiddenSize"), ("num_attention_heads", "attentionHeads"),
             ("num_key_value_heads", "kvHeads"), ("head_dim", "headDim"))
    for source, key in pairs:
        if isinstance(inner.get(source), int):
            facts[key] = inner[source]
    if "kvHeads" not in facts and "attentionHeads" in facts:
        facts["kvHeads"] = facts["attentionHeads"]  # config.json omits it for multi-head attention
    widths = [inner.get(k) for k in ("qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")]
    if "headDim" not in facts and all(isinstance(w, int) for w in widths):
        # Multi-head latent attention has no single head_dim: queries and keys are qk_nope + qk_rope wide, values
        # v_head_dim. The rules take headDim as the attention-FLOPs width, so the mean of the QK and V widths
        # (DeepSeek-V3: (128 + 64 + 128) / 2 = 160), as in the catalog's entry; hidden / heads (56) would be wrong.
        facts["headDim"] = round((widths[0] + widths[1] + widths[2]) / 2)
    if "headDim" not in facts and "hiddenSize" in facts and "attentionHeads" in facts:
        facts["headDim"] = facts["hiddenSize"] // facts["attentionHeads"]
    for source in ("num_local_experts", "n_routed_experts", "num_experts"):
        if isinstance(inner.get(source), int) and inner[source] > 0:
            facts["experts"] = inner[source]
            break
    layer_types = inner.get("layer_types")
    pattern = inner.get("sliding_window_pattern", inner.get("_sliding_window_pattern"))
    if pattern is None:
        # The published Gemma configs leave the layout to transformers' defaults: Gemma 2 alternates (every second
        # layer global), Gemma 3 puts one global layer after five windowed ones.
        pattern = {"gemma2": 2, "gemma3_text": 6, "gemma3": 6}.get(str(inner.get("model_type")))
    if isinstance(inner.get("sliding_window"), int) and (isinstance(layer_types, list) or isinstance(pattern, int)):
        # Only layer_types, or a pattern (every pattern-th layer global), says which layers use the window: several
        # configs carry a sliding_window that no layer uses (Qwen2's use_sliding_window: false), so without either
        # nothing is inferred.
        if isinstance(layer_types, list):
            sliding = sum(1 for t in layer_types if t == "sliding_attention")
        else:
            sliding = facts["layers"] - facts["layers"] // pattern if "layers" in facts and pattern > 0 else 0
        if sliding:
            facts["slidingWindow"] = inner["sliding_window"]
            facts["slidingWindowLayers"] = sliding
    if isinstance(inner.get("num_experts_per_tok"), int):
        facts["expertsPerToken"] = inner["num_experts_per_tok"]
    if isinstance(inner.get("kv_lora_rank"), int):
        facts["attention"] = "mla"
        facts["kvLatentDim"] = inner["kv_lora_rank"] + int(inner.get("qk_rope_head_dim") or 0)
    elif "kvHeads" in facts and "attentionHeads" in facts:
        facts["attention"] = ("mha" if facts["kvHeads"] == facts["attentionHeads"] else
                              "mqa" if facts["kvHeads"] == 1 else "gqa")
    torch_dtype = str(inner.get("torch_dtype") or config.get("torch_dtype") or inner.get("dtype") or "").lower()
    quant = config.get("quantization_config") if isinstance(config.get("quantization_config"), dict) else {}
    method = str(quant.get("quant_method") or "").lower()
    if method:
        facts["_quant_method"] = method
        if QUANTIZATION.get(method):
            facts["weightDtype"] = QUANTIZATION[method]
    elif torch_dtype in DTYPES:
        facts["weightDtype"] = DTYPES[torch_dtype]
    if torch_dtype in DTYPES:
        facts["kvDtype"] = DTYPES[torch_dtype]
    return facts


def import_model_config(path: str | Path, hub_id: str | None = None, parameters_b: float | None = None,
                        fragment: Fragment | None = None) -> Fragment:
    fragment = fragment or Fragment()
    path = Path(path)
    text = read_text(path)
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError([Problem(f"JSON syntax error: {exc.msg}", Location(str(path), exc.lineno, exc.colno),
                                  code="syntax", fix="give the model's config.json.")]) from None
    if not isinstance(config, dict) or "num_hidden_layers" not in (config.get("text_config") or config):
        raise InputError([Problem("not a model config.json (no num_hidden_layers)", Location(str(path), 1),
                                  code="not-config", fix="give the Hugging Face config.json of the model.")])
    fragment.sources.append(str(path))
    lines = text.split("\n")

    def line_of(key: str) -> Location:
        for number, line in enumerate(lines, 1):
            if f'"{key}"' in line:
                return Location(str(path), number)
        return Location(str(path), 1)

    name = hub_id or config.get("_name_or_path") or path.parent.name or "model"
    element = Element(slug(str(name).rsplit("/", 1)[-1]), origin=Location(str(path), 1))
    if hub_id or config.get("_name_or_path"):
        element.set("hubId", str(name))
    facts = config_facts(config)
    source_keys = {"layers": "num_hidden_layers", "hiddenSize": "hidden_size", "attentionHeads": "num_attention_heads",
                   "kvHeads": "num_key_value_heads", "headDim": "qk_nope_head_dim" if '"qk_nope_head_dim"' in text else "head_dim",
                   "experts": "num_local_experts",
                   "expertsPerToken": "num_experts_per_tok", "kvLatentDim": "kv_lora_rank", "attention": "kv_lora_rank",
                   "slidingWindow": "sliding_window", "slidingWindowLayers": "layer_types",
                   "weightDtype": "quantization_config", "kvDtype": "torch_dtype"}
    for key, value in facts.items():
        if key.startswith("_"):
            continue
        element.set(key, value, line_of(source_keys.get(key, key)))
    if "weightDtype" not in facts:
        fragment.problem(f"the weight format is not one the description can state (quant_method "
                         f"'{facts.get('_quant_method', '?')}')", line_of("quantization_config"), element=element.id,
                         key="weightDtype", severity="violation", code="unknown-format",
                         fix="write weightDtype by hand (fp32, bf16, fp16, fp8, int8, int4, nvfp4, mxfp4).")
    if parameters_b is not None:
        element.set("parametersB", parameters_b)
    else:
        fragment.problem("config.json does not state the parameter count", Location(str(path), 1), element=element.id,
                         key="parametersB", severity="violation", code="missing",
                         fix="pass --parameters-b from the model card, or write parametersB by hand.")
    fragment.add("models", element)
    return fragment
