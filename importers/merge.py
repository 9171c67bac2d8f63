"""Several imports into one description: manifests, then nodes, then nvidia-smi, then metrics, then overlays.

Merging binds what one source names and another describes:
- the nodes a pool's pods hold get the accelerator (and MIG or sharing regime) of the inventory nodes their node
  selector matches — Node objects, nvidia-smi hosts, GPU exporters' hosts; inventory entries for the same host
  (same host name or GPU UUID) become one;
- measurements get their component from their labels: `pod` (a pool whose workload name prefixes it), the
  model name (the one pool serving it), the host name or GPU UUID (a node);
- control loops govern the pools their target names.
A label or target that matches nothing is reported with its file and line, never dropped. Two sources that
disagree on a fact are reported with both origins; the first source's value is kept and the description is
invalid until an overlay settles it. An overlay (hand-written YAML in the description format) adds what no
artefact holds — SLOs, workloads, the environment — and wins over imported values, with a warning that names both.
"""

from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from sortai.reasoner.problems import InputError, Location, Problem

from .fragment import ORIGIN_COMMENT, SECTIONS, Element, Fragment, slug
from .yamldocs import read_text

ACCELERATOR_ARTEFACTS = ("Node objects with GPU feature discovery labels (`kubectl get nodes -o yaml`: "
                         "nvidia.com/gpu.product), an `nvidia-smi -L` or `nvidia-smi -q` capture of a host, DCGM "
                         "exporter metrics (modelName label), or a node selector on an instance type or GPU product")
NODE_FACTS = ("accelerator", "instanceType", "virtualization")


def merge(imports: list[Fragment], overlays: list[Fragment] = ()) -> Fragment:
    result = Fragment()
    for fragment in imports:
        _combine(result, fragment)
    for overlay in overlays:
        apply_overlay(result, overlay)
    bind(result)
    _final_checks(result)
    return result


def _combine(result: Fragment, fragment: Fragment) -> None:
    for model in fragment.elements("models"):
        same = next((m for m in result.elements("models") if m.get("hubId") and
                     str(m.get("hubId")).lower() == str(model.get("hubId") or "").lower()), None)
        if same is not None:
            _merge_element(same, model, result, overlay=False)
            fragment.remove("models", model.id)
            _rename(fragment, model.id, same.id)
    for node in fragment.elements("nodes"):
        if not node.meta.get("inventory"):
            continue
        same = next((n for n in result.elements("nodes") if n.meta.get("inventory") and _same_host(n, node)), None)
        if same is not None:
            _merge_element(same, node, result, overlay=False)
            same.meta.setdefault("uuids", [])
            same.meta["uuids"] = sorted(set(same.meta.get("uuids", [])) | set(node.meta.get("uuids", [])))
            fragment.remove("nodes", node.id)
            _rename(fragment, node.id, same.id)
    result.extend(fragment)


def _same_host(a: Element, b: Element) -> bool:
    hosts = set(filter(None, a.meta.get("hostnames", []))) & set(filter(None, b.meta.get("hostnames", [])))
    uuids = {u.removeprefix("GPU-") for u in a.meta.get("uuids", []) if u and set(u) - set("0-GPU")} & \
            {u.removeprefix("GPU-") for u in b.meta.get("uuids", []) if u and set(u) - set("0-GPU")}
    return bool(hosts or uuids)


def _rename(fragment: Fragment, old: str, new: str) -> None:
    from .fragment import rename_references

    rename_references(fragment, {old: new})


def _merge_element(into: Element, other: Element, result: Fragment, overlay: bool) -> None:
    for key, value in other.values.items():
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                _merge_key(into, other, f"{key}.{sub}", subvalue, result, overlay)
        else:
            _merge_key(into, other, key, value, result, overlay)
    for key, lines in other.comments.items():
        for line in lines:
            into.note(key, line)


