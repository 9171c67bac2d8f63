"""`sortai import k8s`: Kubernetes manifests (files, directories, multi-document YAML, `kubectl get -o yaml`
lists, `kubectl kustomize` / `helm template` output, kustomization directories) into a description.

Each object goes to the module of its stack (stacks/): llm-d, Dynamo, KServe, production-stack values, plain
workloads, autoscalers; Node objects (GPU feature discovery labels) become nodes. Every serving workload becomes
a pool, its model and the nodes its pods hold; prefill and decode workloads of one set get a KV transfer; routers
and autoscalers become control loops. What no manifest states is reported, with the artefact that would state it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sortai.reasoner.problems import InputError, Location, Problem

from . import catalog, kustomize
from .engine_args import Fact
from .fragment import Element, Fragment, slug
from .models import model_element
from .stacks import autoscaling, dynamo, kserve, llmd, plain, production_stack
from .stacks.common import MIG_RESOURCE, Loop, Workload, mapping, meta
from .yamldocs import Doc, load_documents, read_text, scalar

STACKS = (llmd, dynamo, kserve, plain, autoscaling)
YAML_SUFFIXES = (".yaml", ".yml", ".json")
IGNORED_KINDS = {"Service", "ServiceAccount", "ConfigMap", "Secret", "Role", "RoleBinding", "ClusterRole",
                 "ClusterRoleBinding", "Namespace", "PersistentVolumeClaim", "PersistentVolume", "Ingress",
                 "HTTPRoute", "Gateway", "NetworkPolicy", "PodDisruptionBudget", "ServiceMonitor", "PodMonitor",
                 "CustomResourceDefinition", "StorageClass", "PriorityClass", "EndpointSlice", "Endpoints",
                 "InferenceModel", "InferenceObjective", "DestinationRule", "EnvoyFilter", "Certificate",
                 "LLMInferenceServiceConfig", "ServingRuntime", "ClusterServingRuntime"}
SELECTOR_PRODUCT_LABELS = ("nvidia.com/gpu.product", "cloud.google.com/gke-accelerator",
                           "accelerator", "nvidia.com/gpu.machine-product")
INSTANCE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
CLOUD_LABEL_PREFIXES = (("cloud.google.com/", "gcp"), ("eks.amazonaws.com/", "aws"), ("karpenter.k8s.aws/", "aws"),
                        ("kubernetes.azure.com/", "azure"))


@dataclass
class Objects:
    workloads: list[Workload] = field(default_factory=list)
    loops: list[Loop] = field(default_factory=list)
    nodes: list[tuple[Doc, dict]] = field(default_factory=list)
    ignored: list[tuple[str, str, Location]] = field(default_factory=list)


def import_k8s(paths: list[str | Path], fragment: Fragment | None = None) -> Fragment:
    fragment = fragment or Fragment()
    objects = Objects()
    for path in paths:
        for doc in _documents(Path(path), fragment):
            _dispatch(doc, doc.data, objects, fragment)
    build(objects, fragment)
    return fragment


# --- reading --------------------------------------------------------------------------------------------


def _documents(path: Path, fragment: Fragment) -> list[Doc]:
    if path.is_dir():
        if kustomize.is_kustomization_dir(path):
            return kustomize.render(path, fragment)
        docs = []
        for child in sorted(path.rglob("*")):
            if child.is_dir() or any(part.startswith(".") for part in child.relative_to(path).parts):
                continue
            if kustomize.is_kustomization_dir(child.parent) and child.parent != path:
                continue  # rendered with its kustomization below
            if child.suffix.lower() in YAML_SUFFIXES:
                docs.extend(_file_documents(child, fragment))
            else:
                fragment.problem(f"not read: not a .yaml/.yml/.json file", Location(str(child)), severity="info",
                                 code="skipped", fix="name it explicitly to import it.")
        for sub in sorted({p.parent for p in path.rglob("kustomization.y*ml")}):
            if sub != path:
                docs.extend(kustomize.render(sub, fragment))
        return docs
    if path.name in kustomize.KUSTOMIZATION_FILES:
        return kustomize.render(path.parent, fragment)
    return _file_documents(path, fragment)


def _file_documents(path: Path, fragment: Fragment) -> list[Doc]:
    text = read_text(path)
    docs = load_documents(text, str(path), fragment.problems)
    if str(path) not in fragment.sources:
        fragment.sources.append(str(path))
    if not docs:
        raise InputError([Problem("no YAML documents in the file", Location(str(path), 1), code="empty",
                                  fix="give Kubernetes manifests (apiVersion, kind) or production-stack Helm values.")])
    return docs


def _dispatch(doc: Doc, obj, objects: Objects, fragment: Fragment) -> None:
    if not isinstance(obj, dict):
        fragment.problem("not a Kubernetes object (the document is not a mapping)", doc.at(obj) if hasattr(obj, "lc")
                         else Location(doc.file, 1), severity="violation", code="not-kubernetes",
                         fix="give Kubernetes manifests (apiVersion, kind) or production-stack Helm values.")
        return
    kind = scalar(obj.get("kind"))
    if kind in ("List",) or (kind and kind.endswith("List") or kind is None) and isinstance(obj.get("items"), list):
        for item in obj.get("items") or []:
            _dispatch(doc, item, objects, fragment)
        return
    if kind is None:
        if production_stack.is_values(obj):
            workloads, loops = production_stack.read(doc, obj)
            objects.workloads.extend(workloads)
            objects.loops.extend(loops)
            return
        fragment.problem("not a Kubernetes object: no 'kind' (and not production-stack Helm values)",
                         doc.at(obj), severity="violation", code="not-kubernetes",
                         fix="give manifests as kubectl, kustomize or helm template print them; for Helm values, "
                             "render them with `helm template` first.")
        return
    if kind == "Kustomization":
        fragment.problem("a kustomization file given on its own: import its directory, which is rendered with "
                         "`kubectl kustomize`", doc.at(obj), severity="violation", code="kustomize")
        return
    if kind == "Node":
        objects.nodes.append((doc, obj))
        return
    for stack in STACKS:
        if kind in stack.KINDS:
            workloads, loops = stack.read(doc, obj)
            objects.workloads.extend(workloads)
            objects.loops.extend(loops)
            return
    if kind in IGNORED_KINDS:
        objects.ignored.append((kind, str(meta(obj).get("name")), doc.at(obj)))
        return
    found = plain.read_generic(doc, obj)
    if found:
        objects.workloads.extend(found)
    else:
        objects.ignored.append((kind, str(meta(obj).get("name")), doc.at(obj)))


# --- building the description ----------------------------------------------------------------------------


def build(objects: Objects, fragment: Fragment) -> None:
    if objects.ignored:
        names = ", ".join(f"{k} {n} ({w.file}:{w.line})" for k, n, w in objects.ignored)
        fragment.problem(f"read but not part of the serving model: {names}", None, severity="info", code="ignored")
    tenants = _tenants(objects.workloads, fragment)
    pools_by_workload: dict[str, Element] = {}
    for workload in objects.workloads:
        pool = _pool(workload, fragment, tenants)
        if pool is not None:
            pools_by_workload[workload.name] = pool
    _kv_transfers(objects.workloads, pools_by_workload, fragment)
    for loop in objects.loops:
        _control_loop(loop, objects.workloads, pools_by_workload, fragment)
    node_elements(objects.nodes, fragment)


def _tenants(workloads: list[Workload], fragment: Fragment) -> dict[str, str]:
    """Namespaces become tenants when the serving workloads span more than one."""
    namespaces = {w.namespace for w in workloads if w.namespace and w.namespace != "default"}
    if len(namespaces) < 2:
        return {}
    tenants = {}
    for namespace in sorted(namespaces):
        first = next(w for w in workloads if w.namespace == namespace)
        element = fragment.add("tenants", Element(slug(f"ns-{namespace}"), origin=first.origin))
        element.set("label", f"namespace {namespace}", first.origin,
                    "the serving workloads span several namespaces; each namespace is taken as a tenant")
        tenants[namespace] = element.id
    return tenants


def _int(fact: Fact | None, name: str, workload: Workload, fragment: Fragment) -> int | None:
    if fact is None:
        return None
    try:
        return int(str(fact.value))
    except ValueError:
        fragment.problem(f"{name} '{fact.value}' is not a whole number", fact.origin, element=workload.name,
                         severity="warning", code="unreadable-value", fix=f"write {name} by hand.")
        return None


def _pool(workload: Workload, fragment: Fragment, tenants: dict[str, str]) -> Element | None:
    engine = workload.engine
    for text, where in engine.unresolved:
        fragment.problem(f"{text} cannot be resolved from the manifest (indirect or undefined)", where,
                         element=workload.name, code="unresolved", fix="state the value in the manifest or by hand.")
    if engine.engine is None and workload.gpus is None:
        fragment.problem(f"{workload.kind} {workload.name}: no inference engine and no GPUs; not a serving pool",
                         workload.origin, severity="info", code="not-serving")
        return None
    pool = Element(slug(workload.name), origin=workload.origin)
    pool.meta.update({"aliases": set(workload.aliases), "pod_labels": dict(workload.pod_labels),
                      "group": workload.group, "namespace": workload.namespace, "stack": workload.stack,
                      "served_model": engine.get("served_model_name"), "model_hub": engine.get("model"),
                      "node_selector": {k: f.value for k, f in workload.node_selector.items()}})
    if engine.engine is None:
        fragment.problem(f"{workload.name} requests GPUs but runs no engine this importer recognises "
                         "(vLLM, SGLang, TensorRT-LLM, Dynamo)", workload.origin, element=pool.id,
                         code="unknown-engine", fix="check its command; parallelism and role were not read.")
    image = f", image {workload.image}" if workload.image else ""
    pool.set("description", f"{workload.kind} {workload.name} ({workload.stack}), engine "
             f"{engine.engine or 'unknown'}{image}")
    for text, where in workload.notes:
        pool.note("", text + (f" ({where.file}:{where.line})" if where and where.line else ""))
    _role(workload, pool, fragment)
    model = model_element(engine, workload.name, fragment)
    if model is not None:
        pool.set("model", model.id, engine.facts["model"].origin)
    for name, key in (("tp", "tensorParallel"), ("pp", "pipelineParallel"), ("ep", "expertParallel")):
        value = _int(engine.facts.get(name), key, workload, fragment)
        if value is not None:
            fact = engine.facts[name]
            pool.set(key, value, fact.origin, f"{key} from {fact.how}")
    if pool.get("expertParallel") is None and engine.get("enable_expert_parallel"):
        tp = pool.get("tensorParallel") or 1
        dp = _int(engine.facts.get("dp"), "data parallel", workload, fragment) or 1
        pool.set("expertParallel", tp * dp, engine.facts["enable_expert_parallel"].origin,
                 "expertParallel = tensorParallel × dataParallel: --enable-expert-parallel spreads the experts "
                 "over all ranks of the replica")
    for name, key in (("gpu_memory_utilization", "gpuMemoryUtilization"), ("max_num_seqs", "maxBatchSize")):
        fact = engine.facts.get(name)
        if fact is None:
            continue
        try:
            value = float(str(fact.value)) if key == "gpuMemoryUtilization" else int(str(fact.value))
        except ValueError:
            continue
        pool.set(key, value, fact.origin, f"{key} from {fact.how}")
    groups = _int(workload.replicas, "replicas", workload, fragment)
    for what, where, fix in workload.missing:
        fragment.problem(f"{workload.name}: {what} not stated", where, element=pool.id, key=what, fix=fix)
    dp = _int(engine.facts.get("dp"), "data parallel", workload, fragment) or 1
    if groups is not None:
        how = workload.replicas.how
        replicas = groups * dp
        pool.set("replicas", replicas, workload.replicas.origin,
                 f"replicas from {how}" + (f" × data parallel {dp}" if dp > 1 else ""))
    if workload.namespace in tenants:
        pool.set("tenant", tenants[workload.namespace], workload.origin)
    nodes = _pod_nodes(workload, pool, groups, fragment)
    if nodes is not None:
        pool.set("hostedOn", [nodes.id], workload.gpus.origin if workload.gpus else workload.origin)
    _check_gpus(workload, pool, fragment)
    return fragment.add("pools", pool)


def _role(workload: Workload, pool: Element, fragment: Fragment) -> None:
    engine_role = workload.engine.facts.get("role")
    chosen = workload.role or engine_role
    if workload.role and engine_role and workload.role.value != engine_role.value:
        fragment.problem(f"role conflict: {workload.role.how} says {workload.role.value} (line "
                         f"{workload.role.origin.line}) but {engine_role.how} says {engine_role.value} (line "
                         f"{engine_role.origin.line})", engine_role.origin, element=pool.id, key="role",
                         severity="violation", code="conflict", fix="make the manifest consistent, or set role "
                         "in an overlay.")
    if chosen is None:
        pool.set("role", "colocated", workload.origin,
                 "role colocated: neither the stack nor the engine flags name prefill or decode")
        return
    how = chosen.how + (f"; the engine agrees ({engine_role.how})" if workload.role and engine_role
                        and engine_role.value == chosen.value and engine_role is not chosen else "")
    pool.set("role", chosen.value, chosen.origin, f"role from {how}")


def _pod_nodes(workload: Workload, pool: Element, groups: int | None, fragment: Fragment) -> Element | None:
    """The nodes the pool's pods hold: one entry, `acceleratorsPerNode` = the accelerators each pod requests."""
    nodes = Element(f"{pool.id}-nodes", origin=workload.gpus.origin if workload.gpus else workload.origin)
    nodes.meta.update({"pool": pool.id, "selector": {k: f.value for k, f in workload.node_selector.items()},
                       "placeholder": True})
    nodes.note("", f"the nodes {pool.id}'s pods run on: each pod holds acceleratorsPerNode of its node's devices "
                   "(the node itself may have more)")
    per_group = workload.nodes_per_replica.value if workload.nodes_per_replica else 1
    if groups is not None:
        nodes.set("count", groups * per_group, workload.replicas.origin,
                  f"count = {groups} replica group(s) × {per_group} pod(s) each"
                  + (f" ({workload.nodes_per_replica.how})" if workload.nodes_per_replica and per_group > 1 else ""))
    if workload.gpus is not None:
        count, resource = workload.gpus.value
        nodes.set("acceleratorsPerNode", count, workload.gpus.origin, f"acceleratorsPerNode from {workload.gpus.how}")
        mig = MIG_RESOURCE.match(str(resource))
        if mig:
            profile = mig.group("profile")
            nodes.set("virtualization.gpu", "mig", workload.gpus.origin, f"MIG slices requested as {resource}")
            if profile in catalog.mig_profiles():
                nodes.set("virtualization.migProfile", profile, workload.gpus.origin)
            else:
                fragment.problem(f"MIG profile {profile} is not in the catalog", workload.gpus.origin,
                                 element=nodes.id, key="virtualization.migProfile", severity="violation",
                                 code="unknown-mig-profile", fix="use a catalog profile (" +
                                 ", ".join(sorted(catalog.mig_profiles())) + ") or extend the catalog.")
        nodes.meta["resource"] = resource
    else:
        fragment.problem(f"{workload.name}: the pods request no accelerators", workload.origin, element=nodes.id,
                         key="acceleratorsPerNode", severity="violation", code="missing",
                         fix="add the GPU request (nvidia.com/gpu) to the manifest or write acceleratorsPerNode by hand.")
    _placement(workload, nodes, fragment)
    if workload.rdma:
        names = ", ".join(f"{name}: {count}" for name, count, _ in workload.rdma)
        for name, count, where in workload.rdma:
            if name == "vpc.amazonaws.com/efa" or name.startswith("rdma/"):
                nodes.set("nicsPerNode", count, where, f"nicsPerNode from the pod's RDMA devices ({names})")
                break
        nodes.meta["rdma"] = [name for name, _, _ in workload.rdma]
    if workload.networks is not None:
        nodes.note("", f"secondary network {workload.networks.value} ({workload.networks.how}, "
                       f"{workload.networks.origin.file}:{workload.networks.origin.line})")
        nodes.meta["networks"] = workload.networks.value
    return fragment.add("nodes", nodes)


