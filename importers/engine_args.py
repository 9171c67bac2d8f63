"""What an inference engine's command line says: model, parallelism, role, KV connector, dtypes.

Parallelism and roles live in strings: `--tensor-parallel-size=4`, `--tensor-parallel-size 2`, `--tp 1`,
`--tp_size 8` (TensorRT-LLM), inside env vars (KServe's `VLLM_ADDITIONAL_ARGS`), inside `sh -c` scripts,
behind `$(VAR)` substitution. The container's command, args and env become one token list, each token with the
line it was read from, and one table per engine maps flags to facts. vLLM accepts `_` for `-` in flag names;
so does this parser, for every engine.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

from sortai.reasoner.problems import Location

VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
# Env vars whose value is more engine flags (KServe's LLMInferenceService passes them through this one).
ARGUMENT_ENV = ("VLLM_ADDITIONAL_ARGS", "VLLM_EXTRA_ARGS", "EXTRA_ARGS", "SGLANG_EXTRA_ARGS")

# flag (normalised: leading dashes kept, '_' -> '-') -> fact name. Engines share most spellings.
VALUE_FLAGS = {
    "--model": "model", "--model-path": "model", "--model-name": "model",
    "--served-model-name": "served_model_name",
    "--tensor-parallel-size": "tp", "-tp": "tp", "--tp": "tp", "--tp-size": "tp",
    "--pipeline-parallel-size": "pp", "-pp": "pp", "--pp": "pp", "--pp-size": "pp",
    "--data-parallel-size": "dp", "-dp": "dp", "--dp": "dp", "--dp-size": "dp",
    "--expert-parallel-size": "ep", "--ep": "ep", "--ep-size": "ep", "--moe-expert-parallel-size": "ep",
    "--dtype": "dtype", "--quantization": "quantization", "-q": "quantization",
    "--kv-cache-dtype": "kv_cache_dtype",
    "--kv-transfer-config": "kv_transfer_config",
    "--disaggregation-mode": "disaggregation_mode",
    "--disaggregation-transfer-backend": "transfer_backend",
    "--gpu-memory-utilization": "gpu_memory_utilization", "--mem-fraction-static": "gpu_memory_utilization",
    "--kv-cache-free-gpu-memory-fraction": "kv_cache_memory_fraction",
    "--max-num-seqs": "max_num_seqs", "--max-running-requests": "max_num_seqs", "--max-batch-size": "max_num_seqs",
    "--max-model-len": "max_model_len", "--context-length": "max_model_len", "--max-seq-len": "max_model_len",
    "--port": "port",
    "--kv-connector": "sidecar_kv_connector",
}
BOOLEAN_FLAGS = {
    "--is-prefill-worker": "prefill_worker", "--is-decode-worker": "decode_worker",
    "--enable-expert-parallel": "enable_expert_parallel", "--enable-ep-moe": "enable_expert_parallel",
    "--enable-dp-attention": "enable_dp_attention",
}
ENGINE_MARKERS = (
    ("dynamo.vllm", "vllm"), ("dynamo.sglang", "sglang"), ("dynamo.trtllm", "trtllm"),
    ("sglang.launch_server", "sglang"), ("sglang_router", "sglang-router"), ("vllm.entrypoints", "vllm"),
    ("trtllm-serve", "trtllm"), ("trtllm-llmapi-launch", "trtllm"), ("tensorrt_llm", "trtllm"),
)
IMAGE_MARKERS = (("vllm-openai", "vllm"), ("vllm/vllm", "vllm"), ("lmsysorg/sglang", "sglang"),
                 ("/sglang", "sglang"), ("tensorrt-llm", "trtllm"), ("vllm-runtime", "vllm"), ("llm-d", "vllm"))


@dataclass(frozen=True)
class Token:
    text: str
    origin: Location


@dataclass
class Fact:
    value: object
    origin: Location
    how: str = ""


@dataclass
class EngineFacts:
    engine: str | None = None
    engine_origin: Location | None = None
    facts: dict[str, Fact] = field(default_factory=dict)
    unresolved: list[tuple[str, Location]] = field(default_factory=list)

    def get(self, name: str):
        fact = self.facts.get(name)
        return None if fact is None else fact.value

    def set(self, name, value, origin, how="") -> None:
        self.facts.setdefault(name, Fact(value, origin, how))


def normal_flag(flag: str) -> str:
    head = "--" if flag.startswith("--") else "-"
    return head + flag.lstrip("-").replace("_", "-")


def split_string(text: str, origin: Location, block_offset: int = 0) -> list[Token]:
    """shlex-split a script or flag string; tokens of a multi-line block keep their own line."""
    tokens: list[Token] = []
    lines = text.split("\n")
    for offset, line in enumerate(lines):
        try:
            parts = shlex.split(line, comments=True)
        except ValueError:
            parts = line.split()
        where = origin if len(lines) == 1 or origin.line is None else Location(
            origin.file, origin.line + offset + block_offset)
        tokens.extend(Token(p, where) for p in parts if p not in ("\\", "&&", ";", "|"))
    return tokens


def substitute(tokens: list[Token], env: dict[str, tuple[str | None, Location]], facts: EngineFacts) -> list[Token]:
    """Expand Kubernetes `$(VAR)` references from the container's env; an unknown or indirect one is reported."""
    out = []
    for token in tokens:
        names = VAR.findall(token.text)
        if not names:
            out.append(token)
            continue
        text, origin = token.text, token.origin
        for name in names:
            value, where = env.get(name, (None, None))
            if value is None:
                facts.unresolved.append((f"$({name})", token.origin))
                continue
            text = text.replace(f"$({name})", value)
            origin = where  # the value itself is stated on the env line
        out.append(Token(text, origin))
    return out