def _merge_key(into: Element, other: Element, key: str, value, result: Fragment, overlay: bool) -> None:
    current = into.get(key)
    where = other.origins.get(key) or other.origin
    if key == "acceleratorsPerNode" and other.meta.get("kind") == "metrics" and current is not None \
            and value <= current:
        return  # an exporter only shows the GPUs it scraped: a lower bound, not a count
    if current is None:
        into.set(key, value, where)
        return
    if _same(current, value) or key in ("description", "label"):
        return
    mine = into.origins.get(key) or into.origin
    both = f"{current} ({_at(mine)}) and {value} ({_at(where)})"
    if overlay:
        result.problem(f"'{key}' of {into.id}: the overlay says {value} ({_at(where)}), the import said {current} "
                       f"({_at(mine)}); the overlay's value is used", where, element=into.id, key=key,
                       severity="warning", code="overlay-override")
        into.set(key, value, where)
    else:
        result.problem(f"conflict: '{key}' of {into.id} is {both}; {current} is kept", where, element=into.id,
                       key=key, severity="violation", code="conflict",
                       fix=f"find which source is right and set '{key}' in an overlay (--overlay).")
        into.note(key, f"CONFLICT: {both}")


def _same(a, b) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _at(where: Location | None) -> str:
    return f"{where.file}:{where.line}" if where and where.line else (where.file if where else "?")


# --- binding --------------------------------------------------------------------------------------------


def bind(fragment: Fragment) -> None:
    _bind_nodes(fragment)
    _bind_measurements(fragment)
    _bind_loops(fragment)
    _kv_paths(fragment)
    _environment(fragment)


def _selector_matches(placeholder: Element, node: Element) -> bool:
    selector = placeholder.meta.get("selector") or {}
    labels = node.meta.get("labels") or {}
    hostnames = set(node.meta.get("hostnames") or [])
    for label, value in selector.items():
        if label == "kubernetes.io/hostname":
            if value not in hostnames:
                return False
        elif label in ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type"):
            if node.get("instanceType") != value and labels.get(label) != value:
                return False
        elif label in ("nvidia.com/gpu.product", "cloud.google.com/gke-accelerator"):
            from . import catalog

            if labels.get(label) != value and node.get("accelerator") != catalog.accelerator_for_product(str(value)):
                return False
        elif labels and labels.get(label) != value:
            return False
        elif not labels:
            continue  # nvidia-smi and exporter hosts carry no Kubernetes labels: only GPU facts can exclude them
    return True


def _bind_nodes(fragment: Fragment) -> None:
    inventory = [n for n in fragment.elements("nodes") if n.meta.get("inventory") and n.has("accelerator")]
    for placeholder in [n for n in fragment.elements("nodes") if n.meta.get("placeholder")]:
        candidates = [n for n in inventory if _selector_matches(placeholder, n)]
        models = {n.get("accelerator") for n in candidates}
        if placeholder.has("accelerator") or placeholder.has("instanceType"):
            continue
        if len(models) == 1 and candidates:
            source = candidates[0]
            how = ("the only GPU model among the imported nodes" if not placeholder.meta.get("selector")
                   else "the imported nodes its node selector matches")
            placeholder.set("accelerator", source.get("accelerator"), source.origins.get("accelerator"),
                            f"accelerator {source.get('accelerator')}: {how} ({', '.join(n.id for n in candidates)})")
            for key in ("virtualization.gpu", "virtualization.migProfile", "virtualization.sharesPerGPU"):
                if source.get(key) is not None and placeholder.get(key) is None and \
                        all(n.get(key) == source.get(key) for n in candidates):
                    placeholder.set(key, source.get(key), source.origins.get(key), f"{key} from {source.id}")
            per_node = source.get("acceleratorsPerNode")
            if per_node is not None and placeholder.get("acceleratorsPerNode") is not None and \
                    placeholder.get("acceleratorsPerNode") > per_node:
                fragment.problem(f"{placeholder.id}: each pod requests {placeholder.get('acceleratorsPerNode')} "
                                 f"accelerators but the matching nodes ({source.id}) have {per_node}",
                                 placeholder.origins.get("acceleratorsPerNode"), element=placeholder.id,
                                 key="acceleratorsPerNode", severity="violation", code="conflict",
                                 fix="check the node selector or the GPU request; the pods cannot be scheduled as written.")
            placeholder.meta.pop("accelerator_missing", None)
        elif len(models) > 1:
            fragment.problem(f"{placeholder.id}: the pods may run on nodes of several GPU models "
                             f"({', '.join(sorted(models))}); no node selector decides", placeholder.origin,
                             element=placeholder.id, key="accelerator", severity="violation", code="ambiguous",
                             fix="add a nodeSelector (nvidia.com/gpu.product) to the manifest, or write accelerator "
                                 "by hand in an overlay.")
            placeholder.meta.pop("accelerator_missing", None)