def _placement(workload: Workload, nodes: Element, fragment: Fragment) -> None:
    """Accelerator model and instance type from the pod's node selector; a host name pins the pod to a Node."""
    selector = workload.node_selector
    for label in INSTANCE_LABELS:
        fact = selector.get(label)
        if fact is None:
            continue
        if fact.value in catalog.instance_types():
            nodes.set("instanceType", fact.value, fact.origin, f"instance type from the node selector {label}")
        else:
            fragment.problem(f"instance type {fact.value} is not in the cloud catalog", fact.origin,
                             element=nodes.id, key="instanceType", severity="warning", code="unknown-instance-type",
                             fix="write accelerator and acceleratorsPerNode by hand, or extend "
                                 "ontology/sortai-catalog-cloud.ttl.")
            nodes.meta["instance_type"] = fact.value
    for label in SELECTOR_PRODUCT_LABELS:
        fact = selector.get(label)
        if fact is None:
            continue
        model = catalog.accelerator_for_product(str(fact.value))
        if model:
            nodes.set("accelerator", model, fact.origin, f"accelerator {model}: the catalog's product name "
                      f"'{fact.value}' (node selector {label})")
        else:
            fragment.problem(f"GPU product '{fact.value}' (node selector {label}) is not a product name the "
                             "catalog knows", fact.origin, element=nodes.id, key="accelerator", severity="violation",
                             code="unknown-product", fix="write accelerator: <catalog name> by hand, or add the name "
                             "as sai:productName in ontology/sortai-catalog.ttl.")
        break
    host = selector.get("kubernetes.io/hostname")
    if host is not None:
        nodes.meta["hostnames"] = [host.value]
        nodes.note("", f"pinned to host {host.value} ({host.how}, {host.origin.file}:{host.origin.line}); a host "
                       "name says nothing about its GPUs")
    for label, fact in selector.items():
        for prefix, provider in CLOUD_LABEL_PREFIXES:
            if label.startswith(prefix):
                nodes.meta["provider"] = (provider, fact.origin, label)
    if not nodes.has("accelerator") and not nodes.has("instanceType"):
        nodes.meta["accelerator_missing"] = True


