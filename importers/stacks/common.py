"""What every stack shares: a pod template read into a `Workload`, and control loops as `Loop`s.

A workload is one serving role: identical pods (or multi-node replica groups) running one engine. The pod spec
says how many GPUs each pod holds (`nvidia.com/gpu`, `nvidia.com/mig-<profile>`, `amd.com/gpu`, Dynamo's `gpu`),
where it may run (nodeSelector, required node affinity), which RDMA devices it gets (`rdma/*`,
`vpc.amazonaws.com/efa`) and which engine it runs (engine_args.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sortai.reasoner.problems import Location

from .. import engine_args
from ..engine_args import EngineFacts, Fact
from ..yamldocs import Doc, scalar

GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu", "gpu", "habana.ai/gaudi", "aws.amazon.com/neuron",
                 "aws.amazon.com/neurondevice", "google.com/tpu")
MIG_RESOURCE = re.compile(r"^nvidia\.com/mig-(?P<profile>\d+g\.\d+gb)(?:\.me)?$")
RDMA_RESOURCE = re.compile(r"^(rdma/.+|vpc\.amazonaws\.com/efa|nvidia\.com/(?:rdma|hostdev|sriov).*|"
                           r"networking\.gke\.io\..+)$")
HOST_LABELS = ("kubernetes.io/hostname",)


@dataclass
class Workload:
    name: str
    stack: str
    kind: str
    doc: Doc
    origin: Location
    namespace: str | None = None
    group: str | None = None              # workloads of one P/D set share it (kvTransfer pairing)
    role: Fact | None = None               # from the stack's structure (role name, subComponentType, spec.prefill)
    replicas: Fact | None = None           # replica groups
    nodes_per_replica: Fact | None = None  # pods per replica group (multi-node), default 1
    gpus: Fact | None = None               # accelerators per pod; value (count, resource name)
    engine: EngineFacts = field(default_factory=EngineFacts)
    image: str | None = None
    node_selector: dict[str, Fact] = field(default_factory=dict)
    rdma: list[tuple[str, int, Location]] = field(default_factory=list)
    networks: Fact | None = None
    pod_labels: dict[str, str] = field(default_factory=dict)
    aliases: set[str] = field(default_factory=set)   # names metrics and autoscalers may call it by
    notes: list[tuple[str, Location | None]] = field(default_factory=list)
    missing: list[tuple[str, Location | None, str]] = field(default_factory=list)


@dataclass
class Loop:
    id: str
    kind: str
    origin: Location
    timescale_ms: Fact | None = None
    observes: list[str] = field(default_factory=list)
    actuates: list[str] = field(default_factory=list)
    layer: str | None = None
    targets: list[str] = field(default_factory=list)     # workload names / aliases / group names it governs
    target_labels: dict[str, str] = field(default_factory=dict)  # pod labels it selects (InferencePool)
    description: str | None = None
    missing: list[tuple[str, str]] = field(default_factory=list)  # (what, fix)


def mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def meta(obj) -> dict:
    return mapping(obj.get("metadata"))


def read_pod_spec(workload: Workload, spec, doc: Doc, template_labels=None) -> None:
    """Fill the workload from a PodSpec: engine container, GPUs, placement, RDMA, labels."""
    spec = mapping(spec)
    if template_labels:
        workload.pod_labels.update({str(k): str(v) for k, v in mapping(template_labels).items()})
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    init = [c for c in spec.get("initContainers") or [] if isinstance(c, dict)]
    engine_container = None
    for container in containers:
        env = engine_args.container_env(container, doc)
        tokens = engine_args.substitute(engine_args.container_tokens(container, doc, env), env, workload.engine)
        facts = engine_args.parse(tokens, scalar(container.get("image")))
        if facts.engine and engine_container is None:
            engine_container = container
            workload.engine = _merge_facts(workload.engine, facts)
            workload.image = scalar(container.get("image"))
            _env_facts(workload, env)
        _resources(workload, container, doc)
    if engine_container is None and containers:
        # No engine recognised: still read the first container's flags (model, TP) for the record.
        container = containers[0]
        env = engine_args.container_env(container, doc)
        tokens = engine_args.substitute(engine_args.container_tokens(container, doc, env), env, workload.engine)
        workload.engine = _merge_facts(workload.engine, engine_args.parse(tokens, scalar(container.get("image"))))
        workload.image = scalar(container.get("image"))
    for container in init:  # llm-d's routing sidecar runs as a native sidecar (init container)
        env = engine_args.container_env(container, doc)
        sidecar = engine_args.parse(engine_args.container_tokens(container, doc, env))
        if sidecar.get("sidecar_kv_connector"):
            fact = sidecar.facts["sidecar_kv_connector"]
            workload.engine.set("sidecar_kv_connector", fact.value, fact.origin, f"routing sidecar {container.get('name')}")
    selector = mapping(spec.get("nodeSelector"))
    for label, value in selector.items():
        workload.node_selector[str(label)] = Fact(scalar(value), doc.at(selector, label), "nodeSelector")
    _node_affinity(workload, spec, doc)


def _merge_facts(into: EngineFacts, new: EngineFacts) -> EngineFacts:
    if into.engine is None:
        into.engine, into.engine_origin = new.engine, new.engine_origin
    for name, fact in new.facts.items():
        into.facts.setdefault(name, fact)
    into.unresolved.extend(new.unresolved)
    return into


def _env_facts(workload: Workload, env) -> None:
    for name in ("SGLANG_DISAGGREGATION_NIXL_BACKEND", "NIXL_BACKEND", "UCX_TLS", "KSERVE_INFER_ROCE",
                 "LMCACHE_REMOTE_URL", "LMCACHE_USE_EXPERIMENTAL"):
        value, where = env.get(name, (None, None))
        if value is not None:
            workload.engine.set("env:" + name, value, where, name)


def _resources(workload: Workload, container, doc: Doc) -> None:
    resources = mapping(container.get("resources"))
    for section in ("limits", "requests"):
        block = mapping(resources.get(section))
        for name, value in block.items():
            name = str(name)
            count = _count(value)
            if count is None:
                continue
            where = doc.at(block, name)
            mig = MIG_RESOURCE.match(name)
            if (name in GPU_RESOURCES or mig) and workload.gpus is None and count > 0:
                workload.gpus = Fact((count, name), where, f"resources.{section}.{name}")
            elif RDMA_RESOURCE.match(name) and not any(r[0] == name for r in workload.rdma):
                workload.rdma.append((name, count, where))


def _count(value) -> int | None:
    text = scalar(value)
    if text is None:
        return None
    try:
        return int(float(text))
    except ValueError:
        return None


def _node_affinity(workload: Workload, spec, doc: Doc) -> None:
    """Required node affinity terms with operator In and one value act as a node selector."""
    required = mapping(mapping(mapping(spec.get("affinity")).get("nodeAffinity")).get(
        "requiredDuringSchedulingIgnoredDuringExecution"))
    terms = required.get("nodeSelectorTerms") or []
    read_selector_terms(workload, terms, doc)


def read_selector_terms(workload: Workload, terms, doc: Doc) -> None:
    if not isinstance(terms, list) or len(terms) != 1:
        if isinstance(terms, list) and len(terms) > 1:
            workload.notes.append(("several nodeSelectorTerms (any of them may match): not used as a selector",
                                   doc.at(terms)))
        return
    for expression in mapping(terms[0]).get("matchExpressions") or []:
        expression = mapping(expression)
        values = expression.get("values") or []
        if expression.get("operator") == "In" and isinstance(values, list) and len(values) == 1:
            key = str(expression.get("key"))
            workload.node_selector.setdefault(key, Fact(scalar(values[0]), doc.at(values, 0), "nodeAffinity In"))
        elif expression.get("key"):
            workload.notes.append((f"node affinity {expression.get('key')} {expression.get('operator')} "
                                   f"{list(values)}: not a single value, not used as a selector", doc.at(expression)))


def replicas_fact(obj, key: str, doc: Doc, how: str, default: int | None = 1) -> Fact | None:
    """An integer field (replicas, slices, size) with its line; absent means the Kubernetes default."""
    value = obj.get(key) if isinstance(obj, dict) else None
    count = _count(value)
    if count is None:
        if default is None:
            return None
        return Fact(default, doc.at(obj), f"{how} absent (Kubernetes default {default})")
    return Fact(count, doc.at(obj, key), how)


def find_pod_specs(node, path=()):
    """Every (path, pod spec, template labels) under an object: mappings with a `containers` list."""
    if isinstance(node, dict):
        if isinstance(node.get("containers"), list) and any(isinstance(c, dict) for c in node["containers"]):
            yield path, node, None
            return
        template = node.get("template") if isinstance(node.get("template"), dict) else None
        if template and isinstance(template.get("spec"), dict):
            labels = mapping(meta(template).get("labels"))
            for found_path, spec, _ in find_pod_specs(template["spec"], path + ("template", "spec")):
                yield found_path, spec, labels
            return
        for key, value in node.items():
            yield from find_pod_specs(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from find_pod_specs(value, path + (index,))