def _pod_match(pool: Element, pod: str) -> int:
    """Length of the longest workload name of `pool` that the pod name is (or starts with, plus '-'); 0 if none."""
    return max((len(alias) for alias in pool.meta.get("aliases", ()) if alias and
                (pod == alias or pod.startswith(f"{alias}-"))), default=0)


def _bind_measurements(fragment: Fragment) -> None:
    pools = fragment.elements("pools")
    nodes = fragment.elements("nodes")
    for measurement in fragment.elements("measurements"):
        if measurement.has("component") or not measurement.meta.get("observation"):
            continue
        labels = measurement.meta.get("labels", {})
        found, how = None, None
        pod = labels.get("pod") or labels.get("exported_pod")
        if pod:
            scores = {p.id: _pod_match(p, pod) for p in pools}
            best = max(scores.values(), default=0)
            matches = [p for p in pools if best and scores[p.id] == best]
            if len(matches) == 1:
                found, how = matches[0], f"label pod={pod}"
        if found is None:
            model = labels.get("model_name") or labels.get("model")
            if model:
                matches = [p for p in pools if model.lower() in {str(p.meta.get("served_model") or "").lower(),
                                                                 str(p.meta.get("model_hub") or "").lower()}]
                if len(matches) == 1:
                    found, how = matches[0], f"label model_name={model}"
                elif len(matches) > 1:
                    fragment.problem(f"measurement {measurement.id}: model {model} is served by "
                                     f"{', '.join(p.id for p in matches)}; the labels do not say which",
                                     measurement.origin, element=measurement.id, key="component", severity="violation",
                                     code="ambiguous", fix="scrape with a pod label, or set component in an overlay.")
                    continue
        if found is None:
            host = labels.get("Hostname") or labels.get("hostname")
            uuid = labels.get("UUID") or labels.get("uuid")
            for node in nodes:
                if (host and host in node.meta.get("hostnames", [])) or (uuid and uuid in node.meta.get("uuids", [])):
                    found, how = node, f"label {'Hostname=' + host if host else 'UUID=' + str(uuid)}"
                    break
        if found is not None:
            measurement.set("component", found.id, measurement.origin, f"component {found.id}: {how}")
            if found.has("virtualization") and found.get("virtualization.gpu"):
                measurement.set("regime", found.get("virtualization.gpu"), measurement.origin)
        else:
            shown = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) or "no labels"
            fragment.problem(f"measurement {measurement.id}: its labels ({shown}) match no pool or node of the "
                             "import", measurement.origin, element=measurement.id, key="component", severity="violation",
                             code="unmatched", fix="import the manifests or nodes it belongs to, or set component: in "
                                                   "an overlay.")


def _bind_loops(fragment: Fragment) -> None:
    pools = fragment.elements("pools")
    for loop in fragment.elements("controlLoops"):
        if not loop.meta.get("unbound"):
            continue
        targets = set(loop.meta.get("targets", []))
        labels = loop.meta.get("target_labels", {})
        governed = [p.id for p in pools if targets & (set(p.meta.get("aliases", ())) | {p.meta.get("group")})
                    or (labels and all(p.meta.get("pod_labels", {}).get(k) == v for k, v in labels.items()))]
        if governed:
            loop.set("governs", sorted(set(governed)), loop.origin)
            loop.meta.pop("unbound")
        else:
            what = ", ".join(sorted(targets)) or ", ".join(f"{k}={v}" for k, v in labels.items()) or "nothing named"
            fragment.problem(f"control loop {loop.id} targets {what}, which is not among the imported workloads",
                             loop.origin, element=loop.id, key="governs", severity="violation", code="unmatched",
                             fix="import the manifests of the workload it scales, or set governs: in an overlay.")


