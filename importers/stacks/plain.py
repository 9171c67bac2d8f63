"""Plain Kubernetes workloads running an engine: Deployment, StatefulSet, ReplicaSet, DaemonSet, Job, Pod, and,
for any other kind, the pod templates found inside it (read generically and reported as such).

The role is `colocated` unless the engine flags say prefill or decode (`kv_role`, `--disaggregation-mode`,
`--is-prefill-worker`).
"""

from __future__ import annotations

from ..engine_args import Fact
from ..yamldocs import Doc, scalar
from .common import Loop, Workload, find_pod_specs, mapping, meta, read_pod_spec, replicas_fact

KINDS = {"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "Pod", "ReplicationController"}


def read(doc: Doc, obj) -> tuple[list[Workload], list[Loop]]:
    kind = str(obj.get("kind"))
    name = str(meta(obj).get("name") or kind.lower())
    workload = Workload(name=name, stack="plain", kind=kind, doc=doc, origin=doc.at(obj),
                        namespace=scalar(meta(obj).get("namespace")))
    workload.aliases.add(name)
    if kind == "Pod":
        workload.replicas = Fact(1, doc.at(obj), "a single Pod")
        read_pod_spec(workload, obj.get("spec"), doc, meta(obj).get("labels"))
        return [workload], []
    spec = mapping(obj.get("spec"))
    if kind == "DaemonSet":
        workload.replicas = None
        workload.missing.append(("replicas", doc.at(obj), "a DaemonSet runs one pod per matching node: state the "
                                 "node count (count:) by hand or import the Node objects."))
    elif kind == "Job":
        workload.replicas = replicas_fact(spec, "parallelism", doc, "parallelism")
    else:
        workload.replicas = replicas_fact(spec, "replicas", doc, "replicas")
    template = mapping(spec.get("template"))
    read_pod_spec(workload, template.get("spec"), doc, meta(template).get("labels"))
    return [workload], []


def read_generic(doc: Doc, obj) -> list[Workload]:
    """Pod templates inside an unknown kind (RayService, Knative Service, ...), when they run an engine or ask for GPUs."""
    kind = str(obj.get("kind"))
    name = str(meta(obj).get("name") or kind.lower())
    workloads = []
    for path, spec, labels in find_pod_specs(obj.get("spec") or {}):
        suffix = "-".join(str(p) for p in path if isinstance(p, str) and p not in ("spec", "template"))[-40:]
        workload = Workload(name=f"{name}-{suffix}".strip("-") if suffix else name, stack="generic", kind=kind,
                            doc=doc, origin=doc.at(spec), namespace=scalar(meta(obj).get("namespace")))
        workload.aliases.add(name)
        read_pod_spec(workload, spec, doc, labels)
        if workload.engine.engine is None and workload.gpus is None:
            continue
        parent = obj.get("spec")
        for step in path[:-1]:
            parent = parent[step] if isinstance(parent, (dict, list)) else None
        found = replicas_fact(parent, "replicas", doc, f"{'.'.join(map(str, path[:-1])) or 'spec'}.replicas", None) \
            if isinstance(parent, dict) else None
        workload.replicas = found
        if found is None:
            workload.missing.append(("replicas", doc.at(spec), f"the {kind} states no replica count next to this pod "
                                     "template: write replicas by hand."))
        workload.notes.append((f"{kind} is not a stack this importer knows; its pod template was read generically",
                               doc.at(spec)))
        workloads.append(workload)
    return workloads
