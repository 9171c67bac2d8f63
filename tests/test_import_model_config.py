"""`sortai import model-config`: a Hugging Face config.json as a description model.

The configs below carry the published fields (DeepSeek-V3's as in MaxText's copy of its config.json; a
Llama-3.1-8B-shaped GQA config without `head_dim`). Where the catalog holds the same model, the importer must
agree with the catalog's entry, which was checked against the config by hand.
"""

from __future__ import annotations

import json

import pyoxigraph as ox

from sortai.importers.models import import_model_config
from sortai.reasoner import resources

DEEPSEEK_V3 = {
    "_name_or_path": "deepseek-ai/DeepSeek-V3", "architectures": ["DeepseekV3ForCausalLM"],
    "num_hidden_layers": 61, "hidden_size": 7168, "num_attention_heads": 128, "num_key_value_heads": 128,
    "n_routed_experts": 256, "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3,
    "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
    "vocab_size": 129280, "torch_dtype": "bfloat16",
    "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128]},
}
GQA_WITHOUT_HEAD_DIM = {
    "_name_or_path": "example/gqa-8b", "num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32,
    "num_key_value_heads": 8, "torch_dtype": "bfloat16",
}


def imported(tmp_path, config: dict, **kwargs):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config, indent=2))
    fragment = import_model_config(path, **kwargs)
    (model,) = fragment.elements("models")
    return model, fragment


def catalog_value(entry: str, prop: str):
    subject, predicate = ox.NamedNode(resources.CAT + entry), ox.NamedNode(resources.SAI + prop)
    (value,) = [t.object for t in resources.catalog_triples() if t.subject == subject and t.predicate == predicate]
    return value.value


def test_mla_config_agrees_with_the_catalog_entry(tmp_path):
    model, _ = imported(tmp_path, DEEPSEEK_V3, parameters_b=671)
    # QK (128 + 64) and V (128) widths averaged: the attention-FLOPs width the rules use; hidden / heads is 56
    qk_and_v = (128 + 64 + 128) / 2
    assert model.get("headDim") == qk_and_v
    assert model.get("headDim") == int(catalog_value("DeepSeek-V3", "headDim"))
    assert model.get("kvLatentDim") == 512 + 64
    assert model.get("kvLatentDim") == int(catalog_value("DeepSeek-V3", "kvLatentDim"))
    assert model.get("attention") == "mla"
    assert (model.get("layers"), model.get("experts"), model.get("expertsPerToken")) == (61, 256, 8)
    assert (model.get("weightDtype"), model.get("kvDtype")) == ("fp8", "bf16")


def test_gqa_config_without_head_dim_takes_hidden_over_heads(tmp_path):
    model, _ = imported(tmp_path, GQA_WITHOUT_HEAD_DIM, parameters_b=8.03)
    assert model.get("headDim") == 4096 // 32
    assert (model.get("kvHeads"), model.get("attention")) == (8, "gqa")


def test_a_missing_parameter_count_is_named_not_guessed(tmp_path):
    model, fragment = imported(tmp_path, GQA_WITHOUT_HEAD_DIM)
    assert model.get("parametersB") is None
    (problem,) = [p for p in fragment.problems if p.key == "parametersB"]
    assert "--parameters-b" in problem.fix and problem.location.file.endswith("config.json")


def test_sliding_window_layers_come_from_layer_types(tmp_path):
    # gpt-oss-120b's config.json: 36 layers alternating sliding (window 128) and full attention
    config = {"_name_or_path": "openai/gpt-oss-120b", "num_hidden_layers": 36, "hidden_size": 2880,
              "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64, "sliding_window": 128,
              "layer_types": ["sliding_attention", "full_attention"] * 18, "torch_dtype": "bfloat16",
              "num_local_experts": 128, "num_experts_per_tok": 4, "quantization_config": {"quant_method": "mxfp4"}}
    model, _ = imported(tmp_path, config, parameters_b=117)
    assert (model.get("slidingWindow"), model.get("slidingWindowLayers")) == (128, 36 // 2)
    assert model.get("slidingWindowLayers") == int(catalog_value("gpt-oss-120b", "slidingWindowLayers"))
    # a window no layer uses (Qwen2: use_sliding_window false, no layer_types) is not a sliding-window model
    qwen = dict(GQA_WITHOUT_HEAD_DIM, sliding_window=131072, use_sliding_window=False)
    model, _ = imported(tmp_path, qwen, parameters_b=8)
    assert model.get("slidingWindow") is None and model.get("slidingWindowLayers") is None


def test_gemma_3_windowed_layers_from_the_pattern(tmp_path):
    # gemma-3-27b-it's text_config: 62 layers, a 1024-token window, every sixth layer global
    config = {"_name_or_path": "google/gemma-3-27b-it", "torch_dtype": "bfloat16",
              "text_config": {"num_hidden_layers": 62, "hidden_size": 5376, "num_attention_heads": 32,
                              "num_key_value_heads": 16, "head_dim": 128, "sliding_window": 1024,
                              "sliding_window_pattern": 6}}
    model, _ = imported(tmp_path, config, parameters_b=27.4)
    assert (model.get("slidingWindow"), model.get("slidingWindowLayers")) == (1024, 62 - 62 // 6)
    assert model.get("slidingWindowLayers") == int(catalog_value("gemma-3-27b-it", "slidingWindowLayers"))


def test_published_gemma_configs_take_transformers_layout_defaults(tmp_path):
    # google/gemma-3-27b-it's config.json states the window but not the pattern (transformers' default: 6), and
    # Gemma 2's alternation is not in its config at all
    gemma3 = {"_name_or_path": "google/gemma-3-27b-it", "model_type": "gemma3", "torch_dtype": "bfloat16",
              "text_config": {"model_type": "gemma3_text", "num_hidden_layers": 62, "hidden_size": 5376,
                              "num_attention_heads": 32, "num_key_value_heads": 16, "head_dim": 128,
                              "sliding_window": 1024}}
    model, _ = imported(tmp_path, gemma3, parameters_b=27.4)
    assert model.get("slidingWindowLayers") == 62 - 62 // 6
    assert model.get("slidingWindowLayers") == int(catalog_value("gemma-3-27b-it", "slidingWindowLayers"))
    gemma2 = {"_name_or_path": "google/gemma-2-9b-it", "model_type": "gemma2", "torch_dtype": "bfloat16",
              "num_hidden_layers": 42, "hidden_size": 3584, "num_attention_heads": 16, "num_key_value_heads": 8,
              "head_dim": 256, "sliding_window": 4096}
    model, _ = imported(tmp_path, gemma2, parameters_b=9.24)
    assert model.get("slidingWindowLayers") == 42 // 2
    assert model.get("slidingWindowLayers") == int(catalog_value("gemma-2-9b-it", "slidingWindowLayers"))