def _kv_paths(fragment: Fragment) -> None:
    """A KV transfer crosses the fabric of its pools' nodes, when an instance type's NIC names it."""
    from . import catalog

    nodes = {n.id: n for n in fragment.elements("nodes")}
    pools = {p.id: p for p in fragment.elements("pools")}
    for kv in fragment.elements("kvTransfers"):
        if kv.has("via"):
            continue
        ends = [pools.get(kv.get("from")), pools.get(kv.get("to"))]
        hosts = [nodes.get(h) for p in ends if p for h in p.get("hostedOn") or []]
        types = {h.get("instanceType") for h in hosts if h is not None}
        nic = None
        if len(types) == 1 and None not in types:
            facts = catalog._facts().get(catalog.CAT + next(iter(types)), {})
            link = facts.get(catalog.SAI + "nicLinkType")
            nic = link[0].value[len(catalog.CAT):] if link else None
        if nic:
            fabric_id = slug(f"{next(iter(types))}-fabric")
            if fragment.get("fabrics", fabric_id) is None:
                fabric = Element(fabric_id, origin=hosts[0].origins.get("instanceType"))
                fabric.set("linkType", nic, hosts[0].origins.get("instanceType"),
                           f"the scale-out NIC of {next(iter(types))} (cloud catalog)")
                fragment.add("fabrics", fabric)
            for host in hosts:
                host.set("fabric", fabric_id, host.origins.get("instanceType"))
            kv.set("via", [fabric_id], kv.origin, "the KV cache crosses the nodes' scale-out fabric (the pods may "
                                                  "also share a host; no anti-affinity forbids it unless stated)")
        else:
            rdma = sorted({r for h in hosts if h is not None for r in h.meta.get("rdma", [])})
            network = sorted({h.meta.get("networks") for h in hosts if h is not None and h.meta.get("networks")})
            stated = (f" (the pods get {', '.join(rdma)}" + (f" on network {', '.join(network)}" if network else "")
                      + ")") if rdma or network else ""
            fragment.problem(f"{kv.id}: the network the KV cache crosses is not stated{stated}: its link type and "
                             "speed are absent", kv.origin, element=kv.id, key="via", severity="violation",
                             code="missing", fix="add a link (linkType, e.g. RoCE-200G, or bandwidthGBps) connecting "
                                                 "the two pools and list it in via:, in an overlay.")


def _environment(fragment: Fragment) -> None:
    providers = {}
    for node in fragment.elements("nodes"):
        provider = node.meta.get("provider")
        if provider:
            providers.setdefault(provider[0], provider)
    from . import catalog

    for node in fragment.elements("nodes"):
        if node.get("instanceType"):
            facts = catalog._facts().get(catalog.CAT + node.get("instanceType"), {})
            name = facts.get(catalog.SAI + "provider")
            if name:
                providers.setdefault(name[0].value, (name[0].value, node.origins.get("instanceType"),
                                                     "the instance type's provider (cloud catalog)"))
    if len(providers) != 1 or fragment.elements("environments"):
        return
    name, where, how = next(iter(providers.values()))
    environment = Element(slug(f"{name}-cloud"), origin=where)
    environment.set("kind", "public-cloud", where, f"public cloud: {how}")
    environment.set("provider", name, where)
    fragment.add("environments", environment)
    cluster = Element("k8s-cluster", origin=where)
    cluster.set("environment", environment.id, where)
    cluster.set("label", "the Kubernetes cluster the manifests run on")
    fragment.add("clusters", cluster)
    for node in fragment.elements("nodes"):
        if not node.has("cluster") and not node.has("rack"):
            node.set("cluster", cluster.id)