def _check_gpus(workload: Workload, pool: Element, fragment: Fragment) -> None:
    if workload.gpus is None:
        return
    per_pod = workload.gpus.value[0]
    pods = workload.nodes_per_replica.value if workload.nodes_per_replica else 1
    tp, pp = pool.get("tensorParallel") or 1, pool.get("pipelineParallel") or 1
    dp = _int(workload.engine.facts.get("dp"), "data parallel", workload, fragment) or 1
    if tp * pp * dp != per_pod * pods and not MIG_RESOURCE.match(str(workload.gpus.value[1])):
        fragment.problem(f"{workload.name}: tensorParallel {tp} × pipelineParallel {pp} × dataParallel {dp} = "
                         f"{tp * pp * dp} ranks per replica, but each replica holds {per_pod * pods} accelerator(s) "
                         f"({per_pod} per pod × {pods} pod(s))", workload.gpus.origin, element=pool.id,
                         key="tensorParallel", severity="warning", code="inconsistent",
                         fix="check the GPU request against the engine's parallelism flags.")


def _kv_transfers(workloads: list[Workload], pools: dict[str, Element], fragment: Fragment) -> None:
    groups: dict[str, list[Workload]] = {}
    for workload in workloads:
        if workload.group and workload.name in pools:
            groups.setdefault(workload.group, []).append(workload)
    for group, members in groups.items():
        prefill = [w for w in members if pools[w.name].get("role") == "prefill"]
        decode = [w for w in members if pools[w.name].get("role") == "decode"]
        if not prefill or not decode:
            continue
        for p in prefill:
            for d in decode:
                _kv_transfer(p, d, pools, fragment)


