"""llm-d: DisaggregatedSet (prefill/decode roles, each a LeaderWorkerSet), LeaderWorkerSet, InferencePool.

A DisaggregatedSet runs `slices` copies of its roles; each role has `replicas` replica groups per slice of
`leaderWorkerTemplate.size` pods. The role is the role's name (`prefill`, `decode`), else the engine flags.
An InferencePool selects model-server pods by label and names its endpoint picker (EPP): a request router.
"""

from __future__ import annotations

from sortai.reasoner.problems import Location

from ..engine_args import Fact
from ..fragment import slug
from ..yamldocs import Doc, scalar
from .common import Loop, Workload, mapping, meta, read_pod_spec, replicas_fact

KINDS = {"DisaggregatedSet", "LeaderWorkerSet", "InferencePool"}


def read(doc: Doc, obj) -> tuple[list[Workload], list[Loop]]:
    kind = obj.get("kind")
    if kind == "DisaggregatedSet":
        return _disaggregated_set(doc, obj), []
    if kind == "LeaderWorkerSet":
        return [_leader_worker_set(doc, obj, mapping(obj.get("spec")), str(meta(obj).get("name")), None, None)], []
    return [], [_inference_pool(doc, obj)]


def _disaggregated_set(doc: Doc, obj) -> list[Workload]:
    name = str(meta(obj).get("name") or "disaggregatedset")
    spec = mapping(obj.get("spec"))
    slices = replicas_fact(spec, "slices", doc, "spec.slices")
    workloads = []
    for role in spec.get("roles") or []:
        role = mapping(role)
        role_name = scalar(role.get("name")) or "role"
        workload = _leader_worker_set(doc, obj, mapping(role.get("spec")), f"{name}-{role_name}", slices,
                                      Fact(role_name, doc.at(role, "name"), "DisaggregatedSet role name"))
        workload.group = name
        workload.origin = doc.at(role)
        workload.aliases.add(f"{name}-{role_name}")
        workloads.append(workload)
    return workloads


def _leader_worker_set(doc: Doc, obj, spec, name: str, slices: Fact | None, role: Fact | None) -> Workload:
    workload = Workload(name=name, stack="llm-d", kind=str(obj.get("kind")), doc=doc, origin=doc.at(spec),
                        namespace=scalar(meta(obj).get("namespace")))
    workload.aliases.update({name, str(meta(obj).get("name"))})
    if role is not None and role.value in ("prefill", "decode"):
        workload.role = role
    replicas = replicas_fact(spec, "replicas", doc, "replicas")
    if slices is not None and replicas is not None:
        total = replicas.value * slices.value
        workload.replicas = Fact(total, replicas.origin,
                                 f"replicas {replicas.value} per slice × slices {slices.value} "
                                 f"(line {slices.origin.line})")
    else:
        workload.replicas = replicas
    template = mapping(spec.get("leaderWorkerTemplate"))
    workload.nodes_per_replica = replicas_fact(template, "size", doc, "leaderWorkerTemplate.size")
    worker = mapping(template.get("workerTemplate"))
    leader = mapping(template.get("leaderTemplate"))
    read_pod_spec(workload, worker.get("spec"), doc, meta(worker).get("labels"))
    if leader and workload.engine.engine is None:
        read_pod_spec(workload, leader.get("spec"), doc, meta(leader).get("labels"))
    if workload.role is None and workload.pod_labels.get("llm-d.ai/role") in ("prefill", "decode"):
        labels = mapping(meta(worker).get("labels"))
        workload.role = Fact(workload.pod_labels["llm-d.ai/role"], doc.at(labels, "llm-d.ai/role"), "label llm-d.ai/role")
    return workload


def _inference_pool(doc: Doc, obj) -> Loop:
    name = str(meta(obj).get("name") or "inference-pool")
    spec = mapping(obj.get("spec"))
    selector = mapping(spec.get("selector"))
    labels = mapping(selector.get("matchLabels")) or selector
    loop = Loop(id=slug(f"{name}-epp"), kind="request-router", origin=doc.at(obj), layer="serving",
                actuates=["routing-weights"],
                target_labels={str(k): str(v) for k, v in labels.items() if isinstance(v, (str, int))})
    extension = mapping(spec.get("extensionRef") or spec.get("endpointPickerRef"))
    picker = scalar(extension.get("name"))
    loop.description = (f"InferencePool {name}: the endpoint picker {picker or '(not named)'} routes each request "
                        "to one of the selected model-server pods")
    loop.missing.append(("timescaleMs", "the endpoint picker decides per request; the manifests state no period. "
                         "Write the routing decision interval by hand (e.g. timescaleMs: 5)."))
    return loop