def _final_checks(fragment: Fragment) -> None:
    for node in fragment.elements("nodes"):
        if node.has("accelerator") or node.has("instanceType") or not node.meta.get("accelerator_missing"):
            continue
        pool = node.meta.get("pool")
        fragment.problem(f"no artefact states the accelerator model of {node.id}" + (f" (pool {pool})" if pool else "")
                         + f": {ACCELERATOR_ARTEFACTS} would tell it", node.origin, element=node.id,
                         key="accelerator", severity="violation", code="missing-accelerator",
                         fix="import one of those, or write accelerator: <catalog name> (e.g. H100-SXM) for this node "
                             "in an overlay.")
        node.note("", "accelerator: NOT STATED by any artefact — " + ACCELERATOR_ARTEFACTS +
                  " would tell it; write e.g. accelerator: H100-SXM")
    if not fragment.elements("pools"):
        fragment.problem("no serving pool was imported: a description needs at least one", None, severity="violation",
                         code="missing", fix="import the serving manifests (sortai import k8s) with the other artefacts.")


# --- overlays --------------------------------------------------------------------------------------------


def load_overlay(path: str | Path) -> Fragment:
    """A hand-written description fragment; its `# from FILE:LINE` comments (a previous import) are kept."""
    text = read_text(path)
    yaml = YAML(typ="rt", pure=True)
    try:
        tree = yaml.load(io.StringIO(text))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError([Problem(f"YAML syntax error: {getattr(exc, 'problem', exc)}",
                                  Location(str(path), mark.line + 1 if mark else None), code="syntax")]) from None
    if tree is None:
        tree = CommentedMap()
    if not isinstance(tree, CommentedMap):
        raise InputError([Problem("an overlay is a description: a mapping of sections (workloads, environments, ...)",
                                  Location(str(path), 1), code="structure")])
    fragment = Fragment(sources=[str(path)])
    for key in ("id", "label", "description"):
        if key in tree:
            fragment.top[key] = str(tree[key])
    for section, items in tree.items():
        if section in ("id", "label", "description"):
            continue
        if section not in SECTIONS or not isinstance(items, CommentedSeq):
            raise InputError([Problem(f"unknown overlay section '{section}'", _loc(path, tree, section),
                                      code="unknown-key", fix="use the sections of examples/README.md: "
                                      + ", ".join(SECTIONS) + ".")])
        for index, item in enumerate(items):
            if not isinstance(item, CommentedMap) or "id" not in item:
                raise InputError([Problem(f"element {index + 1} of '{section}' needs an id", _loc(path, items, index),
                                          code="missing-id")])
            element = Element(str(item["id"]), origin=_origin(item, "id") or _loc(path, item, "id"))
            for key, value in item.items():
                if key == "id":
                    continue
                if isinstance(value, CommentedMap):
                    for sub, subvalue in value.items():
                        element.set(f"{key}.{sub}", _plain(subvalue), _origin(value, sub) or _loc(path, value, sub))
                else:
                    element.set(str(key), _plain(value), _origin(item, key) or _loc(path, item, key))
            fragment.sections.setdefault(section, {})[element.id] = element
    return fragment


def _plain(value):
    if isinstance(value, CommentedSeq):
        return [_plain(v) for v in value]
    if isinstance(value, CommentedMap):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _loc(path, node, key) -> Location:
    try:
        line = node.lc.key(key)[0] + 1 if isinstance(node, CommentedMap) else node.lc.item(key)[0] + 1
    except (KeyError, IndexError, AttributeError):
        line = None
    return Location(str(path), line)


def _origin(node: CommentedMap, key) -> Location | None:
    """The `# from FILE:LINE` comment at the end of `key`'s line, if a previous import wrote one."""
    token = (node.ca.items.get(key) or [None, None, None])[2]
    if token is None:
        return None
    match = ORIGIN_COMMENT.match(token.value.split("\n", 1)[0].strip())
    return Location(match.group("file"), int(match.group("line"))) if match else None


def apply_overlay(result: Fragment, overlay: Fragment) -> None:
    for section, elements in overlay.sections.items():
        for element in elements.values():
            existing = next((e for s in SECTIONS for e in result.elements(s) if e.id == element.id), None)
            if existing is not None:
                _merge_element(existing, element, result, overlay=True)
                if result.get(section, element.id) is None:
                    result.problem(f"the overlay lists {element.id} under '{section}', the import has it elsewhere",
                                   element.origin, element=element.id, severity="violation", code="structure")
            else:
                result.sections.setdefault(section, {})[element.id] = element
    result.top.update(overlay.top)
    result.sources.extend(s for s in overlay.sources if s not in result.sources)