CONNECTORS = (("nixl", "NIXL"), ("mooncake", "Mooncake"), ("lmcache", "LMCache"), ("p2pnccl", "P2P NCCL"),
              ("nccl", "NCCL"))


def _kv_transfer(prefill: Workload, decode: Workload, pools: dict[str, Element], fragment: Fragment) -> None:
    source, target = pools[prefill.name], pools[decode.name]
    kv = Element(slug(f"{source.id}-to-{target.id}-kv"), origin=target.origin)
    kv.set("from", source.id, source.origins.get("role"))
    kv.set("to", target.id, target.origins.get("role"))
    parts, connector, where = [], None, None
    for side, workload in (("prefill", prefill), ("decode", decode)):
        e = workload.engine
        for name in ("kv_connector", "transfer_backend", "sidecar_kv_connector", "nixl_backends",
                     "env:SGLANG_DISAGGREGATION_NIXL_BACKEND", "env:UCX_TLS", "kv_role", "kv_buffer_device"):
            fact = e.facts.get(name)
            if fact is not None:
                parts.append(f"{side} {fact.how}: {fact.value}")
                if name in ("kv_connector", "transfer_backend") and connector is None:
                    connector, where = str(fact.value), fact.origin
    label = None
    if connector:
        for marker, name in CONNECTORS:
            if marker in connector.lower():
                label = name
                break
    kv.set("label", f"KV cache over {label or connector}" if connector else "KV cache hand-off", where)
    kv.set("description", "; ".join(parts) if parts else "the manifests name no KV connector", where)
    kv.meta.update({"connector": label or connector, "group": prefill.group})
    if not connector:
        fragment.problem(f"{kv.id}: the manifests name no KV connector (kv-transfer-config, "
                         "--disaggregation-transfer-backend)", target.origin, element=kv.id, severity="info",
                         code="missing")
    fragment.add("kvTransfers", kv)


