"""Remedies the reasoner verifies: concrete edits of the description, applied to a copy and re-diagnosed.

Each structural condition kind and serving finding names remedies as changes a user would make to the description
(`pools › l4-decode-nodes › accelerator: L4 → H100-SXM`). A remedy is applied to a copy of the description's
triples, the copy is validated and reasoned over, and the two are compared: which diagnoses the change removes,
which it leaves (and how their severity moves), which it introduces, how the key numbers move, and what it costs in
accelerators and board power where the catalog knows them.

Measurements describe the design that was measured, not the changed one, so both sides of the comparison are
diagnosed without them (the measured diagnoses are listed as not re-evaluated). Where a change needs sizing (a new
accelerator class, added or removed replicas), the copy is reasoned over once to read the replicas it needs, the
node count is set to that with a margin, and the result is reasoned over again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pyoxigraph as ox

from . import resources
from .description import Description, load_bytes
from .diagnoses import Diagnosis
from .diagnoses import diagnoses as read_diagnoses
from .engine import Reasoning, infer
from .headlines import Facts, show_number, written_value
from .incremental import update
from .vocabulary import RDF_TYPE, vocabulary

SAI = resources.SAI
CAT = resources.CAT
SIZING_MARGIN = 1.2  # replicas sized to 1.2 × what the load needs (ours: room for bursts; F05 fires at 3×)
MEASUREMENT = SAI + "Measurement"
CONTAINERS = {  # top-level key → the deployment's property that lists its elements
    "nodes": SAI + "hasNode", "pools": SAI + "hasPool", "links": SAI + "hasLink"}


# --- the edits -------------------------------------------------------------------------------------------


@dataclass
class Change:
    """One edit of the description, as a user would make it."""

    element: str  # element id; a nested block as `node/virtualization`
    key: str  # the description key
    before: list = field(default_factory=list)
    after: list = field(default_factory=list)
    added: bool = False  # a new element (copied from `before[0]`)

    def text(self) -> str:
        if self.key == "(element)":
            return f"remove {self.element}"
        if self.added:
            return f"add {self.element} (like {self.before[0]}): " + ", ".join(f"{k}: {v}" for k, v in self.after)
        where = self.element.replace("/", " › ")
        shown = lambda values: ("[" + ", ".join(map(str, values)) + "]" if len(values) != 1 else str(values[0])) \
            if values else "(none)"
        return f"{where} › {self.key}: {shown(self.before)} → {shown(self.after)}"

    def to_json(self) -> dict:
        return {"element": self.element, "key": self.key, "before": self.before,
                "after": [list(x) for x in self.after] if self.added else self.after, "added": self.added,
                "text": self.text()}


class Editor:
    """Edits a copy of a description's triples in the description's own vocabulary (keys and written values)."""

    def __init__(self, description: Description):
        self.description = description
        self.base = description.base
        self.vocab = vocabulary()
        self.triples: list[ox.Triple] = list(description.triples)
        self.changes: list[Change] = []

    def iri(self, element: str) -> ox.NamedNode:
        return ox.NamedNode(self.base + element)

    def _term(self, key: str):
        return self.vocab.terms[key]

    def written(self, term, value) -> object:
        if isinstance(value, ox.Literal):
            text = value.value
            try:
                number = float(text)
                return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
            except ValueError:
                return text
        if value.value.startswith(self.base):
            return value.value[len(self.base):]
        return written_value(value.value) if value.value.startswith(SAI) else self.vocab.value_name(value.value)

    def to_rdf(self, key: str, value) -> ox.Term:
        term = self._term(key)
        if term.kind == "reference":
            return self.iri(str(value))
        if term.kind == "catalog":
            return ox.NamedNode(CAT + str(value))
        if term.kind == "enum":
            return ox.NamedNode(dict(term.enum)[str(value)])
        if term.datatype:
            return ox.Literal(str(value), datatype=ox.NamedNode(term.datatype))
        return ox.Literal(str(value))

    def get(self, element: str, key: str) -> list:
        predicate = self._term(key).iri
        subject = self.iri(element)
        return sorted((self.written(self._term(key), t.object) for t in self.triples
                       if t.subject == subject and t.predicate.value == predicate), key=str)

    def set(self, element: str, key: str, values: list, record: bool = True) -> None:
        before = self.get(element, key)
        if [str(v) for v in before] == [str(v) for v in sorted(values, key=str)]:
            return
        predicate = ox.NamedNode(self._term(key).iri)
        subject = self.iri(element)
        self.triples = [t for t in self.triples if not (t.subject == subject and t.predicate == predicate)]
        self.triples += [ox.Triple(subject, predicate, self.to_rdf(key, v)) for v in values]
        self._forget_catalog_entry(subject, predicate)
        if record:
            self._record(Change(element, key, before, list(values)))

    def _record(self, change: Change) -> None:
        """One change per element and key: a later edit of the same key updates the earlier one."""
        for earlier in self.changes:
            if earlier.element == change.element and earlier.key == change.key and not earlier.added:
                earlier.after = change.after
                if [str(v) for v in earlier.before] == [str(v) for v in earlier.after]:
                    self.changes.remove(earlier)
                return
        self.changes.append(change)

    def _forget_catalog_entry(self, subject: ox.NamedNode, predicate: ox.NamedNode) -> None:
        """A fact filled in from an instance type or hub id that is edited: the entry no longer describes the
        element, so its name goes (the facts it filled stay, written out)."""
        owner = subject.value.rsplit("/virtualization", 1)[0]
        for triple, entry in self.description.filled_from.items():
            if triple.subject == subject and triple.predicate == predicate:
                named = {SAI + "instanceType", SAI + "hubId"}
                self.triples = [t for t in self.triples
                                if not (t.subject.value == owner and t.predicate.value in named)]

    def copy(self, source: str, new: str, container: str, overrides: dict) -> None:
        """A new element like `source` (its nested blocks too), with `overrides` (key → values)."""
        old = self.base + source
        added = []
        for t in list(self.triples):
            if t.subject.value == old or t.subject.value.startswith(old + "/"):
                subject = ox.NamedNode(self.base + new + t.subject.value[len(old):])
                value = t.object
                if isinstance(value, ox.NamedNode) and value.value.startswith(old + "/"):
                    value = ox.NamedNode(self.base + new + value.value[len(old):])
                added.append(ox.Triple(subject, t.predicate, value))
        self.triples += added
        self.triples.append(ox.Triple(ox.NamedNode(self.description.deployment), ox.NamedNode(CONTAINERS[container]),
                                      self.iri(new)))
        for key, values in overrides.items():
            self.set(new, key, values, record=False)
        self.changes.append(Change(new, container, [source], sorted(overrides.items()), added=True))

    def remove(self, *elements: str) -> None:
        """Drop elements (and their nested blocks) and every reference to them, in one pass over the triples."""
        iris = {self.base + e for e in elements}
        nested = tuple(iri + "/" for iri in iris)
        self.triples = [t for t in self.triples if not (t.subject.value in iris or t.subject.value.startswith(nested)
                                                        or t.object.value in iris)]
        self.changes += [Change(e, "(element)", [e], [], added=False) for e in elements]

    def without_measurements(self) -> list[ox.Triple]:
        measured = {t.subject for t in self.triples if t.predicate.value == RDF_TYPE and t.object.value == MEASUREMENT}
        return [t for t in self.triples if t.subject not in measured and t.object not in measured]


def unmeasured(description: Description) -> Description:
    """The description without its measurements (the design alone)."""
    return replace(description, triples=Editor(description).without_measurements())


def as_turtle(description: Description, triples: list[ox.Triple]) -> bytes:
    return ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes={"sai": SAI, "cat": CAT})


def reload(description: Description, triples: list[ox.Triple]) -> Description:
    """The edited triples as a Turtle file would give them back (the path a user's re-run takes)."""
    return load_bytes(as_turtle(description, triples), f"{description.name}.ttl", "turtle", description.name)


# --- remedies ----------------------------------------------------------------------------------------------


@dataclass
class Remedy:
    kind: str  # a short name of the remedy, e.g. "decode-on-prefill-class"
    title: str
    why: str
    targets: list[str]  # IRIs of the conditions or findings it addresses
    apply: object  # callable(Editor, Facts) -> None
    size: tuple[str, list[str]] | None = None  # (pool, node groups): size their node counts to the replicas needed
    watch: list[tuple[str, str, str]] = field(default_factory=list)  # (element, quantity, label)
    caveat: str = ""


def _pools_on(f: Facts, node: str) -> list[str]:
    return sorted({q.subject.value for q in f.store.quads_for_pattern(None, ox.NamedNode(SAI + "hostedOn"),
                                                                      ox.NamedNode(node), None)})


def _rel(f: Facts, iri: str | None) -> str:
    return f.description.element_name(iri) if iri else "?"


def _nodes_of(f: Facts, pool: str) -> list[str]:
    return f.iris(pool, SAI + "hostedOn")


def _sole_host(f: Facts, pool: str) -> str | None:
    """The pool's one node group, when no other pool uses it (so it can be changed for this pool alone)."""
    nodes = _nodes_of(f, pool)
    return nodes[0] if len(nodes) == 1 and _pools_on(f, nodes[0]) == [pool] else None


NODE_TYPE_KEYS = ("accelerator", "acceleratorsPerNode", "nic", "nicsPerNode", "scaleUpDomainSize", "peerToPeer",
                  "gpuDirectRDMA")


def _like_node(e: Editor, target: str, model: str) -> None:
    """Make `target` a node group of `model`'s type: its accelerator and NICs, its virtualization regime."""
    for key in NODE_TYPE_KEYS:
        e.set(target, key, e.get(model, key))
    for key in ("gpu", "network", "hypervisor"):
        values = e.get(model + "/virtualization", key)
        if values and e.get(target + "/virtualization", "gpu"):
            e.set(target + "/virtualization", key, values)


def remedies_for(f: Facts, diagnosis: Diagnosis) -> list[Remedy]:
    """The remedies of a diagnosis's structural conditions (or of the finding itself)."""
    from .headlines import evidence_of

    found: list[Remedy] = []
    if diagnosis.kind == "finding":
        make = FINDING_REMEDIES.get(diagnosis.mode)
        if make:
            found += make(f, diagnosis.iri, diagnosis.component_iri)
        return found
    for evidence in evidence_of(f, diagnosis.iri):
        if evidence.condition and evidence.score > 0:
            make = CONDITION_REMEDIES.get(evidence.kind)
            if make:
                found += make(f, evidence.condition, evidence.component)
    return found


# Each maker: (facts, condition or finding IRI, the component it concerns) -> [Remedy]


def _decode_on_prefill_class(f: Facts, target: str, path: str) -> list[Remedy]:
    source, decode = f.iri(path, SAI + "fromPool"), f.iri(path, SAI + "toPool")
    host, model_node = _sole_host(f, decode), (_nodes_of(f, source) or [None])[0]
    if not host or not model_node:
        return []
    model = f.name(f.iri(model_node, SAI + "acceleratorModel"))
    return [Remedy(
        "decode-on-prefill-class", f"decode on {model}, like prefill",
        f"{_rel(f, decode)} runs on the class {_rel(f, source)} runs on, so the KV cache stays in one memory and "
        "timing regime; the node count is sized to the replicas the load needs on that class",
        [target], lambda e, _: _like_node(e, _rel(f, host), _rel(f, model_node)), size=(_rel(f, decode), [_rel(f, host)]),
        watch=[(_rel(f, decode), "decodeStepFloorMs", "decode-step floor"),
               (_rel(f, decode), "predictedTPOTMs", "TPOT at the offered load"),
               (_rel(f, decode), "kvCapacitySequencesP99", "p99 requests per replica")])]


def _decode_on_faster_class(f: Facts, target: str, pool: str) -> list[Remedy]:
    for path in sorted({q.subject.value for q in f.store.quads_for_pattern(None, ox.NamedNode(SAI + "toPool"),
                                                                            ox.NamedNode(pool), None)}):
        return [replace(r, targets=[target]) for r in _decode_on_prefill_class(f, target, path)]
    return []


def _fp8_weights(f: Facts, target: str, pool: str) -> list[Remedy]:
    model = f.iri(pool, SAI + "servesModel")
    if not model or f.iri(model, SAI + "weightDtype") in (SAI + "FP8", SAI + "INT4", SAI + "NVFP4", SAI + "MXFP4"):
        return []
    return [Remedy(
        "fp8-weights", "FP8 weights", f"{_rel(f, model)} served with FP8 weights: half the bytes every decode step "
        "streams and every shard holds", [target], lambda e, _: e.set(_rel(f, model), "weightDtype", ["fp8"]),
        watch=[(_rel(f, pool), "decodeStepFloorMs", "decode-step floor"),
               (_rel(f, pool), "weightBytesPerDeviceGB", "weights per device")],
        caveat="validate the model's accuracy at FP8 (and that the serving engine and the part support FP8 GEMMs)")]


def _fp8_kv(f: Facts, target: str, pool: str) -> list[Remedy]:
    model = f.iri(pool, SAI + "servesModel")
    if not model or f.iri(model, SAI + "kvCacheDtype") == SAI + "FP8":
        return []
    return [Remedy(
        "fp8-kv-cache", "FP8 KV cache", f"{_rel(f, model)}'s KV cache in FP8: twice the sequences in the same memory",
        [target], lambda e, _: e.set(_rel(f, model), "kvDtype", ["fp8"]),
        watch=[(_rel(f, pool), "kvCapacitySequencesP99", "p99 requests per replica"),
               (_rel(f, pool), "kvCapacityTokens", "KV capacity per replica")],
        caveat="check accuracy with an FP8 KV cache (vLLM --kv-cache-dtype fp8)")]


def _tp_inside_domain(f: Facts, target: str, pool: str) -> list[Remedy]:
    tp, pp = f.number(pool, SAI + "tensorParallelism"), f.number(pool, SAI + "pipelineParallelism") or 1
    domain = f.number(pool, SAI + "scaleUpDomainAccelerators")
    if not tp or not domain or tp <= domain or tp % domain:
        return []
    name = _rel(f, pool)
    split = [Remedy(
        "tp-inside-scale-up-domain", f"TP {int(domain)} × PP {int(pp * tp // domain)} instead of TP {int(tp)}",
        "the tensor-parallel group kept inside one scale-up domain; the same GPUs per replica as pipeline stages, "
        "so only one activation per token crosses the scale-out fabric", [target],
        lambda e, _: (e.set(name, "tensorParallel", [int(domain)]), e.set(name, "pipelineParallel", [int(pp * tp // domain)])),
        watch=[(name, "tensorCrossingExtraMs", "time lost to crossing the domain per step"),
               (name, "collectiveStepMs", "step time"), (name, "predictedTPOTMs", "TPOT at the offered load")])]
    model = f.iri(pool, SAI + "servesModel")
    if model and f.iri(model, SAI + "weightDtype") in (SAI + "BF16", SAI + "FP16"):
        split.append(Remedy(
            "fp8-weights-in-one-domain", f"FP8 weights, TP {int(domain)} in one scale-up domain",
            "FP8 halves the weights, so a replica fits one scale-up domain with no pipeline stages",
            [target], lambda e, _: (e.set(_rel(f, model), "weightDtype", ["fp8"]), e.set(name, "tensorParallel", [int(domain)]),
                                    e.set(name, "pipelineParallel", [1])),
            watch=[(name, "tensorCrossingExtraMs", "time lost to crossing the domain per step"),
                   (name, "kvCapacitySequencesP99", "p99 requests per replica"),
                   (name, "predictedTPOTMs", "TPOT at the offered load")],
            caveat="validate the model's accuracy at FP8"))
    return split


def _tp_one(f: Facts, target: str, pool: str) -> list[Remedy]:
    tp = f.number(pool, SAI + "tensorParallelism")
    remedies = []
    for node in _nodes_of(f, pool):  # a time-sliced or MIG device has no peer-to-peer: whole GPUs have NVLink
        regime = f.iri(f.iri(node, SAI + "virtualization"), SAI + "gpuVirtualization")
        if regime in (SAI + "TimeSlicedVGPU", SAI + "KubernetesTimeSlicing", SAI + "MultiProcessService"):
            remedies += _whole_gpus(f, target, node)
    weights = (f.number(pool, SAI + "weightBytesPerDeviceGB") or 0) * (tp or 1)
    memory = f.number(pool, SAI + "minDeviceMemoryGB") or 0
    if not tp or tp <= 1 or weights > 0.6 * memory:  # one device must hold the weights and still have KV room
        return remedies
    name = _rel(f, pool)
    return remedies + [Remedy(
        "no-tensor-parallelism", f"TP 1 instead of TP {int(tp)}", "one device per replica: no all-reduce crosses "
        "PCIe or host memory (twice the replicas on the same GPUs, each with less KV room)", [target],
        lambda e, _: e.set(name, "tensorParallel", [1]),
        watch=[(name, "tensorCollectiveMs", "all-reduce time per step"),
               (name, "kvCapacitySequencesP99", "p99 requests per replica"), (name, "replicasNeeded", "replicas needed")])]


def _larger_mig_profile(f: Facts, target: str, pool: str) -> list[Remedy]:
    nodes = [n for n in _nodes_of(f, pool) if f.iri(f.iri(n, SAI + "virtualization"), SAI + "migProfile")]
    if len(nodes) != 1 or _pools_on(f, nodes[0]) != [pool]:
        return []
    node = nodes[0]
    current = f.iri(f.iri(node, SAI + "virtualization"), SAI + "migProfile")
    accelerator = f.iri(node, SAI + "acceleratorModel")
    memory = f.number(current, SAI + "migMemoryGB") or 0
    larger = sorted(((f.number(q.subject.value, SAI + "migMemoryGB") or 0, q.subject.value)
                     for q in f.store.quads_for_pattern(None, ox.NamedNode(SAI + "supportedOn"),
                                                        ox.NamedNode(accelerator), None)
                     if "+me" not in q.subject.value), key=lambda x: (x[0], x[1]))
    remedies = []
    for size, profile in larger:
        if size <= memory:
            continue
        name = f.name(profile)
        remedies.append(Remedy(
            "larger-mig-profile", f"MIG {name} slices instead of {f.name(current)}",
            f"slices of {show_number(size)} GB instead of {show_number(memory)} GB: room for the weights and the KV "
            "cache of long requests (fewer slices per GPU)", [target],
            lambda e, _, n=_rel(f, node), p=name: e.set(n + "/virtualization", "migProfile", [p]),
            watch=[(_rel(f, pool), "kvCapacitySequencesP99", "p99 requests per replica"),
                   (_rel(f, pool), "modelReplicasPresent", "replicas present")]))
        break  # the smallest larger profile; the re-diagnosis says whether it is enough
    return remedies


def _faster_kv_path(f: Facts, target: str, path: str) -> list[Remedy]:
    links = f.iris(path, SAI + "overLink")
    decode = f.iri(path, SAI + "toPool")
    host = _sole_host(f, decode)
    if not links or not host:
        return []
    per_node = f.number(host, SAI + "acceleratorsPerNode") or 1

    def apply(e: Editor, _):
        e.set(_rel(f, host), "nic", ["RoCE-400G"])
        e.set(_rel(f, host), "nicsPerNode", [int(per_node)])
        for link in links:
            e.set(_rel(f, link), "linkType", ["RoCE-400G"])
            if e.get(_rel(f, link), "bandwidthGBps"):
                e.set(_rel(f, link), "bandwidthGBps", [50])

    return [Remedy(
        "kv-path-400g-per-gpu", "a 400 Gb/s RDMA NIC per decode GPU for the KV path",
        f"{_rel(f, host)} gets one RoCE-400G NIC per GPU ({int(per_node)} per node) and the KV path runs at 50 GB/s "
        "per direction", [target], apply,
        watch=[(_rel(f, path), "kvTransferTimeP99Ms", "KV transfer of the p99 prompt"),
               (_rel(f, path), "kvTransferShareOfTTFT", "share of the TTFT target")],
        caveat="the prefill side must reach the same bandwidth; cost of the NICs and switch ports is not in the catalog")]


def _whole_gpus(f: Facts, target: str, owner: str) -> list[Remedy]:
    config = f.iri(owner, SAI + "virtualization")
    shares = f.number(config, SAI + "sharesPerGPU") or 1
    name = _rel(f, owner)
    if f.iri(owner, RDF_TYPE) != SAI + "Node":
        return []
    count = f.number(owner, SAI + "replicaCount") or 1

    def apply(e: Editor, _):
        block = name + "/virtualization"
        e.set(block, "gpu", ["vm-passthrough"])
        for key in ("sharesPerGPU", "framebufferGB", "vgpuScheduler"):
            if e.get(block, key):
                e.set(block, key, [])

    return [Remedy(
        "whole-gpus", "whole GPUs passed through instead of time-sliced vGPUs",
        f"each replica on {name} gets whole GPUs (vm-passthrough, with their NVLink peer-to-peer) instead of "
        f"1/{int(shares)} of each: a {int(shares)}th of the devices on the same {int(count)} nodes", [target], apply,
        watch=[(p_, "predictedTPOTMs", "TPOT at the offered load") for p_ in map(lambda p: _rel(f, p), _pools_on(f, owner))])]


def _dedicated_nic(f: Facts, target: str, owner: str) -> list[Remedy]:
    name = _rel(f, owner)
    return [Remedy(
        "dedicated-nic", "a NIC passed through to each tenant's VM (RDMA passthrough)",
        "no virtual function of a port another tenant shares, no paravirtual path", [target],
        lambda e, _: e.set(name + "/virtualization", "network", ["rdma-passthrough"]),
        caveat="one physical NIC per tenant VM: more NICs or fewer VMs per node")]


def _loop_actuators(f: Facts, target: str, loop: str) -> list[Remedy]:
    rule, b = f.bindings(target)
    other, state = b.get("other"), b.get("state")
    if not isinstance(other, ox.NamedNode) or not isinstance(state, ox.NamedNode):
        return []
    mine, theirs = b.get("myPeriod"), b.get("theirPeriod")
    this, that = _rel(f, loop), _rel(f, other.value)
    state_name = written_value(state.value)
    both = state.value in f.iris(other.value, SAI + "actuatesState")
    if both:
        slower, faster = (this, that) if float(mine.value) >= float(theirs.value) else (that, this)
        left = [written_value(s) for s in f.iris(f.description.base + slower, SAI + "actuatesState") if s != state.value]
        if not left:  # the slower loop has nothing else to do: the faster one gives the state up
            slower, faster = faster, slower
            left = [written_value(s) for s in f.iris(f.description.base + slower, SAI + "actuatesState")
                    if s != state.value]
        if not left:
            return []
        return [Remedy(
            "separate-actuators", f"{slower} stops actuating {state_name}",
            f"{faster} owns {state_name}; {slower} acts only on {', '.join(left)} (for a descheduler: evictions "
            "bounded by a PodDisruptionBudget so that they do not change the serving replica count)", [target],
            lambda e, _: e.set(slower, "actuates", left))]
    observed = [written_value(s) for s in f.iris(other.value, SAI + "observesState") if s != state.value]
    if not observed:
        return []
    return [Remedy(
        "separate-inputs", f"{that} stops reading {state_name}",
        f"{that} decides on {', '.join(observed)} only, not on the {state_name} that {this} changes every "
        f"{show_number(float(mine.value))} ms", [target], lambda e, _: e.set(that, "observes", observed))]


def _capacity_weighted_routing(f: Facts, target: str, loop: str) -> list[Remedy]:
    if f.iri(loop, SAI + "controlLoopKind") != SAI + "RequestRouter" or \
            f.iri(loop, SAI + "capacityWeighted") is not None:
        return []
    name = _rel(f, loop)
    return [Remedy(
        "capacity-weighted-routing", f"{name} weights each class by its capacity",
        f"{name} sends each accelerator class a share of requests in proportion to its capacity (static weights "
        "from per-class throughput, or a scorer that reads each replica's queue and KV-cache use) instead of "
        "spreading them evenly; the batch scheduler still forms each batch on one replica's class", [target],
        lambda e, _: e.set(name, "capacityWeighted", ["true"]))]


def _one_class_pool(f: Facts, target: str, component: str) -> list[Remedy]:
    pools = [component] if f.iri(component, RDF_TYPE) == SAI + "ServingPool" else [
        p for p in f.iris(component, SAI + "governs") if f.iri(p, RDF_TYPE) == SAI + "ServingPool"]
    remedies = []
    for pool in pools:
        nodes = _nodes_of(f, pool)
        if len(nodes) < 2 or any(_pools_on(f, n) != [pool] for n in nodes):
            continue
        best = max(nodes, key=lambda n: (f.number(n, SAI + "deviceBandwidthGBps") or 0, n))
        name, keep = _rel(f, pool), _rel(f, best)
        model = f.name(f.iri(best, SAI + "acceleratorModel"))
        remedies.append(Remedy(
            "one-accelerator-class", f"{name} on {model} alone",
            f"{name} served from {keep} only (one class: one step time for the router and the batch scheduler); "
            "its node count sized to the replicas the load needs", [target],
            lambda e, _, n=name, k=keep, rest=[_rel(f, x) for x in nodes if x != best]: (
                e.set(n, "hostedOn", [k]), e.remove(*rest)), size=(name, [keep]),
            watch=[(name, "memoryBandwidthSpread", "memory-bandwidth spread"), (name, "computeSpread", "compute spread"),
                   (name, "predictedTPOTMs", "TPOT at the offered load")]))
    return remedies


def _replicas(f: Facts, target: str, pool: str, more: bool) -> list[Remedy]:
    hosts = _nodes_of(f, pool)
    if not hosts or any(_pools_on(f, h) != [pool] for h in hosts):
        return []  # node groups other pools share: their counts are not this pool's to change
    name = _rel(f, pool)
    title = "more replicas" if more else "fewer replicas"
    return [Remedy(
        "add-replicas" if more else "remove-replicas", f"{title} for {name}",
        f"{', '.join(_rel(f, h) for h in hosts)} sized to {show_number(SIZING_MARGIN)} × the replicas the load needs",
        [target], lambda e, _: None, size=(name, [_rel(f, h) for h in hosts]),
        watch=[(name, "capacityHeadroom", "headroom"), (name, "modelReplicasPresent", "replicas present"),
               (name, "predictedTPOTMs", "TPOT at the offered load")])]


def _faster_prefill(f: Facts, target: str, workload: str) -> list[Remedy]:
    remedies = []
    for pool in f.iris(workload, SAI + "servedBy"):
        if f.iri(pool, SAI + "poolRole") not in (SAI + "PrefillRole", SAI + "ColocatedRole"):
            continue
        remedies += _fp8_weights(f, target, pool)
        tp = f.number(pool, SAI + "tensorParallelism") or 1
        domain = f.number(pool, SAI + "scaleUpDomainAccelerators") or 1
        if tp * 2 > domain:
            continue
        name = _rel(f, pool)
        remedies.append(Remedy(
            "prefill-tensor-parallel", f"prefill at TP {int(tp * 2)} instead of TP {int(tp)}",
            f"each {name} replica computes a prompt on twice the GPUs (inside one scale-up domain): the p99 "
            "prefill takes about half as long; half as many prefill replicas", [target],
            lambda e, _, n=name, t=int(tp * 2): e.set(n, "tensorParallel", [t]),
            watch=[(name, "prefillTimeP99Ms", "prefill of the p99 prompt"),
                   (_rel(f, workload), "predictedTTFTP99Ms", "TTFT of the p99 prompt"),
                   (name, "capacityHeadroom", "prefill headroom")]))
    return remedies


def _migration_like_source(f: Facts, target: str, plan: str, what: str) -> list[Remedy]:
    sources = f.iris(plan, SAI + "migrationSourceNode")
    targets = f.iris(plan, SAI + "migrationTargetNode")
    if not sources or not targets:
        return []
    source = _rel(f, sources[0])
    names = [_rel(f, t) for t in targets]
    if what == "interconnect":
        def apply(e, _):
            for t in names:
                e.set(t, "nic", e.get(source, "nic"))
                e.set(t, "nicsPerNode", e.get(source, "nicsPerNode"))
        return [Remedy("target-interconnect-like-source", "target nodes with the source's scale-out NICs",
                       f"{', '.join(names)} get {source}'s NICs, so every GPU keeps its scale-out bandwidth", [target],
                       apply)]
    if what == "storage":
        environment = _rel(f, f.iri(plan, SAI + "targetEnvironment"))
        return [Remedy("target-local-nvme", "local NVMe for the weights in the target",
                       f"{environment} stages weights on instance-local NVMe (as the source does)", [target],
                       lambda e, _: e.set(environment, "storageLocality", ["local-nvme"]))]
    if what == "virtualization":
        def apply(e, _):
            for t in names:
                e.set(t + "/virtualization", "gpu", ["bare-metal"])
                if e.get(t + "/virtualization", "hypervisor"):
                    e.set(t + "/virtualization", "hypervisor", [])
        return [Remedy("target-bare-metal", "bare-metal target nodes", f"{', '.join(names)} as bare-metal instances: "
                       "no new mediation layer", [target], apply,
                       caveat="needs the provider's bare-metal instance type")]
    if what == "loops":
        loops = [_rel(f, x) for x in f.iris(plan, SAI + "introducesControlLoop")]
        plan_name = _rel(f, plan)
        return [Remedy("no-new-control-loop", f"the move keeps the source's control loops (without {', '.join(loops)})",
                       "the target's managed controller stays off until the workload is re-tuned for it", [target],
                       lambda e, _: e.set(plan_name, "introduces", []))]
    return []


CONDITION_REMEDIES = {
    "CrossClassDisaggregation": _decode_on_prefill_class,
    "MemoryBoundDecodeOnComputeRichClass": lambda f, t, p: _decode_on_faster_class(f, t, p) + _fp8_weights(f, t, p),
    "KVCapacityShortfall": lambda f, t, p: _fp8_kv(f, t, p),
    "MIGGranularityMismatch": lambda f, t, p: _larger_mig_profile(f, t, p) + _fp8_kv(f, t, p),
    "KVTransferEatsTTFT": _faster_kv_path,
    "TensorParallelBeyondScaleUpDomain": _tp_inside_domain,
    "TensorParallelWithoutPeerToPeer": _tp_one,
    "TimeSlicedTenantSharing": _whole_gpus,
    "HypervisorMediatedAccelerators": _whole_gpus,
    "VirtualizedNetworkOnServingPath": _dedicated_nic,
    "ControlLoopTimescaleConflict": _loop_actuators,
    "MixedAcceleratorPool": _one_class_pool,
    "MemoryBandwidthAsymmetricPool": _one_class_pool,
    "SchedulerOverNonEquivalentAccelerators": lambda f, t, c: _capacity_weighted_routing(f, t, c) + _one_class_pool(f, t, c),
    "MigrationInterconnectDowngrade": lambda f, t, p: _migration_like_source(f, t, p, "interconnect"),
    "MigrationStorageLocalityDowngrade": lambda f, t, p: _migration_like_source(f, t, p, "storage"),
    "MigrationVirtualizationChange": lambda f, t, p: _migration_like_source(f, t, p, "virtualization"),
    "MigrationControlLoopChange": lambda f, t, p: _migration_like_source(f, t, p, "loops"),
}
FINDING_REMEDIES = {
    "CapacityShortfall": lambda f, d, p: _replicas(f, d, p, more=True),
    "TPOTTargetMissedAtLoad": lambda f, d, p: _replicas(f, d, p, more=True),
    "OverProvisioning": lambda f, d, p: _replicas(f, d, p, more=False),
    "KVCapacityRisk": _fp8_kv,
    "TPOTTargetUnattainable": _fp8_weights,
    "TTFTTargetUnattainable": _faster_prefill,
}


# --- verification ------------------------------------------------------------------------------------------


@dataclass
class Cost:
    accelerators: int
    watts: float | None  # board power (TDP) of those accelerators; None when the catalog lacks a model's TDP
    unknown_power: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"accelerators": self.accelerators, "tdp_watts": self.watts, "tdp_unknown_for": self.unknown_power}


def fleet_cost(reasoning: Reasoning) -> Cost:
    f = Facts(reasoning)
    total, watts, unknown = 0, 0.0, set()
    for q in f.store.quads_for_pattern(None, ox.NamedNode(RDF_TYPE), ox.NamedNode(SAI + "Node"), reasoning.asserted_graph):
        node = q.subject.value
        count = int((f.number(node, SAI + "replicaCount") or 1) * (f.number(node, SAI + "acceleratorsPerNode") or 0))
        total += count
        model = f.iri(node, SAI + "acceleratorModel")
        tdp = f.number(model, SAI + "tdpWatts")
        if tdp is None:
            unknown.add(f.name(model))
        else:
            watts += count * tdp
    return Cost(total, None if unknown and not watts else watts, sorted(unknown))


def unit_of(quantity: str) -> str:
    for suffix, unit in (("Ms", "ms"), ("GBps", "GB/s"), ("GB", "GB"), ("Rps", "req/s"), ("Share", "%"),
                         ("ShareOfTTFT", "%"), ("Headroom", "×"), ("Tokens", "tokens")):
        if quantity.endswith(suffix):
            return unit
    return ""


@dataclass
class Moved:
    label: str
    element: str
    quantity: str
    before: float | None
    after: float | None

    def text(self) -> str:
        unit = unit_of(self.quantity)
        scale = 100 if unit == "%" else 1
        shown = lambda v: "—" if v is None else show_number(v * scale)
        return f"{self.label} of {self.element}: {shown(self.before)} → {shown(self.after)}{' ' + unit if unit else ''}"

    def to_json(self) -> dict:
        return {"label": self.label, "element": self.element, "quantity": self.quantity, "before": self.before,
                "after": self.after, "text": self.text()}


@dataclass
class Verified:
    remedy: Remedy
    changes: list[Change]
    valid: bool
    problems: list[str] = field(default_factory=list)
    removes_target: bool = False
    removed: list[str] = field(default_factory=list)
    left: list[dict] = field(default_factory=list)  # {id, before, after} severity scores
    introduced: list[dict] = field(default_factory=list)  # {id, severity, headline}
    numbers: list[Moved] = field(default_factory=list)
    cost_before: Cost | None = None
    cost_after: Cost | None = None
    turtle: bytes = b""

    def to_json(self) -> dict:
        r = self.remedy
        return {
            "remedy": r.kind, "title": r.title, "why": r.why, "caveat": r.caveat or None,
            "targets": [self._name(t) for t in r.targets],
            "changes": [c.to_json() for c in self.changes], "valid": self.valid, "problems": self.problems,
            "removes_target": self.removes_target, "removes": self.removed, "leaves": self.left,
            "introduces": self.introduced, "numbers": [m.to_json() for m in self.numbers],
            "cost": {"before": self.cost_before.to_json() if self.cost_before else None,
                     "after": self.cost_after.to_json() if self.cost_after else None},
        }

    def _name(self, iri: str) -> str:
        return iri.split("/data/", 1)[-1].split("/", 1)[-1]


@dataclass
class Recommendations:
    baseline: list[Diagnosis]
    not_reevaluated: list[str]  # diagnoses only measurements support
    results: dict[str, list[Verified]]  # diagnosis id → verified remedies
    cost: Cost
    not_verified: list[str] = field(default_factory=list)  # diagnoses with remedies beyond the `most` verified
    most: int = 0

    def not_verified_text(self, code=str) -> str:
        """`code` marks up an option as the output format writes code."""
        n = len(self.not_verified)
        return (f"The remedies of {n} more diagnos{'is' if n == 1 else 'es'} are not verified: those of the "
                f"{self.most} most severe with remedies of their own are (each remedy costs a re-diagnosis). Ask "
                f"for one with {code('--diagnosis ID')}, or for all with {code('--most 0')}.")


def _present(reasoning: Reasoning, iri: str) -> bool:
    return next(iter(reasoning.store.quads_for_pattern(ox.NamedNode(iri), None, None, reasoning.inferred_graph)),
                None) is not None


def _size(editor: Editor, first: Reasoning, pool: str, groups: list[str]) -> None:
    """Set the groups' node counts to what `pool` needs (× SIZING_MARGIN) as reasoned in `first`: the first groups
    keep their counts, the last one takes the rest, groups left over are removed."""
    f, base = Facts(first), first.description.base
    needed = f.number(base + pool, SAI + "replicasNeeded")
    if not needed:
        return
    per_replica = (f.number(base + pool, SAI + "tensorParallelism") or 1) * (f.number(base + pool, SAI + "pipelineParallelism") or 1)
    devices = [(g, (f.number(base + g, SAI + "acceleratorsPerNode") or 1) * (f.number(base + g, SAI + "devicesPerAccelerator") or 1),
                int(f.number(base + g, SAI + "replicaCount") or 1)) for g in groups]
    wanted = math.ceil(needed * SIZING_MARGIN) * per_replica  # devices
    for index, (group, per_node, count) in enumerate(devices):
        last = index == len(devices) - 1
        if wanted <= 0:
            editor.set(pool, "hostedOn", [h for h in editor.get(pool, "hostedOn") if h != group])
            editor.remove(group)
            continue
        nodes = math.ceil(wanted / per_node) if last else min(count, math.ceil(wanted / per_node))
        editor.set(group, "count", [max(1, nodes)])
        wanted -= nodes * per_node


class CarriedReasoning:
    """One reasoning carried from one remedy's edited description to the next by incremental updates
    (incremental.py), which leave it as a full inference over each would. A remedy edits a few elements, and a
    full inference per remedy (two for a sized one) made `recommend` on a 100k fleet take hours. What it gives
    is only valid until the next call: a verification reads what it needs before moving on."""

    def __init__(self):
        self.reasoning: Reasoning | None = None

    def __call__(self, description: Description) -> Reasoning:
        try:
            if self.reasoning is None:
                self.reasoning = infer(description)
            else:
                update(self.reasoning, description)
        except BaseException:
            self.reasoning = None  # an update that raised leaves it half-updated: infer again next time
            raise
        return self.reasoning


def verify(baseline: Reasoning, found: list[Diagnosis], remedy: Remedy, reason) -> Verified:
    """`reason(description)` gives the reasoning over an edited description (a `CarriedReasoning`)."""
    from .validation import validate

    description = baseline.description
    editor = Editor(description)
    editor.triples = editor.without_measurements()
    remedy.apply(editor, Facts(baseline))
    result = Verified(remedy, editor.changes, True)
    changed = reload(description, editor.triples)
    report = validate(changed)
    if report.conforms and remedy.size:
        _size(editor, reason(changed), *remedy.size)
        changed = reload(description, editor.triples)
        report = validate(changed)
    result.changes = editor.changes
    result.turtle = as_turtle(description, editor.triples)
    if not report.conforms:
        result.valid = False
        result.problems = [p.render() for p in report.problems if p.severity == "violation"][:5]
        return result
    after = reason(changed)
    after_found = read_diagnoses(after)
    before_ids = {d.id: d for d in found}
    after_ids = {d.id: d for d in after_found}
    result.removes_target = not any(_present(after, t) for t in remedy.targets)
    result.removed = [d for d in before_ids if d not in after_ids]
    result.left = [{"id": i, "before": before_ids[i].severity_score, "after": after_ids[i].severity_score}
                   for i in before_ids if i in after_ids]
    result.introduced = [{"id": d.id, "severity": d.severity, "severity_score": d.severity_score,
                          "headline": d.headline} for d in after_found if d.id not in before_ids]
    fb, fa = Facts(baseline), Facts(after)
    for element, quantity, label in remedy.watch:
        result.numbers.append(Moved(label, element, quantity, fb.number(description.base + element, SAI + quantity),
                                    fa.number(after.description.base + element, SAI + quantity)))
    result.cost_before, result.cost_after = fleet_cost(baseline), fleet_cost(after)
    return result


def recommend(description: Description, only: str | None = None, most: int = 0) -> Recommendations:
    """Every remedy of every structural diagnosis, verified; `only` restricts to one diagnosis id, and `most` (0:
    no limit) to the remedies of the `most` diagnoses that have any, the most severe as measured (as `diagnose`
    ranks them) first. A large fleet has diagnoses by the thousand, and each remedy costs an update of the
    reasoning."""
    baseline = infer(description)
    measured = read_diagnoses(baseline)
    design = unmeasured(description)
    if len(design.triples) < len(description.triples):
        # The design alone, by an update of the measured reasoning (incremental.py): measurements feed a few
        # rules only, and a second full inference cost as much as the first.
        update(baseline, design)
    found = read_diagnoses(baseline)
    ids = {d.id for d in found}
    rank = {d.id: index for index, d in enumerate(measured)}
    facts = Facts(baseline)
    results: dict[str, list[Verified]] = {}
    seen: dict[tuple, Verified] = {}
    carried = CarriedReasoning()
    not_verified: list[str] = []
    budget = most or len(found)
    for d in sorted(found, key=lambda d: rank.get(d.id, len(rank))):
        if only and d.id != only:
            continue
        found_remedies = remedies_for(facts, d)
        if found_remedies and not only and budget == 0:
            not_verified.append(d.id)  # not probed: on a large fleet, applying each to a copy adds up to minutes
            continue
        keyed = []
        for remedy in found_remedies:
            probe = Editor(baseline.description)
            remedy.apply(probe, facts)
            keyed.append(((remedy.kind, tuple(c.text() for c in probe.changes)), remedy))
        budget -= any(key not in seen for key, _ in keyed)  # one whose remedies are all verified already is free
        results[d.id] = []
        for key, remedy in keyed:
            if key not in seen:
                seen[key] = verify(baseline, found, remedy, carried)
            results[d.id].append(seen[key])
    return Recommendations(found, sorted(d.id for d in measured if d.id not in ids), results, fleet_cost(baseline),
                           not_verified, most)


# --- rendering ---------------------------------------------------------------------------------------------


def recommendations_json(source: str, recs: Recommendations) -> dict:
    return {
        "description": source,
        "compared": "the design without its measurements: they describe what was measured, not the changed design",
        "not_reevaluated": recs.not_reevaluated,
        "not_verified": recs.not_verified,
        "fleet": recs.cost.to_json(),
        "diagnoses": [{"id": d.id, "severity": d.severity, "headline": d.headline,
                       "remedies": [v.to_json() for v in recs.results.get(d.id, [])]}
                      for d in recs.baseline if d.id in recs.results],
    }


def _cost_text(v: Verified) -> str:
    a, b = v.cost_before, v.cost_after
    if not a or not b:
        return ""
    kw = lambda c: "" if c.watts is None else f"{show_number(c.watts / 1000)} kW"
    if a.accelerators == b.accelerators and a.watts == b.watts:
        text = f"the same {a.accelerators:,} accelerators" + (f" ({kw(a)} TDP)" if kw(a) else "")
    else:
        text = f"accelerators {a.accelerators:,} → {b.accelerators:,}"
        if kw(a) and kw(b):
            text += f", board power (TDP) {kw(a)} → {kw(b)}"
    if b.unknown_power:
        text += f" (no TDP in the catalog for {', '.join(b.unknown_power)})"
    return text


def recommendations_text(source: str, recs: Recommendations) -> str:
    lines = [f"{source}: remedies, each applied to a copy of the description and re-diagnosed",
             "(both sides without measurements: they describe the design that was measured)", ""]
    if recs.not_reevaluated:
        lines += ["Not re-evaluated (only measurements support them): " + ", ".join(recs.not_reevaluated), ""]
    if recs.not_verified:
        lines += [recs.not_verified_text(), ""]
    numbered: dict[int, int] = {}
    for d in recs.baseline:
        remedies = recs.results.get(d.id)
        if remedies is None:
            continue
        lines += [f"{d.id}  ({d.severity.lower()})", f"  {d.headline}"]
        if not remedies:
            lines.append("  no remedy the reasoner can verify here (its condition kind names none, or the node "
                         "groups it would change are shared with other pools)")
        for v in remedies:
            if id(v) in numbered:
                lines.append(f"  [{numbered[id(v)]}] {v.remedy.title}: see above")
                continue
            numbered[id(v)] = len(numbered) + 1
            lines += [f"  [{numbered[id(v)]}] {v.remedy.title}: {v.remedy.why}"]
            lines += [f"      change: {c.text()}" for c in v.changes]
            if not v.valid:
                lines.append("      not applicable: the changed description is invalid: " + "; ".join(v.problems))
                continue
            verdict = "removes the targeted condition" if v.removes_target else "does NOT remove the targeted condition"
            lines.append(f"      verified: {verdict}")
            if v.removed:
                lines.append(f"      removes: {', '.join(v.removed)}")
            moved = [x for x in v.left if x["before"] != x["after"]]
            for left in moved:
                lines.append(f"      leaves: {left['id']} ({left['before']:.2f} → {left['after']:.2f})")
            if len(v.left) > len(moved):
                lines.append(f"      leaves {len(v.left) - len(moved)} other diagnos"
                             f"{'is' if len(v.left) - len(moved) == 1 else 'es'} as they are")
            for new in v.introduced:
                lines.append(f"      introduces: {new['id']} ({new['severity'].lower()}): {new['headline']}")
            lines += [f"      {m.text()}" for m in v.numbers]
            cost = _cost_text(v)
            if cost:
                lines.append(f"      cost: {cost}")
            if v.remedy.caveat:
                lines.append(f"      caveat: {v.remedy.caveat}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def recommendations_markdown(source: str, recs: Recommendations) -> str:
    out = [f"# Remedies for `{source}`", "", "Each remedy is applied to a copy of the description and re-diagnosed "
           "(without measurements, which describe the design that was measured).", ""]
    if recs.not_verified:
        out += [recs.not_verified_text(lambda option: f"`{option}`"), ""]
    for d in recs.baseline:
        remedies = recs.results.get(d.id)
        if remedies is None:
            continue
        out += [f"## `{d.id}`", "", d.headline, ""]
        for v in remedies:
            out += [f"### {v.remedy.title}", "", v.remedy.why, ""] + [f"- change: `{c.text()}`" for c in v.changes]
            if not v.valid:
                out += [f"- not applicable: {'; '.join(v.problems)}", ""]
                continue
            out.append(f"- verified: {'removes' if v.removes_target else 'does not remove'} the targeted condition")
            out += [f"- removes `{i}`" for i in v.removed]
            out += [f"- leaves `{x['id']}` ({x['before']:.2f} → {x['after']:.2f})" for x in v.left]
            out += [f"- introduces `{x['id']}`: {x['headline']}" for x in v.introduced]
            out += [f"- {m.text()}" for m in v.numbers]
            if _cost_text(v):
                out.append(f"- cost: {_cost_text(v)}")
            out.append("")
    return "\n".join(out)
