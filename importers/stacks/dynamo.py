"""NVIDIA Dynamo: DynamoGraphDeployment (services: frontend, planner, prefill/decode workers).

Each service with `componentType: worker` is a workload: `replicas`, `resources.limits.gpu` per pod (per node
with `multinode.nodeCount`), the engine command in `extraPodSpec.mainContainer`. The role is
`subComponentType`, else the engine flag (`--is-prefill-worker`, `--disaggregation-mode`), else by elimination
(the one unlabelled worker beside a prefill worker decodes). The planner (`planner_sla`, `--adjustment-interval`
seconds) is an autoscaler over the graph's workers; the frontend routes requests.
"""

from __future__ import annotations

from ..engine_args import Fact
from ..fragment import slug
from ..yamldocs import Doc, scalar
from .common import GPU_RESOURCES, Loop, Workload, mapping, meta, read_pod_spec, replicas_fact

KINDS = {"DynamoGraphDeployment"}


def read(doc: Doc, obj) -> tuple[list[Workload], list[Loop]]:
    graph = str(meta(obj).get("name") or "dynamo-graph")
    services = mapping(mapping(obj.get("spec")).get("services"))
    workloads: list[Workload] = []
    loops: list[Loop] = []
    for service_name, service in services.items():
        service = mapping(service)
        component = scalar(service.get("componentType")) or ""
        pod = mapping(service.get("extraPodSpec"))
        if component == "planner" or "planner" in str(service_name).lower() and component != "worker":
            loops.append(_planner(doc, graph, str(service_name), service, pod))
            continue
        if component == "frontend":
            loop = Loop(id=slug(f"{graph}-{service_name}"), kind="request-router", origin=doc.at(services, service_name),
                        layer="serving", actuates=["routing-weights"], targets=[graph])
            loop.description = f"Dynamo frontend {service_name} of {graph}: routes requests to the graph's workers"
            loop.missing.append(("timescaleMs", "the frontend routes per request; the manifest states no period. "
                                 "Write it by hand (e.g. timescaleMs: 5)."))
            loops.append(loop)
            continue
        workload = Workload(name=f"{graph}-{service_name}", stack="dynamo", kind="DynamoGraphDeployment", doc=doc,
                            origin=doc.at(services, service_name), namespace=scalar(meta(obj).get("namespace")),
                            group=graph)
        workload.aliases.update({f"{graph}-{service_name}", str(service_name), f"{graph}-{str(service_name).lower()}"})
        sub = scalar(service.get("subComponentType"))
        if sub in ("prefill", "decode"):
            workload.role = Fact(sub, doc.at(service, "subComponentType"), f"subComponentType: {sub}")
        workload.replicas = replicas_fact(service, "replicas", doc, "replicas")
        multinode = mapping(service.get("multinode"))
        if multinode:
            workload.nodes_per_replica = replicas_fact(multinode, "nodeCount", doc, "multinode.nodeCount")
        main = dict(mapping(pod.get("mainContainer")))
        spec = dict(mapping(pod.get("spec") or pod))
        spec.pop("mainContainer", None)
        containers = list(spec.get("containers") or [])
        if main:
            containers.insert(0, pod.get("mainContainer"))
        spec["containers"] = containers
        read_pod_spec(workload, spec, doc, mapping(pod.get("metadata")).get("labels"))
        limits = mapping(mapping(service.get("resources")).get("limits")) or mapping(
            mapping(service.get("resources")).get("requests"))
        for resource in GPU_RESOURCES:
            if resource in limits and workload.gpus is None:
                count = scalar(limits[resource])
                if count is not None and count.isdigit() and int(count) > 0:
                    workload.gpus = Fact((int(count), resource), doc.at(limits, resource), f"resources.limits.{resource}")
        workloads.append(workload)
    _roles_by_elimination(workloads, doc)
    for loop in loops:
        if loop.kind == "autoscaler":
            loop.targets = [w.name for w in workloads]
    return workloads, loops


def _roles_by_elimination(workloads: list[Workload], doc: Doc) -> None:
    roles = {w.name: (w.role.value if w.role else w.engine.get("role")) for w in workloads}
    unknown = [w for w in workloads if roles[w.name] is None]
    if len(unknown) == 1 and "prefill" in roles.values() and "decode" not in roles.values():
        only = unknown[0]
        only.role = Fact("decode", only.origin, "by elimination: the graph's other worker is the prefill worker "
                                                "and this one has no prefill flag")


def _planner(doc: Doc, graph: str, name: str, service, pod) -> Loop:
    from .. import engine_args

    container = mapping(pod.get("mainContainer"))
    env = engine_args.container_env(container, doc)
    tokens = engine_args.container_tokens(container, doc, env)
    loop = Loop(id=slug(f"{graph}-{name}"), kind="autoscaler", origin=doc.at(service), layer="capacity",
                actuates=["replica-count"])
    interval = None
    for index, token in enumerate(tokens):
        flag, _, value = token.text.partition("=")
        if engine_args.normal_flag(flag) == "--adjustment-interval":
            if not value and index + 1 < len(tokens):
                value, where = tokens[index + 1].text, tokens[index + 1].origin
            else:
                where = token.origin
            try:
                interval = Fact(float(value) * 1000, where, f"--adjustment-interval={value} s")
            except ValueError:
                pass
    program = " ".join(t.text for t in tokens if not t.text.startswith("-"))
    loop.description = f"Dynamo planner {name} of {graph} ({program or 'planner'}): adjusts the workers' replica counts"
    if interval is not None:
        loop.timescale_ms = interval
    else:
        loop.missing.append(("timescaleMs", "the planner's --adjustment-interval is not stated (Dynamo's default "
                             "applies); write timescaleMs by hand."))
    volumes = [mapping(v) for v in mapping(pod).get("volumes") or []]
    for volume in volumes:
        config_map = mapping(volume.get("configMap"))
        if config_map.get("name"):
            loop.description += f"; it reads pre-profiled data from ConfigMap {config_map.get('name')}"
    return loop