def _control_loop(loop: Loop, workloads: list[Workload], pools: dict[str, Element], fragment: Fragment) -> None:
    element = Element(loop.id, origin=loop.origin)
    element.set("loopKind", loop.kind, loop.origin)
    if loop.layer:
        element.set("layer", loop.layer)
    if loop.timescale_ms is not None:
        element.set("timescaleMs", loop.timescale_ms.value, loop.timescale_ms.origin,
                    f"timescaleMs from {loop.timescale_ms.how}")
    if loop.observes:
        element.set("observes", list(loop.observes), loop.origin)
    if loop.actuates:
        element.set("actuates", list(loop.actuates))
    if loop.description:
        element.set("description", loop.description)
    governed = []
    for workload in workloads:
        pool = pools.get(workload.name)
        if pool is None:
            continue
        if loop.targets and ({workload.name, workload.group} | workload.aliases) & set(loop.targets):
            governed.append(pool.id)
        elif loop.target_labels and all(workload.pod_labels.get(k) == v for k, v in loop.target_labels.items()):
            governed.append(pool.id)
    if governed:
        element.set("governs", sorted(set(governed)), loop.origin)
    else:
        element.meta["unbound"] = True
    element.meta.update({"targets": list(loop.targets), "target_labels": dict(loop.target_labels)})
    for what, fix in loop.missing:
        fragment.problem(f"{loop.id}: {what} not stated", loop.origin, element=loop.id, key=what,
                         severity="violation", code="missing", fix=fix)
    fragment.add("controlLoops", element)