def detect_engine(tokens: list[Token], image: str | None) -> tuple[str | None, Location | None]:
    for token in tokens:
        lowered = token.text.lower()
        for marker, engine in ENGINE_MARKERS:
            if marker in lowered:
                return engine, token.origin
    for index, token in enumerate(tokens):
        name = token.text.rsplit("/", 1)[-1]
        if name == "vllm" and index + 1 < len(tokens) and tokens[index + 1].text == "serve":
            return "vllm", token.origin
        if name == "python3" and index + 2 < len(tokens) and tokens[index + 1].text == "-m" and \
                tokens[index + 2].text.startswith("vllm"):
            return "vllm", token.origin
    if image:
        for marker, engine in IMAGE_MARKERS:
            if marker in image.lower():
                return engine, None
    return None, None


def parse(tokens: list[Token], image: str | None = None) -> EngineFacts:
    facts = EngineFacts()
    facts.engine, facts.engine_origin = detect_engine(tokens, image)
    index = 0
    positional_model_next = False
    while index < len(tokens):
        token = tokens[index]
        text = token.text
        if text in ("serve",) and index > 0 and tokens[index - 1].text.rsplit("/", 1)[-1] in ("vllm", "trtllm-serve"):
            positional_model_next = True
            index += 1
            continue
        if text.rsplit("/", 1)[-1] == "trtllm-serve":
            positional_model_next = True
            index += 1
            continue
        if positional_model_next and not text.startswith("-"):
            facts.set("model", text, token.origin, "the positional model argument")
            positional_model_next = False
            index += 1
            continue
        positional_model_next = False
        if not text.startswith("-") or text in ("-", "--"):
            index += 1
            continue
        flag, _, inline = text.partition("=")
        flag = normal_flag(flag)
        if flag in BOOLEAN_FLAGS:
            facts.set(BOOLEAN_FLAGS[flag], True, token.origin, flag)
            index += 1
            continue
        if flag in VALUE_FLAGS:
            if inline or "=" in text:
                value, where = inline, token.origin
                index += 1
            elif index + 1 < len(tokens):
                value, where = tokens[index + 1].text, tokens[index + 1].origin
                index += 2
            else:
                index += 1
                continue
            name = VALUE_FLAGS[flag]
            if name == "kv_transfer_config":
                _kv_transfer_config(value, where, facts)
            else:
                facts.set(name, value, where, flag)
            continue
        index += 1
    _roles(facts)
    return facts


def _kv_transfer_config(value: str, where: Location, facts: EngineFacts) -> None:
    try:
        config = json.loads(value)
    except json.JSONDecodeError:
        facts.unresolved.append((f"--kv-transfer-config {value!r} (not JSON)", where))
        return
    if not isinstance(config, dict):
        return
    for key, name in (("kv_connector", "kv_connector"), ("kv_role", "kv_role"),
                      ("kv_buffer_device", "kv_buffer_device")):
        if key in config:
            facts.set(name, str(config[key]), where, f"--kv-transfer-config {key}")
    extra = config.get("kv_connector_extra_config")
    if isinstance(extra, dict) and isinstance(extra.get("backends"), list):
        facts.set("nixl_backends", ",".join(map(str, extra["backends"])), where, "kv_connector_extra_config.backends")
    if isinstance(extra, dict) and isinstance(extra.get("connectors"), list):  # MultiConnector
        names = [c.get("kv_connector") for c in extra["connectors"] if isinstance(c, dict)]
        facts.set("kv_connectors", ",".join(str(n) for n in names if n), where, "MultiConnector connectors")


def _roles(facts: EngineFacts) -> None:
    """The pool role the flags state, and how they state it."""
    role = None
    if facts.get("prefill_worker"):
        role = ("prefill", facts.facts["prefill_worker"].origin, "--is-prefill-worker")
    elif facts.get("decode_worker"):
        role = ("decode", facts.facts["decode_worker"].origin, "--is-decode-worker")
    elif facts.get("disaggregation_mode") in ("prefill", "decode"):
        fact = facts.facts["disaggregation_mode"]
        role = (fact.value, fact.origin, f"--disaggregation-mode={fact.value}")
    elif facts.get("kv_role") in ("kv_producer", "kv_consumer"):
        fact = facts.facts["kv_role"]
        role = ("prefill" if fact.value == "kv_producer" else "decode", fact.origin, f"kv_role {fact.value}")
    if role:
        facts.set("role", role[0], role[1], role[2])


def container_tokens(container, doc, facts_env: dict) -> list[Token]:
    """command + args (+ flag-carrying env vars) of a container, each token with its line."""
    tokens: list[Token] = []
    for key in ("command", "args"):
        items = container.get(key)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if item is None:
                continue
            text = str(item)
            where = doc.at(items, index)
            if len(items) <= 3 and (" " in text.strip() or "\n" in text) and not text.strip().startswith("{"):
                block = 1 if "\n" in text.rstrip("\n") else 0
                tokens.extend(split_string(text, where, block))
            else:
                tokens.append(Token(text, where))
    for name in ARGUMENT_ENV:
        value, where = facts_env.get(name, (None, None))
        if value:
            tokens.extend(split_string(value, where))
    return tokens


def container_env(container, doc) -> dict[str, tuple[str | None, Location]]:
    """name -> (value, line) of the container's env; valueFrom entries have value None."""
    env: dict[str, tuple[str | None, Location]] = {}
    for item in container.get("env") or []:
        if not isinstance(item, dict) or "name" not in item:
            continue
        value = item.get("value")
        where = doc.at(item, "value") if "value" in item else doc.at(item, "name")
        env[str(item["name"])] = (None if value is None else str(value), where)
    return env