# --- Node objects ------------------------------------------------------------------------------------


def node_elements(nodes: list[tuple[Doc, dict]], fragment: Fragment) -> None:
    """Node objects (GPU feature discovery labels) as node entries, identical ones counted together."""
    grouped: dict[tuple, Element] = {}
    for doc, obj in nodes:
        labels = mapping(meta(obj).get("labels"))
        name = scalar(meta(obj).get("name")) or scalar(labels.get("kubernetes.io/hostname"))
        facts = _gfd(doc, obj, labels, fragment)
        key = tuple(sorted((k, str(v[0])) for k, v in facts.items() if not k.startswith("_")))
        if key in grouped:
            element = grouped[key]
            element.set("count", element.get("count", 1) + 1, element.origins.get("count"))
            element.meta["hostnames"].append(name)
            continue
        base = facts.get("instanceType", facts.get("accelerator", ("gpu-node", None)))[0]
        element = Element(slug(f"k8s-{base}-nodes"), origin=doc.at(obj))
        element.meta.update({"labels": {str(k): scalar(v) for k, v in labels.items()}, "hostnames": [name],
                             "inventory": True, "kind": "Node"})
        element.note("", "from Node objects" + (" (GPU feature discovery labels)" if any(
            str(k).startswith("nvidia.com/") for k in labels) else ""))
        for key_name, (value, where, how) in facts.items():
            if key_name.startswith("_"):
                continue
            element.set(key_name, value, where, how)
        element.set("count", 1, doc.at(obj))
        grouped[key] = fragment.add("nodes", element)
        fragment.sources.append(doc.file) if doc.file not in fragment.sources else None


def _gfd(doc: Doc, obj, labels, fragment: Fragment) -> dict[str, tuple]:
    facts: dict[str, tuple] = {}
    where = lambda label: doc.at(labels, label)  # noqa: E731
    product = scalar(labels.get("nvidia.com/gpu.product"))
    name = scalar(meta(obj).get("name")) or "node"
    if product:
        model = catalog.accelerator_for_product(product)
        if model:
            facts["accelerator"] = (model, where("nvidia.com/gpu.product"),
                                    f"accelerator {model}: the catalog's product name '{product}' (nvidia.com/gpu.product)")
        else:
            fragment.problem(f"GPU product '{product}' (nvidia.com/gpu.product) is not a product name the catalog knows",
                             where("nvidia.com/gpu.product"), element=name, key="accelerator", severity="violation",
                             code="unknown-product", fix="write accelerator: <catalog name> by hand, or add the name as "
                             "sai:productName in ontology/sortai-catalog.ttl.")
    machine = scalar(labels.get("nvidia.com/gpu.machine"))
    if machine and product:
        fragment.problem(f"label nvidia.com/gpu.machine '{machine}' is not used: the accelerator comes from "
                         "nvidia.com/gpu.product, which names the GPU itself", where("nvidia.com/gpu.machine"),
                         element=name, severity="info", code="not-used")
    count = scalar(labels.get("nvidia.com/gpu.count"))
    capacity = mapping(mapping(obj.get("status")).get("capacity"))
    if count and count.isdigit():
        facts["acceleratorsPerNode"] = (int(count), where("nvidia.com/gpu.count"), "nvidia.com/gpu.count")
    elif scalar(capacity.get("nvidia.com/gpu")):
        facts["acceleratorsPerNode"] = (int(scalar(capacity["nvidia.com/gpu"])), doc.at(capacity, "nvidia.com/gpu"),
                                        "status.capacity nvidia.com/gpu")
    for label in INSTANCE_LABELS:
        value = scalar(labels.get(label))
        if value and value in catalog.instance_types():
            facts["instanceType"] = (value, where(label), label)
            break
        if value:
            fragment.problem(f"instance type {value} is not in the cloud catalog", where(label), element=name,
                             severity="info", code="unknown-instance-type")
    strategy = scalar(labels.get("nvidia.com/mig.strategy"))
    profiles = {str(k)[len("nvidia.com/mig-"):-len(".count")]: (scalar(v), where(k)) for k, v in labels.items()
                if str(k).startswith("nvidia.com/mig-") and str(k).endswith(".count")}
    sharing = scalar(labels.get("nvidia.com/gpu.sharing-strategy"))
    replicas = scalar(labels.get("nvidia.com/gpu.replicas"))
    if product and "-MIG-" in product.upper():
        profile = product.rsplit("-MIG-", 1)[-1].lower()
        facts["virtualization.gpu"] = ("mig", where("nvidia.com/gpu.product"), "MIG single strategy (gpu.product)")
        facts["virtualization.migProfile"] = (profile, where("nvidia.com/gpu.product"), "gpu.product suffix")
    elif strategy == "mixed" and profiles:
        used = {p: c for p, (c, _) in profiles.items() if c and c != "0"}
        if len(used) == 1:
            profile = next(iter(used))
            facts["virtualization.gpu"] = ("mig", profiles[profile][1], "MIG mixed strategy")
            facts["virtualization.migProfile"] = (profile, profiles[profile][1], f"nvidia.com/mig-{profile}.count")
        elif used:
            fragment.problem("the node's GPUs are MIG-partitioned into mixed profiles " +
                             ", ".join(f"{p} × {c}" for p, c in sorted(used.items())) +
                             "; a node entry's virtualization block takes one migProfile",
                             where("nvidia.com/mig.strategy"), element=name, key="virtualization.migProfile",
                             severity="violation", code="mixed-mig",
                             fix="split the node into one entry per profile a pool uses, or name the profile by hand.")
            facts["virtualization.gpu"] = ("mig", where("nvidia.com/mig.strategy"), "MIG mixed strategy")
    if replicas and replicas.isdigit() and int(replicas) > 1:
        kind = {"mps": "mps"}.get(sharing or "", "time-sliced")
        facts["virtualization.gpu"] = (kind, where("nvidia.com/gpu.replicas"), f"nvidia.com/gpu.sharing-strategy {sharing}")
        facts["virtualization.sharesPerGPU"] = (int(replicas), where("nvidia.com/gpu.replicas"), "nvidia.com/gpu.replicas")
    for profile in [v[0] for k, v in facts.items() if k == "virtualization.migProfile"]:
        if profile not in catalog.mig_profiles():
            fragment.problem(f"MIG profile {profile} is not in the catalog", facts["virtualization.migProfile"][1],
                             element=name, key="migProfile", severity="violation", code="unknown-mig-profile",
                             fix="use a catalog profile or extend ontology/sortai-catalog.ttl.")
    if "accelerator" not in facts and "instanceType" not in facts:
        facts["_missing"] = (True, None, None)
    return facts
