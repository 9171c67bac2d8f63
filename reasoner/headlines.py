"""One sentence per diagnosis with the few numbers that carry it, what it will do, and what to measure to confirm it.

The numbers are read from the inferred graph (the quantities the rules derived) or, where a rule computes a figure
it does not store (a spread, a ratio of two periods), from the bindings of the rule application that concluded the
condition — never re-computed here. Each number is kept as a `Figure` (value, unit, the element and quantity it
came from) next to the text that shows it, so a reader, the JSON output and the tests can trace it.

A diagnosis leads with its strongest line of evidence (the structural condition or signature with the highest
score); measured evidence on the same diagnosis follows as a second clause. Effects and confirmations are written
per condition kind, falling back to the mode (Table 1 consequences, §8.3 signatures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cache

import pyoxigraph as ox

from . import resources
from .engine import Reasoning

SAI = resources.SAI
SOSA = "http://www.w3.org/ns/sosa/"
PROV_DERIVED = "http://www.w3.org/ns/prov#wasDerivedFrom"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


# --- numbers as a reader sees them ----------------------------------------------------------------------


def show_number(value: float) -> str:
    """Three significant figures, no more decimals than that, thousands separated: 335.544 → 336,
    26.767 → 26.8, 4.194 → 4.19, 184478 → 184,478, 0.4126 → 0.413."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, 2 - magnitude)
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text and decimals > 2 else text


@dataclass
class Figure:
    """One number of a headline: its value as derived, how the sentence shows it, and where it came from."""

    label: str
    value: float
    unit: str
    shown: str
    element: str | None = None  # the element whose quantity it is (as the description names it)
    quantity: str | None = None  # the property (local name) or, with `rule`, the rule's variable
    rule: str | None = None  # set when the number is a binding of this rule's application, not a stored fact
    scale: float = 1  # shown = value × scale (percentages of a share)

    def to_json(self) -> dict:  # by hand: dataclasses.asdict took a third of the headline time on a large fleet
        data = {"label": self.label, "value": self.value, "unit": self.unit, "shown": self.shown}
        for key in ("element", "quantity", "rule"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        data["scale"] = self.scale
        return data


@dataclass
class Headline:
    sentence: str
    figures: list[Figure] = field(default_factory=list)
    effect: str = ""
    confirm: str = ""
    signature: str | None = None
    metrics: list[str] = field(default_factory=list)


def _least_first(term) -> tuple[str, str]:
    """The order in which a property's values are taken, least first: by their text, then by their N-Triples form
    (an IRI and a literal of the same text), whatever order the store gives them in."""
    return term.value, str(term)


def _float(term) -> float | None:
    """A literal's number; None for another term or a literal that is no number."""
    if not isinstance(term, ox.Literal):
        return None
    try:
        return float(term.value)
    except ValueError:
        return None


# --- reading the graph ----------------------------------------------------------------------------------


class Facts:
    """Typed access to one description's asserted and inferred facts, plus the catalog."""

    def __init__(self, reasoning: Reasoning):
        self.reasoning = reasoning
        self.store = reasoning.store
        self.description = reasoning.description
        self._seen: dict[tuple[str, str], list] = {}  # the store no longer changes: a lookup is made once
        self.evidence: dict[str, list] | None = None  # all_evidence(), when every diagnosis is wanted
        self.bulk_evidence = True  # whether `attach` reads every diagnosis's evidence at once (all_evidence)
        self.indications: dict[str, list[str]] = {}  # all_evidence(): diagnosis -> every indication it derives from
        self._models: dict[str, tuple[list[str], list[str]]] = {}  # pool -> (its nodes, their models)
        self._paths: dict[str, set[str]] | None = None
        # What a diagnosis's record read, while diagnoses.py records it: hashes of ("s", subject, predicate),
        # ("s", subject) for all it says, ("o", object, predicate) and ("p", predicate) for a scan, as
        # `touched_by` names a changed triple (a hash that collides only makes a record read again).
        self.reads: set[int] | None = None

    def read(self, *what: str) -> None:
        if self.reads is not None:
            self.reads.add(hash(what))

    def forget_lookups(self) -> None:
        """Drop the lookups made so far; `diagnoses` calls it before each record. Kept for the whole fleet,
        they raised the peak RSS of reading the diagnoses at 1M by 204 MB instead of 57 MB, and saved a fifth
        of the lookups (at 100k, 11,965 of 53,328; per diagnosis 2,325) in no measurable time."""
        self._seen.clear()

    def objects(self, subject: str, predicate: str) -> list:
        reads = self.reads
        if reads is not None:  # `read`, inline: the most frequent read of all
            reads.add(hash(("s", subject, predicate)))
        key = (subject, predicate)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = [q.object for q in self.store.quads_for_pattern(
                ox.NamedNode(subject), ox.NamedNode(predicate), None, None)]
        return found

    def one(self, subject: str, predicate: str):
        values = self.objects(subject, predicate)
        return min(values, key=_least_first) if values else None

    def number(self, subject: str | None, predicate: str) -> float | None:
        return None if subject is None else _float(self.one(subject, predicate))

    def iri(self, subject: str | None, predicate: str) -> str | None:
        if subject is None:
            return None
        term = self.one(subject, predicate)
        return term.value if isinstance(term, ox.NamedNode) else None

    def iris(self, subject: str | None, predicate: str) -> list[str]:
        if subject is None:
            return []
        return sorted({t.value for t in self.objects(subject, predicate) if isinstance(t, ox.NamedNode)})

    def name(self, iri: str | None) -> str:
        if iri is None:
            return "?"
        if iri.startswith(resources.CAT):
            return iri[len(resources.CAT):]
        if iri.startswith(SAI):
            return written_value(iri)
        return self.description.element_name(iri)

    def bindings(self, subject: str, predicate: str = RDF_TYPE, value: str | None = None) -> tuple[str, dict]:
        """(rule id, variable → term) of the first application that derived subject's `predicate` fact (of the
        least value, where there are several: the store's order follows how it was filled)."""
        self.read("s", subject, predicate)  # the derivations of these triples too (`touched_by`)
        quads = self.store.quads_for_pattern(ox.NamedNode(subject), ox.NamedNode(predicate),
                                             ox.NamedNode(value) if value else None, self.reasoning.inferred_graph)
        for triple in sorted((q.triple for q in quads), key=lambda t: t.object.value):
            for derivation in self.reasoning.derivations.get(triple, ()):
                return derivation.rule.rule_id, dict(derivation.bindings)
        return "", {}

    def models_of(self, pool: str) -> list[str]:
        found = self._models.get(pool)
        if found is None:
            nodes = self.iris(pool, SAI + "servesFrom")
            models = sorted({m for n in nodes for m in self.iris(n, SAI + "acceleratorModel")})
            found = self._models[pool] = (nodes, models)
        elif self.reads is not None:  # what the first call read, read again
            self.read("s", pool, SAI + "servesFrom")
            for node in found[0]:
                self.read("s", node, SAI + "acceleratorModel")
        return found[1]

    def subjects(self, predicate: str, object_: str) -> list:
        self.read("o", object_, predicate)
        return [q.subject for q in self.store.quads_for_pattern(None, ox.NamedNode(predicate), ox.NamedNode(object_))]

    def paths_from(self, pools: list[str]) -> list[str]:
        """KV paths whose source pool is one of `pools`."""
        self.read("p", SAI + "fromPool")
        if self._paths is None:
            self._paths = {}
            for q in self.store.quads_for_pattern(None, ox.NamedNode(SAI + "fromPool"), None, None):
                self._paths.setdefault(q.object.value, set()).add(q.subject.value)
        return sorted({p for pool in pools for p in self._paths.get(pool, ())})


@cache
def written_value(iri: str) -> str:
    """How a description writes an enumerated value (`vm-passthrough`), else the ontology's label."""
    from .vocabulary import vocabulary

    name = vocabulary().value_name(iri)
    if name.startswith("sai:"):
        return _ontology_label(iri) or name[4:]
    return name


@cache
def _ontology_labels() -> dict[str, str]:
    labels: dict[str, str] = {}
    for t in resources.ontology_triples():
        if t.predicate.value == RDFS_LABEL and isinstance(t.object, ox.Literal):
            labels.setdefault(t.subject.value, t.object.value)
    return labels


def _ontology_label(iri: str) -> str | None:
    return _ontology_labels().get(iri)


@cache
def _exported() -> dict[str, str]:
    """Metric IRI → the exporter's name for it (sai:exportedAs: a vLLM or DCGM series)."""
    names: dict[str, str] = {}
    for t in resources.ontology_triples():
        if t.predicate.value == SAI + "exportedAs":
            names.setdefault(t.subject.value, t.object.value)
    return names


class Sentence:
    """Collects the figures a clause shows while it is written."""

    def __init__(self, facts: Facts):
        self.facts = facts
        self.figures: list[Figure] = []

    def _add(self, figure: Figure) -> str:
        if not any(f.shown == figure.shown and f.quantity == figure.quantity and f.element == figure.element
                   for f in self.figures):
            self.figures.append(figure)
        return figure.shown

    @staticmethod
    def _shown(value: float, unit: str, scale: float) -> str:
        number = show_number(value * scale) if scale == 1 else f"{value * scale:,.0f}"
        if unit in ("×",):
            return f"{number}×"
        return f"{number} {unit}".rstrip()

    def q(self, element: str | None, quantity: str, label: str, unit: str = "", scale: float = 1) -> str | None:
        """A quantity stored on an element, as shown in the sentence (None when the graph has none)."""
        value = self.facts.number(element, SAI + quantity)
        if value is None:
            return None
        return self._add(Figure(label, value, unit, self._shown(value, unit, scale), self.facts.name(element),
                                quantity, scale=scale))

    def raw(self, element: str | None, predicate: str, label: str, unit: str = "") -> str | None:
        """A quantity under a predicate outside the sai: namespace (sosa:hasSimpleResult)."""
        value = self.facts.number(element, predicate)
        if value is None:
            return None
        return self._add(Figure(label, value, unit, self._shown(value, unit, 1), self.facts.name(element),
                                predicate.rsplit("/", 1)[-1].rsplit("#", 1)[-1]))

    def b(self, rule: str, bindings: dict, variable: str, label: str, unit: str = "", scale: float = 1) -> str | None:
        """A number a rule bound while it fired (not stored as a fact)."""
        term = bindings.get(variable)
        if not isinstance(term, ox.Literal):
            return None
        value = float(term.value)
        return self._add(Figure(label, value, unit, self._shown(value, unit, scale), quantity=variable, rule=rule,
                                scale=scale))


def _join(parts) -> str:
    return "; ".join(p for p in parts if p)


# --- one line of evidence --------------------------------------------------------------------------------


@dataclass
class Evidence:
    kind: str  # the evidence kind's local name (a condition kind, a signature, MeasuredServingEvidence, …)
    score: float
    component: str
    condition: str | None = None
    measurements: list[str] = field(default_factory=list)
    indication: str | None = None


def _local(iri: str | None) -> str:
    return (iri or "").rsplit("#", 1)[-1]


def all_evidence(facts: Facts) -> dict[str, list[Evidence]]:
    """Every diagnosis's lines of evidence, from one scan per property (per-diagnosis lookups dominated the
    headline time on a large fleet, and a SPARQL join with OPTIONALs was slower than these scans). The same lines
    as `evidence_of` reads one diagnosis at a time: each property's least value, taken as `Facts` takes it."""

    def by_subject(predicate: str) -> dict[str, list]:
        found: dict[str, list] = {}
        for q in facts.store.quads_for_pattern(None, ox.NamedNode(predicate), None, None):
            found.setdefault(q.subject.value, []).append(q.object)
        return found

    def least(values: list | None, kind):
        term = min(values, key=_least_first) if values else None
        return term if isinstance(term, kind) else None

    kinds, scores = by_subject(SAI + "evidenceKind"), by_subject(SAI + "severityScore")
    concerns, conditions = by_subject(SAI + "concerns"), by_subject(SAI + "viaCondition")
    measured = by_subject(SAI + "viaMeasurement")
    lines: dict[str, list[Evidence]] = {}
    facts.indications = {d: sorted({t.value for t in ts if isinstance(t, ox.NamedNode)})
                         for d, ts in by_subject(PROV_DERIVED).items()}
    for d, indications in facts.indications.items():
        found = []
        for i in indications:
            kind = least(kinds.get(i), ox.NamedNode)
            if kind is None:
                continue
            score, component = least(scores.get(i), ox.Literal), least(concerns.get(i), ox.NamedNode)
            condition = least(conditions.get(i), ox.NamedNode)
            found.append(Evidence(_local(kind.value), _float(score) or 0.0, component.value if component else d,
                                  condition.value if condition else None,
                                  sorted({t.value for t in measured.get(i, ()) if isinstance(t, ox.NamedNode)}), i))
        if found:
            lines[d] = sorted(found, key=lambda e: (-e.score, e.kind, e.indication or ""))
    return lines


def evidence_of(facts: Facts, diagnosis: str) -> list[Evidence]:
    if facts.evidence is not None:
        facts.read("s", diagnosis, PROV_DERIVED)
        for indication in facts.indications.get(diagnosis, ()):
            facts.read("s", indication)  # all it says (a line of evidence is made of five of its properties)
        return [replace(e, measurements=sorted(e.measurements)) for e in facts.evidence.get(diagnosis, [])]
    found = []
    for indication in facts.iris(diagnosis, PROV_DERIVED):
        kind = facts.iri(indication, SAI + "evidenceKind")
        if kind is None:
            continue
        found.append(Evidence(_local(kind), facts.number(indication, SAI + "severityScore") or 0.0,
                              facts.iri(indication, SAI + "concerns") or diagnosis,
                              facts.iri(indication, SAI + "viaCondition"),
                              facts.iris(indication, SAI + "viaMeasurement"), indication))
    found.sort(key=lambda e: (-e.score, e.kind, e.indication or ""))
    return found


# --- clauses per condition kind, signature and finding kind ---------------------------------------------
# Each takes (sentence, facts, evidence) and returns the clause text, or None when the graph lacks what it shows.


def _pool_models(facts: Facts, pool: str) -> str:
    return ", ".join(facts.name(m) for m in facts.models_of(pool)) or "?"


def _c_mixed_pool(s: Sentence, f: Facts, e: Evidence):
    pool = e.component
    models = _pool_models(f, pool)
    bw = s.q(pool, "memoryBandwidthSpread", "memory-bandwidth spread", "×")
    tf = s.q(pool, "computeSpread", "compute spread", "×")
    return (f"{f.name(pool)} serves one model from {models}: their memory bandwidth differs {bw} and their compute "
            f"{tf}, so the same request takes a different time on each class")


def _c_scheduler(s: Sentence, f: Facts, e: Evidence):
    rule, b = f.bindings(e.condition)
    loop = e.component
    spread = s.b(rule, b, "worst", "step-time spread of the classes it routes over", "×")
    period = s.q(loop, "timescaleMs", "loop period", "ms")
    kind = written_value(f.iri(loop, SAI + "controlLoopKind") or "")
    governed = f.iris(loop, SAI + "governs")
    models = sorted({m for g in governed for m in f.models_of(g)} |
                    {m for g in governed for m in f.iris(g, SAI + "acceleratorModel")})
    return (f"{f.name(loop)} ({kind}, every {period}) decides per request over {', '.join(f.name(m) for m in models)}, "
            f"whose step times differ {spread}")


def _c_bandwidth_asymmetry(s: Sentence, f: Facts, e: Evidence):
    pool = e.component
    spread = s.q(pool, "memoryBandwidthSpread", "memory-bandwidth spread", "×")
    low = s.q(pool, "minMemoryBandwidthGBps", "slowest device's memory bandwidth", "GB/s")
    return f"{f.name(pool)}'s devices differ {spread} in memory bandwidth; the slowest ({low}) sets the pool's pace"


def _c_memory_bound_decode(s: Sentence, f: Facts, e: Evidence):
    rule, b = f.bindings(e.condition)
    pool = e.component
    weights = s.q(pool, "weightBytesPerDeviceGB", "weights read per step per device", "GB")
    bw = s.q(pool, "minMemoryBandwidthGBps", "memory bandwidth", "GB/s")
    floor = s.q(pool, "decodeStepFloorMs", "decode-step floor", "ms")
    tpot = s.b(rule, b, "tpot", "TPOT target", "ms")
    ratio = s.b(rule, b, "ratio", "compute-to-bandwidth ratio", "FLOP/byte")
    return (f"decode on {_pool_models(f, pool)} streams {weights} of weights per step at {bw}: a {floor} floor "
            f"against the {tpot} TPOT target, on a part with {ratio} of compute per byte of bandwidth")


def _c_kv_shortfall(s: Sentence, f: Facts, e: Evidence):
    pool = e.component
    tokens = s.q(pool, "kvCapacityTokens", "KV capacity per replica", "tokens")
    seqs = s.q(pool, "kvCapacitySequencesP99", "p99-length requests per replica", "")
    prompt = s.q(pool, "designPromptTokensP99", "p99 prompt", "tokens")
    return (f"each {f.name(pool)} replica holds {tokens} of KV cache after its weights: room for {seqs} requests of "
            f"the p99 length ({prompt} prompt) at once")


def _c_cross_class(s: Sentence, f: Facts, e: Evidence):
    path = e.component
    source, target = f.iri(path, SAI + "fromPool"), f.iri(path, SAI + "toPool")
    a = s.q(source, "minMemoryBandwidthGBps", "prefill memory bandwidth", "GB/s")
    c = s.q(target, "minMemoryBandwidthGBps", "decode memory bandwidth", "GB/s")
    return (f"prefill on {_pool_models(f, source)} ({a}) hands its KV cache to decode on {_pool_models(f, target)} "
            f"({c}): two timing and memory regimes on one request")


def kv_bytes_of_p99_prompt(f: Facts, path: str) -> float | None:
    """KV bytes of the path's p99 prompt, in GB: the prompt tokens times the model's KV bytes per token (the
    quantities Q01 and Q22 derived; Q14 divides the same product by the bottleneck bandwidth)."""
    source = f.iri(path, SAI + "fromPool")
    model = f.iri(source, SAI + "servesModel")
    tokens, per_token = f.number(path, SAI + "designPromptTokensP99"), f.number(model, SAI + "kvBytesPerToken")
    if tokens is None or per_token is None:
        return None
    return tokens * per_token / 1e9


def _c_kv_eats_ttft(s: Sentence, f: Facts, e: Evidence):
    path = e.component
    prompt = s.q(path, "designPromptTokensP99", "p99 prompt", "tokens")
    gigabytes = kv_bytes_of_p99_prompt(f, path)
    size = ""
    if gigabytes is not None:
        size = " = " + s._add(Figure("KV cache of the p99 prompt", gigabytes, "GB", Sentence._shown(gigabytes, "GB", 1),
                                     f.name(path), "designPromptTokensP99 × kvBytesPerToken"))
    bw = s.q(path, "bottleneckBandwidthGBps", "bottleneck bandwidth", "GB/s")
    idle = s.q(path, "kvTransferTimeP99Ms", "KV transfer of the p99 prompt on the idle path", "ms")
    share = s.q(path, "kvTransferShareOfTTFT", "its share of the TTFT target", "%", scale=100)
    target = s.q(path, "designTTFTTargetMs", "TTFT target", "ms")
    text = (f"KV hand-off of the p99 prompt, {prompt}{size}, over {bw} takes {idle} on an idle path, {share} of the "
            f"{target} TTFT target")
    used, estimate = f.number(path, SAI + "kvTransferTimeP99UsedMs"), f.number(path, SAI + "kvTransferTimeP99Ms")
    if used is not None and estimate is not None and used != estimate:
        measured = s.q(path, "kvTransferTimeP99UsedMs", "measured KV transfer p99", "ms")
        used_share = s.q(path, "kvTransferShareOfTTFTUsed", "measured share of the TTFT target", "%", scale=100)
        text += f"; measured p99 {measured}, {used_share}"
    return text


def _c_cross_region(s: Sentence, f: Facts, e: Evidence):
    path = e.component
    links = [link for link in f.iris(path, SAI + "overLink") if f.one(link, SAI + "crossRegion") is not None]
    parts = []
    for link in links:
        latency = s.q(link, "latencyUs", "cross-region link latency", "µs")
        parts.append(f"{f.name(link)}" + (f" ({latency} one way)" if latency else ""))
    return f"the KV path crosses regions over {', '.join(parts) or 'a cross-region link'}"


def _c_non_rdma(s: Sentence, f: Facts, e: Evidence):
    path = e.component
    links = f.iris(path, SAI + "overLink")
    types = ", ".join(f"{f.name(link)} ({f.name(f.iri(link, SAI + 'linkType'))})" for link in links)
    idle = s.q(path, "kvTransferTimeP99Ms", "KV transfer of the p99 prompt", "ms")
    return (f"the KV path runs over {types}, which moves accelerator memory neither by RDMA nor GPU-direct: "
            f"every byte is copied through host memory" + (f"; p99 transfer {idle} on an idle link" if idle else ""))


def _c_tp_beyond_domain(s: Sentence, f: Facts, e: Evidence):
    rule, b = f.bindings(e.condition)
    pool = e.component
    tp = s.q(pool, "tensorParallelism", "tensor parallelism", "")
    domain = s.q(pool, "scaleUpDomainAccelerators", "scale-up domain", "GPUs")
    extra = s.q(pool, "tensorCrossingExtraMs", "time lost to crossing the domain per step", "ms")
    share = s.b(rule, b, "share", "share of the step", "%", scale=100)
    return (f"TP {tp} on {f.name(pool)} spans more than its {domain} scale-up domain: its all-reduces cross the "
            f"scale-out fabric, {extra} per step ({share} of it)")


def _c_pp_over_scale_out(s: Sentence, f: Facts, e: Evidence):
    rule, b = f.bindings(e.condition)
    pool = e.component
    pipeline = s.q(pool, "pipelineTransferMs", "pipeline hand-offs per step", "ms")
    expert = s.q(pool, "expertTransferMs", "expert-parallel exchange per step", "ms")
    step = s.q(pool, "collectiveStepMs", "step time", "ms")
    share = s.b(rule, b, "share", "share of the step", "%", scale=100)
    return (f"{f.name(pool)}'s pipeline ({pipeline}) and expert-parallel ({expert}) traffic crosses the scale-out "
            f"fabric every step: {share} of a {step} step")


def _c_tp_without_p2p(s: Sentence, f: Facts, e: Evidence):
    rule, b = f.bindings(e.condition)
    pool = e.component
    tp = s.q(pool, "tensorParallelism", "tensor parallelism", "")
    path = {SAI + "NoPeerToPeer": "none: staged through host memory",
            SAI + "PCIePeerToPeer": "PCIe only"}.get(f.iri(pool, SAI + "peerToPeerPath") or "", "?")
    collective = s.q(pool, "tensorCollectiveMs", "all-reduce time per step", "ms")
    step = s.q(pool, "collectiveStepMs", "step time", "ms")
    share = s.b(rule, b, "share", "share of the step", "%", scale=100)
    return (f"TP {tp} on {_pool_models(f, pool)} without NVLink-class peer-to-peer ({path}): the all-reduces take "
            f"{collective} of a {step} step ({share})")


def _owner_virtualization(f: Facts, owner: str) -> str | None:
    return f.iri(owner, SAI + "virtualization")


def _c_time_sliced(s: Sentence, f: Facts, e: Evidence):
    config = _owner_virtualization(f, e.component)
    shares = s.q(config, "sharesPerGPU", "consumers per physical GPU", "")
    regime = written_value(f.iri(config, SAI + "gpuVirtualization") or "")
    policy = f.iri(config, SAI + "vgpuSchedulerPolicy")
    tenants = [f.name(t) for t in f.iris(config, SAI + "sharedByTenant")]
    text = f"each GPU of {f.name(e.component)} is time-shared ({regime}) by {shares} consumers"
    if tenants:
        text += f" of {len(tenants)} tenants ({', '.join(tenants)})"
    return text + (f", {written_value(policy)} scheduler" if policy else "")


def _c_virtual_network(s: Sentence, f: Facts, e: Evidence):
    config = _owner_virtualization(f, e.component)
    network = written_value(f.iri(config, SAI + "networkVirtualization") or "")
    tenants = [f.name(t) for t in f.iris(config, SAI + "sharedByTenant")]
    if network == "virtio":
        return f"{f.name(e.component)} reaches the network through a paravirtual virtio NIC: the hypervisor mediates every transfer"
    return (f"{f.name(e.component)}'s NICs are {network} virtual functions shared by {len(tenants)} tenants "
            f"({', '.join(tenants)})")


def _c_hypervisor(s: Sentence, f: Facts, e: Evidence):
    config = _owner_virtualization(f, e.component)
    hypervisor = f.one(config, SAI + "hypervisor")
    shares = s.q(config, "sharesPerGPU", "vGPUs per physical GPU", "")
    return (f"{f.name(e.component)}'s GPUs are time-sliced vGPUs ({shares} per GPU) behind the "
            f"{hypervisor.value if hypervisor is not None else 'hypervisor'} vGPU manager")


def _c_mig(s: Sentence, f: Facts, e: Evidence):
    pool = e.component
    nodes = [n for n in f.iris(pool, SAI + "servesFrom") if f.iri(_owner_virtualization(f, n), SAI + "migProfile")]
    node = nodes[0] if nodes else None
    profile = f.name(f.iri(_owner_virtualization(f, node), SAI + "migProfile")) if node else "?"
    memory = s.q(node, "deviceMemoryGB", "slice memory", "GB")
    weights = s.q(pool, "weightBytesPerDeviceGB", "weights per device", "GB")
    seqs = s.q(pool, "kvCapacitySequencesP99", "p99-length requests per replica", "")
    return (f"{f.name(pool)} runs on MIG {profile} slices of {memory}: after {weights} of weights a replica has KV "
            f"room for {seqs} requests of the p99 length")


def _c_migration_interconnect(s: Sentence, f: Facts, e: Evidence):
    rule, b = f.bindings(e.condition)
    before = s.b(rule, b, "before", "scale-out bandwidth per GPU before", "GB/s")
    after = s.b(rule, b, "after", "scale-out bandwidth per GPU after", "GB/s")
    lost = b.get("directLost")
    text = f"after the move a GPU gets {after} of scale-out bandwidth instead of {before}"
    if isinstance(lost, ox.Literal) and lost.value == "true":
        text += ", and loses its GPU-direct path"
    return text


def _c_migration_storage(s: Sentence, f: Facts, e: Evidence):
    plan = e.component
    source, target = f.iri(plan, SAI + "sourceEnvironment"), f.iri(plan, SAI + "targetEnvironment")
    before = written_value(f.iri(source, SAI + "storageLocality") or "")
    after = written_value(f.iri(target, SAI + "storageLocality") or "")
    rule, b = f.bindings(e.condition)
    scaler = b.get("scaler")
    text = f"weights and cache spill move from {before} storage ({f.name(source)}) to {after} ({f.name(target)})"
    if isinstance(scaler, ox.NamedNode):
        text += f"; {f.name(scaler.value)} starts every new replica cold over that network"
    return text


def _c_migration_virtualization(s: Sentence, f: Facts, e: Evidence):
    plan = e.component
    regimes = sorted({written_value(r) for n in f.iris(plan, SAI + "migrationTargetNode")
                      for r in f.iris(_owner_virtualization(f, n), SAI + "gpuVirtualization")} - {"bare-metal"})
    return f"the move takes bare-metal serving into {', '.join(regimes) or 'a virtualized regime'}"


def _c_migration_accelerator(s: Sentence, f: Facts, e: Evidence):
    plan = e.component
    before = sorted({m for n in f.iris(plan, SAI + "migrationSourceNode") for m in f.iris(n, SAI + "acceleratorModel")})
    after = sorted({m for n in f.iris(plan, SAI + "migrationTargetNode") for m in f.iris(n, SAI + "acceleratorModel")})
    return (f"the move changes the accelerators from {', '.join(f.name(m) for m in before)} to "
            f"{', '.join(f.name(m) for m in after)}")


def _c_migration_loop(s: Sentence, f: Facts, e: Evidence):
    plan = e.component
    loops = f.iris(plan, SAI + "introducesControlLoop")
    described = []
    for loop in loops:
        observes = ", ".join(written_value(x) for x in f.iris(loop, SAI + "observesState"))
        actuates = ", ".join(written_value(x) for x in f.iris(loop, SAI + "actuatesState"))
        described.append(f"{f.name(loop)} (observes {observes}; actuates {actuates})")
    return f"the target adds control loops the source did not have: {'; '.join(described)}"


def _c_loop_conflict(s: Sentence, f: Facts, e: Evidence):
    rule, b = f.bindings(e.condition)
    mine = s.b(rule, b, "myPeriod", "this loop's period", "ms")
    theirs = s.b(rule, b, "theirPeriod", "the other loop's period", "ms")
    other, state = b.get("other"), b.get("state")
    other_name = f.name(other.value) if isinstance(other, ox.NamedNode) else "another loop"
    state_name = written_value(state.value) if isinstance(state, ox.NamedNode) else "a shared state"
    both = isinstance(other, ox.NamedNode) and state is not None and state in f.objects(other.value,
                                                                                      SAI + "actuatesState")
    verb = "also actuates" if both else "observes"
    ratio = ""
    mine_v, theirs_v = b.get("myPeriod"), b.get("theirPeriod")
    if isinstance(mine_v, ox.Literal) and isinstance(theirs_v, ox.Literal) and float(theirs_v.value) > 0:
        a, c = float(mine_v.value), float(theirs_v.value)
        ratio = f", periods {show_number(max(a, c) / min(a, c))}× apart (under 10× neither settles)"
    return f"{f.name(e.component)} (every {mine}) actuates {state_name}, which {other_name} (every {theirs}) {verb}{ratio}"


METRIC_NAMES = {"ttft": "TTFT", "tpot": "TPOT", "e2e-latency": "end-to-end latency", "kv-transfer-time": "KV transfer",
                "sm-active": "SM activity", "dram-active": "DRAM activity", "throughput": "throughput"}
UNIT_NAMES = {"percent": "%", "tokens-per-s": "tokens/s", "requests-per-s": "req/s", "usd-per-mtok": "USD/Mtok",
              "count": "", "mib": "MiB", "gb": "GB", "ratio": "", "us": "µs"}


def metric_name(f: Facts, measurement: str) -> str:
    written = written_value(f.iri(measurement, SOSA + "observedProperty") or "")
    return METRIC_NAMES.get(written, written)


def _measured(s: Sentence, f: Facts, measurement: str) -> str | None:
    """"TTFT p99 2,150 ms": a measurement as read (milliseconds where the rules converted it, else its own unit)."""
    percentile = f.number(measurement, SAI + "percentile")
    what = metric_name(f, measurement) + (f" p{show_number(percentile)}" if percentile is not None else "")
    value = s.q(measurement, "valueMs", f"measured {what}", "ms")
    if value is None:
        unit = written_value(f.iri(measurement, SAI + "unit") or "")
        value = s.raw(measurement, SOSA + "hasSimpleResult", f"measured {what}", UNIT_NAMES.get(unit, unit))
    return f"{what} {value}" if value else None


def _s_widening(s: Sentence, f: Facts, e: Evidence):
    ratio = s.q(e.indication, "observedRatio", "p99 ÷ p50 (TTFT per prompt token)", "×")
    measured = [_measured(s, f, m) for m in sorted(e.measurements, key=lambda m: -(f.number(m, SAI + "percentile") or 0))]
    return f"measured {', '.join(x for x in measured if x)}: the tail is {ratio} the median on a heterogeneous path"


def _s_divergence(s: Sentence, f: Facts, e: Evidence):
    values = {}
    for m in e.measurements:
        values[f.iri(m, SOSA + "observedProperty")] = s.raw(m, SOSA + "hasSimpleResult", "measured " + metric_name(f, m),
                                                            "%")
    return (f"measured SM activity {values.get(SAI + 'SMActive')} while DRAM is {values.get(SAI + 'DRAMActive')} "
            f"active: compute looks free, memory bandwidth is not")


def _s_scaling(s: Sentence, f: Facts, e: Evidence):
    efficiency = s.q(e.indication, "scalingEfficiency", "scaling efficiency", "")
    scales = [s.q(m, "atScaleAccelerators", "accelerators", "GPUs")
              for m in sorted(e.measurements, key=lambda m: f.number(m, SAI + "atScaleAccelerators") or 0)]
    return (f"measured at saturation from {' to '.join(x for x in scales if x)}, throughput scales with efficiency "
            f"{efficiency} (1 would be proportional)")


def _s_virtual_shift(s: Sentence, f: Facts, e: Evidence):
    ratio = s.q(e.indication, "observedRatio", "virtualized ÷ bare-metal", "×")
    measured = [_measured(s, f, m) for m in e.measurements]
    return f"measured {' vs '.join(x for x in measured if x)}: {ratio} under virtualization"


def _s_migration_shift(s: Sentence, f: Facts, e: Evidence):
    shift = s.q(e.indication, "distributionShift", "change after the move", "%", scale=100)
    measured = []
    source = f.iri(e.component, SAI + "sourceEnvironment")
    for m in sorted(e.measurements, key=lambda m: f.iri(m, SAI + "measuredInEnvironment") != source):
        environment = f.name(f.iri(m, SAI + "measuredInEnvironment"))
        text = _measured(s, f, m)
        if text:
            measured.append(f"{text} in {environment}")
    return f"measured {' → '.join(measured)}: {shift} worse after the move, with no code change"


def _s_contention(s: Sentence, f: Facts, e: Evidence):
    ratio = s.q(e.indication, "observedRatio", "measured ÷ idle-link prediction", "×")
    measurement = e.measurements[0] if e.measurements else None
    measured = s.q(measurement, "valueMs", "measured KV transfer", "ms")
    predicted = s.q(measurement, "predictedValueMs", "idle-link prediction", "ms")
    return f"the measured KV transfer ({measured}) is {ratio} the idle-link time ({predicted}): the path is contended"


def _s_serving_evidence(s: Sentence, f: Facts, e: Evidence):
    parts = []
    for m in e.measurements:
        text = _measured(s, f, m)
        target = s.q(m, "sloTargetMs", "SLO target", "ms")
        predicted = s.q(m, "predictedValueMs", "predicted", "ms") if f.number(m, SAI + "breachRatio") is None else None
        if text:
            parts.append(text + (f" against a {target} target" if target else "")
                         + (f" (predicted {predicted})" if predicted else ""))
    return "measured " + ", ".join(parts) if parts else None


CLAUSES = {
    "MixedAcceleratorPool": _c_mixed_pool,
    "SchedulerOverNonEquivalentAccelerators": _c_scheduler,
    "MemoryBandwidthAsymmetricPool": _c_bandwidth_asymmetry,
    "MemoryBoundDecodeOnComputeRichClass": _c_memory_bound_decode,
    "KVCapacityShortfall": _c_kv_shortfall,
    "CrossClassDisaggregation": _c_cross_class,
    "KVTransferEatsTTFT": _c_kv_eats_ttft,
    "CrossRegionServingPath": _c_cross_region,
    "NonRDMAKVPath": _c_non_rdma,
    "TensorParallelBeyondScaleUpDomain": _c_tp_beyond_domain,
    "ModelParallelTrafficOverScaleOut": _c_pp_over_scale_out,
    "TensorParallelWithoutPeerToPeer": _c_tp_without_p2p,
    "TimeSlicedTenantSharing": _c_time_sliced,
    "VirtualizedNetworkOnServingPath": _c_virtual_network,
    "HypervisorMediatedAccelerators": _c_hypervisor,
    "MIGGranularityMismatch": _c_mig,
    "MigrationInterconnectDowngrade": _c_migration_interconnect,
    "MigrationStorageLocalityDowngrade": _c_migration_storage,
    "MigrationVirtualizationChange": _c_migration_virtualization,
    "MigrationAcceleratorChange": _c_migration_accelerator,
    "MigrationControlLoopChange": _c_migration_loop,
    "ControlLoopTimescaleConflict": _c_loop_conflict,
    "WideningTimingDistributionSignature": _s_widening,
    "ComputeServingDivergenceSignature": _s_divergence,
    "NonProportionalScalingSignature": _s_scaling,
    "VarianceControllabilityShiftSignature": _s_virtual_shift,
    "PostMigrationDistributionShiftSignature": _s_migration_shift,
    "MeasuredContention": _s_contention,
    "MeasuredServingEvidence": _s_serving_evidence,
}


# --- findings --------------------------------------------------------------------------------------------


def _prefill_pools(f: Facts, workload: str) -> list[str]:
    return [p for p in f.iris(workload, SAI + "servedBy")
            if f.iri(p, SAI + "poolRole") in (SAI + "PrefillRole", SAI + "ColocatedRole")]


def _f_ttft(s: Sentence, f: Facts, d: str, component: str):
    workload = component
    target = s.q(f.iri(workload, SAI + "hasSLO"), "ttftTargetMs", "TTFT target", "ms")
    prompt = s.q(workload, "promptTokensP99", "p99 prompt", "tokens")
    predicted = s.q(workload, "predictedTTFTP99Ms", "predicted TTFT of the p99 prompt on an idle replica", "ms")
    ratio = s.q(d, "observedRatio", "predicted ÷ target", "×")
    parts = []
    for pool in _prefill_pools(f, workload):
        prefill = s.q(pool, "prefillTimeP99Ms", f"prefill of the p99 prompt on {f.name(pool)}", "ms")
        if prefill:
            parts.append(f"prefill {prefill} on {_pool_models(f, pool)}")
    for path in f.paths_from(_prefill_pools(f, workload)):
        transfer = s.q(path, "kvTransferTimeP99Ms", "KV hand-off of the p99 prompt", "ms")
        if transfer:
            parts.append(f"KV hand-off {transfer}")
    needs = f"{' + '.join(parts)} = {predicted}" if len(parts) > 1 else f"{predicted} ({parts[0]})" if parts else predicted
    return (f"the p99 prompt ({prompt}) needs {needs} before its first token on an idle replica, {ratio} the "
            f"{target} TTFT target")


def _tightest_tpot(s: Sentence, f: Facts, pool: str) -> str | None:
    best = None
    for subject in f.subjects(SAI + "servedBy", pool):
        slo = f.iri(subject.value, SAI + "hasSLO")
        value = f.number(slo, SAI + "tpotTargetMs")
        if value is not None and (best is None or (value, slo) < (best[1], best[0])):  # ties: not store order
            best = (slo, value)
    return s.q(best[0], "tpotTargetMs", "TPOT target", "ms") if best else None


def _f_tpot_floor(s: Sentence, f: Facts, d: str, pool: str):
    weights = s.q(pool, "weightBytesPerDeviceGB", "weights read per step per device", "GB")
    bw = s.q(pool, "minMemoryBandwidthGBps", "memory bandwidth", "GB/s")
    floor = s.q(pool, "decodeStepFloorMs", "decode-step floor", "ms")
    target = _tightest_tpot(s, f, pool)
    ratio = s.q(d, "observedRatio", "floor ÷ target", "×")
    return (f"reading {weights} of weights per step at {bw} takes {floor} on {f.name(pool)}, {ratio} the {target} "
            f"TPOT target at any batch")


def _f_tpot_load(s: Sentence, f: Facts, d: str, pool: str):
    batch = s.q(pool, "designDecodeBatch", "decode batch at the offered load", "sequences")
    predicted = s.q(pool, "predictedTPOTMs", "predicted TPOT at the offered load", "ms")
    target = _tightest_tpot(s, f, pool)
    floor = s.q(pool, "decodeStepFloorMs", "decode-step floor", "ms")
    return (f"at the offered load each {f.name(pool)} replica decodes {batch} at a time: TPOT {predicted} against the "
            f"{target} target (floor {floor})")


def _f_e2e(s: Sentence, f: Facts, d: str, workload: str):
    predicted = s.q(workload, "predictedE2EP99Ms", "predicted end-to-end latency of a p99 request", "ms")
    target = s.q(f.iri(workload, SAI + "hasSLO"), "p99LatencyTargetMs", "p99 latency target", "ms")
    output = s.q(workload, "outputTokensP99", "p99 output", "tokens")
    tpot = s.q(workload, "predictedTPOTMs", "predicted TPOT", "ms")
    return (f"a p99 request ({output} out at {tpot} per token) takes {predicted} end to end, over the {target} "
            f"p99 latency target")


def _f_capacity(s: Sentence, f: Facts, d: str, pool: str, surplus: bool = False):
    present = s.q(pool, "modelReplicasPresent", "replicas present", "")
    needed = s.q(pool, "replicasNeeded", "replicas needed", "")
    per = s.q(pool, "replicaCapacityRps", "requests one replica serves", "req/s")
    load = s.q(pool, "poolArrivalRateRps", "offered load", "req/s")
    headroom = s.q(pool, "capacityHeadroom", "headroom", "×")
    text = (f"{f.name(pool)} has {present} replicas of {per} each for {load}: it needs {needed}"
            + (f" (headroom {headroom})" if headroom else ""))
    if surplus:
        devices = s.q(pool, "deviceTotal", "devices in the pool", "devices")
        text += f"; {devices} are powered for it"
    elif f.one(pool, SAI + "decodeDemandSaturates") is not None and f.one(pool, SAI + "decodeDemandSaturates").value == "true":
        text += "; the decode batch the load demands grows without bound"
    return text


def _f_kv_risk(s: Sentence, f: Facts, d: str, pool: str):
    return _c_kv_shortfall(s, f, Evidence("KVCapacityRisk", 0, pool))


def _f_breach(s: Sentence, f: Facts, d: str, component: str):
    measurement = f.iri(d, SAI + "viaMeasurement")
    text = _measured(s, f, measurement) if measurement else None
    target = s.q(measurement, "sloTargetMs", "SLO target", "ms")
    ratio = s.q(d, "observedRatio", "measured ÷ target", "×")
    return f"measured {text} on {f.name(component)}, {ratio} the {target} target"


FINDINGS = {
    "TTFTTargetUnattainable": _f_ttft,
    "TPOTTargetUnattainable": _f_tpot_floor,
    "TPOTTargetMissedAtLoad": _f_tpot_load,
    "E2ETargetUnattainable": _f_e2e,
    "CapacityShortfall": _f_capacity,
    "OverProvisioning": lambda s, f, d, pool: _f_capacity(s, f, d, pool, surplus=True),
    "KVCapacityRisk": _f_kv_risk,
    "SLOBreach": _f_breach,
}


# --- what it will do, and how to confirm it --------------------------------------------------------------

EFFECTS = {
    "MixedAcceleratorPool": "the same request finishes at a different time on each class: tail latency widens and "
                            "responses come back out of order, while the pool is steered as one substrate",
    "SchedulerOverNonEquivalentAccelerators": "its decisions assume one step time: the slower class builds queues the "
                                              "faster one does not, so tail latency widens and load drifts",
    "MemoryBandwidthAsymmetricPool": "the pool runs at the pace of its slowest memory: faster devices wait at every "
                                     "batch boundary and capacity is lower than the device count suggests",
    "MemoryBoundDecodeOnComputeRichClass": "decode is bound by memory bandwidth: SMs look idle while DRAM is "
                                           "saturated, so the reported compute headroom buys no tokens per second",
    "KVCapacityShortfall": "long requests are preempted or queued for KV blocks: TTFT and TPOT tails inflate under "
                           "load well before compute is busy",
    "CrossClassDisaggregation": "every request crosses two timing and memory regimes: the slower side paces it, and "
                                "tuning one side moves the bottleneck to the other",
    "KVTransferEatsTTFT": "every request waits for its KV cache before its first token: TTFT grows with prompt length "
                          "and with every concurrent hand-off on the shared path",
    "CrossRegionServingPath": "wide-area latency and routing sit on every request's critical path: TTFT tails follow "
                              "the WAN, not the GPUs",
    "NonRDMAKVPath": "KV bytes are copied through host memory and the network stack: transfer time and its variance "
                     "grow with CPU and NIC contention",
    "TensorParallelBeyondScaleUpDomain": "part of every step waits on the scale-out fabric: the GPUs deliver less than "
                                         "their count suggests, and adding more does not scale",
    "ModelParallelTrafficOverScaleOut": "activations cross the scale-out fabric every step: throughput scales less "
                                        "than the GPU count and is exposed to fabric congestion",
    "TensorParallelWithoutPeerToPeer": "every all-reduce crosses PCIe or host memory: provisioned compute waits on the "
                                       "interconnect, and more TP adds less capacity",
    "TimeSlicedTenantSharing": "each consumer's latency becomes a distribution shaped by the others' load (noisy "
                               "neighbours); steering one tenant's replicas has unpredictable effects",
    "VirtualizedNetworkOnServingPath": "transfers pass an arbitration the guest cannot see: KV and collective timing "
                                       "vary with other tenants' traffic",
    "HypervisorMediatedAccelerators": "the vGPU scheduler stands between the serving engine and the GPU: control "
                                      "decisions land late and utilisation metrics misreport the real share",
    "MIGGranularityMismatch": "the slice boundary, not the demand, caps concurrency: long requests are refused or "
                              "preempted while utilisation looks low",
    "MigrationInterconnectDowngrade": "collectives and KV transfers that fit the source fabric queue on the target's: "
                                      "latency shifts after cut-over with no code change",
    "MigrationStorageLocalityDowngrade": "model loads and cache spills cross the network: cold starts and scale-ups "
                                         "take longer, and latency depends on storage traffic",
    "MigrationVirtualizationChange": "execution gains mediation points the workload was never tuned for: the latency "
                                     "distribution shifts and widens after cut-over",
    "MigrationAcceleratorChange": "the same weights meet other timing and memory behaviour: tuned batch sizes and "
                                  "SLO margins no longer hold",
    "MigrationControlLoopChange": "a new controller rewrites the control geometry the workload was tuned under: "
                                  "scaling and placement behave differently after cut-over",
    "ControlLoopTimescaleConflict": "neither loop settles before the other acts again: oscillation (replica or batch "
                                    "flapping) and latency spikes that neither loop's own metrics explain",
    "TTFTTargetUnattainable": "the TTFT SLO is missed for long prompts even on an idle fleet; no scheduling fixes it",
    "TPOTTargetUnattainable": "every token is slower than the TPOT target, at any batch and any load",
    "TPOTTargetMissedAtLoad": "at the stated load every stream is slower than the TPOT target; it holds only at "
                              "lower load",
    "E2ETargetUnattainable": "long requests miss the end-to-end latency target even when nothing else goes wrong",
    "CapacityShortfall": "queues grow until requests are shed: latency inflates without bound at the stated load",
    "OverProvisioning": "accelerators are paid for and powered while most of their capacity serves no request: cost "
                        "escalation without capability gain",
    "KVCapacityRisk": "long requests are preempted or queued for KV blocks: TTFT and TPOT tails inflate under load",
    "SLOBreach": "users see the breach now: the failure envelope is reached, whatever its cause",
}
MODE_EFFECTS = {
    "LatencyAsymmetryDrift": "timing distributions widen and responses reorder as scheduling assumptions and "
                             "realized timing diverge",
    "MemoryPathIncoherence": "reported compute availability exceeds the serving capacity the memory path allows",
    "InterconnectCapacityInaccessibility": "provisioned capacity is only partly usable: throughput does not scale "
                                           "with the accelerators added",
    "VirtualizationControlDistortion": "variance grows and control decisions have less predictable effects",
    "MigrationReconfigurationRisk": "latency and contention change after the move without any code-level failure",
}

# What to measure, by the description's metric names (so a user can add the measurement) and the exporter series.
TTFT, TPOT, E2E, KV = "ttft", "tpot", "e2e-latency", "kv-transfer-time"
MEASURE = {
    "MixedAcceleratorPool": (TTFT, TPOT),
    "SchedulerOverNonEquivalentAccelerators": (TPOT, TTFT, "queue-time"),
    "MemoryBandwidthAsymmetricPool": ("sm-active", "dram-active", TPOT),
    "MemoryBoundDecodeOnComputeRichClass": ("sm-active", "dram-active", TPOT),
    "KVCapacityShortfall": ("kv-cache-usage", "preemptions", "requests-waiting"),
    "KVCapacityRisk": ("kv-cache-usage", "preemptions", "requests-waiting"),
    "MIGGranularityMismatch": ("kv-cache-usage", "preemptions", "requests-waiting"),
    "CrossClassDisaggregation": (TTFT, KV, TPOT),
    "KVTransferEatsTTFT": (KV, TTFT),
    "CrossRegionServingPath": (KV, TTFT),
    "NonRDMAKVPath": (KV, TTFT),
    "TensorParallelBeyondScaleUpDomain": ("throughput", TPOT),
    "ModelParallelTrafficOverScaleOut": ("throughput", TPOT),
    "TensorParallelWithoutPeerToPeer": ("throughput", TPOT),
    "TimeSlicedTenantSharing": (TTFT, TPOT),
    "VirtualizedNetworkOnServingPath": (KV, TTFT),
    "HypervisorMediatedAccelerators": (TPOT, "gpu-utilization"),
    "ControlLoopTimescaleConflict": (TTFT, "queue-time", "requests-waiting"),
    "TTFTTargetUnattainable": (TTFT,),
    "TPOTTargetUnattainable": (TPOT,),
    "TPOTTargetMissedAtLoad": (TPOT, "kv-cache-usage"),
    "E2ETargetUnattainable": (E2E, TPOT),
    "CapacityShortfall": ("requests-waiting", "queue-time", TTFT),
    "OverProvisioning": ("sm-active", "throughput"),
    "SLOBreach": (),
    "WideningTimingDistributionSignature": (TTFT, TPOT),
    "ComputeServingDivergenceSignature": ("sm-active", "dram-active", TPOT),
    "NonProportionalScalingSignature": ("throughput",),
    "VarianceControllabilityShiftSignature": (TTFT, TPOT),
    "PostMigrationDistributionShiftSignature": (TTFT, TPOT, E2E),
    "MeasuredContention": (KV, TTFT),
    "MigrationInterconnectDowngrade": (TTFT, TPOT, "throughput"),
    "MigrationStorageLocalityDowngrade": (TTFT, E2E),
    "MigrationVirtualizationChange": (TTFT, TPOT),
    "MigrationAcceleratorChange": (TTFT, TPOT),
    "MigrationControlLoopChange": (TTFT, TPOT, "requests-waiting"),
}
HOW = {  # how the §8.3 signature of each mode is read from those measurements
    "LatencyAsymmetryDrift": "the p99 ÷ p50 of TTFT (per prompt token) and TPOT, per accelerator class; a ratio of 2 "
                             "or more with heterogeneity in scope is the signature",
    "MemoryPathIncoherence": "SM activity at most 60 % while DRAM activity is 85 % or more on the same pool",
    "InterconnectCapacityInaccessibility": "saturated throughput at two scales: efficiency below 0.8 is the "
                                           "signature; a KV transfer p99 far above the idle-link time shows contention",
    "VirtualizationControlDistortion": "the same metric and percentile under bare metal and the virtualized regime, "
                                       "in one environment: 30 % or more apart is the signature",
    "MigrationReconfigurationRisk": "the same metric and percentile before and after the move, with no code change: "
                                    "20 % or more worse is the signature",
}
HOW_BY_KIND = {  # where a condition kind has a sharper reading than its mode's signature
    "KVTransferEatsTTFT": "a KV transfer p99 measured on the path at twice the idle-link time or more shows the "
                          "contention (S07), and TTFT p99 above its target confirms it on the serving path",
    "MeasuredContention": "a KV transfer p99 measured on the path at twice the idle-link time or more is contention",
    "NonRDMAKVPath": "a KV transfer p99 far above the idle-link time, and its spread, show the host-memory copies",
    "CrossRegionServingPath": "a KV transfer and TTFT p99 that follow the WAN latency show the regional coupling",
    "CrossClassDisaggregation": "the p99 ÷ p50 of TTFT per prompt token and of TPOT on each class: 2 or more with "
                                "heterogeneity in scope is the signature",
    "KVCapacityShortfall": "KV-cache usage near 100 % with requests waiting or preemptions counted per second is "
                           "cache pressure; SM activity at most 60 % with DRAM activity 85 % or more is the signature",
    "MIGGranularityMismatch": "KV-cache usage near 100 % with requests waiting on a slice whose SMs are idle",
    "ControlLoopTimescaleConflict": "queue time and TTFT oscillating at the loops' periods; the signature is the p99 "
                                    "÷ p50 of TTFT widening while both loops act",
}
EXTRA_SERIES = {  # series the ontology's metrics do not name (DCGM profiling fields for the interconnect)
    "TensorParallelBeyondScaleUpDomain": ("DCGM_FI_PROF_NVLINK_TX_BYTES",),
    "TensorParallelWithoutPeerToPeer": ("DCGM_FI_PROF_PCIE_TX_BYTES", "DCGM_FI_PROF_NVLINK_TX_BYTES"),
    "ModelParallelTrafficOverScaleOut": ("DCGM_FI_PROF_NVLINK_TX_BYTES",),
}


@cache
def _signature_of_mode() -> dict[str, tuple[str, str]]:
    """Mode local name → (signature local name, label) from the ontology (sai:signatureOf, §8.3)."""
    modes: dict[str, list[str]] = {}
    sources: dict[str, str] = {}
    for t in resources.ontology_triples():
        if t.predicate.value == SAI + "signatureOf":
            modes.setdefault(t.subject.value, []).append(t.object.value)
        elif t.predicate.value == "http://purl.org/dc/terms/source":
            sources.setdefault(t.subject.value, t.object.value)
    # The five signatures the paper names (§8.3 alone, one mode each); not the reasoner's own evidence kinds.
    return {_local(m[0]): (_local(sig), _ontology_label(sig) or "") for sig, m in modes.items()
            if len(m) == 1 and sources.get(sig) == "SORT-AI paper §8.3"}


@cache
def _metric_series() -> dict[str, str]:
    from .vocabulary import vocabulary

    by_iri = {iri: written for written, iri in vocabulary().terms["metric"].enum}
    return {by_iri[iri]: name for iri, name in _exported().items() if iri in by_iri}


def _series(metrics) -> list[str]:
    series = _metric_series()
    return [f"{m} ({series[m]})" if m in series else m for m in metrics]


def _confirmation(kind: str, mode: str | None, finding_metric: str | None) -> tuple[str, str | None, list[str]]:
    metrics = list(MEASURE.get(kind, ()))
    if finding_metric:
        metrics = [finding_metric]
    named = _series(metrics) + list(EXTRA_SERIES.get(kind, ()))
    if mode and mode in _signature_of_mode():
        signature, label = _signature_of_mode()[mode]
        how = HOW_BY_KIND.get(kind) or HOW.get(mode, "")
        text = f"§8.3 signature “{label}”: measure {', '.join(named)}; {how}"
        return text, signature, named
    if kind == "SLOBreach":
        return "already measured; find its cause in the diagnoses on the same serving path", None, named
    return (f"measure {', '.join(named)} against the SLO (§1.3 failure envelope)" if named else ""), None, named


# --- the headline of a diagnosis -------------------------------------------------------------------------


def _sentence_case(text: str, facts: Facts | None = None) -> str:
    """Capitalise the first word unless it is an element's id (ids are written as the user wrote them)."""
    if not text:
        return text
    first = text.split(" ", 1)[0].removesuffix("'s").rstrip(",:;")
    if facts is not None and facts.objects(facts.description.base + first, RDF_TYPE):
        return text
    return text[:1].upper() + text[1:]


def headline(facts: Facts, diagnosis) -> Headline:
    """The headline of one `Diagnosis` (diagnoses.py)."""
    s = Sentence(facts)
    iri = diagnosis.iri
    if diagnosis.kind == "finding":
        kind = diagnosis.mode
        clause = FINDINGS.get(kind, lambda *_: None)(s, facts, iri, diagnosis.component_iri)
        clauses = [clause]
        metric = facts.iri(iri, SAI + "breachedMetric")
        finding_metric = written_value(metric) if metric else None
        mode = None
    else:
        kind, mode, finding_metric = None, diagnosis.mode, None
        lines = evidence_of(facts, iri)
        scored = [e for e in lines if e.score > 0]
        lead = scored[0] if scored else (lines[0] if lines else None)
        clauses = []
        if lead is not None:
            kind = lead.kind
            clauses.append(CLAUSES.get(lead.kind, lambda *_: None)(s, facts, lead))
            measured = [e for e in lines if e is not lead and e.measurements and e.kind != lead.kind]
            already = any(f.label.startswith("measured") for f in s.figures)  # the lead clause quoted a measurement
            if measured and not lead.measurements and not already:
                best = measured[0]
                if best.kind == "MeasuredServingEvidence":  # several confirming measurements: one clause
                    ms = sorted({m for e in measured if e.kind == best.kind for m in e.measurements},
                                key=lambda m: (-(facts.number(m, SAI + "breachRatio") or 0), m))
                    best = Evidence(best.kind, 0.0, best.component, measurements=ms[:1])
                clauses.append(CLAUSES.get(best.kind, lambda *_: None)(s, facts, best))
    text = _join(clauses) or f"{diagnosis.mode_label} on {diagnosis.component}"
    effect = EFFECTS.get(kind or "", MODE_EFFECTS.get(mode or "", ""))
    confirm, signature, metrics = _confirmation(kind or "", mode, finding_metric)
    return Headline(_sentence_case(text, facts) + ".", s.figures, _sentence_case(effect) + "." if effect else "",
                    confirm + "." if confirm else "", signature, metrics)


def attach(facts: Facts, diagnosis) -> None:
    """Give a diagnosis its headline, figures, effect and confirmation (in place)."""
    if facts.evidence is None and facts.bulk_evidence:
        facts.evidence = all_evidence(facts)
    h = headline(facts, diagnosis)
    diagnosis.headline = h.sentence
    diagnosis.figures = [fig.to_json() for fig in h.figures]
    diagnosis.effect = h.effect
    diagnosis.confirm = h.confirm
    diagnosis.signature = h.signature
    diagnosis.metrics = h.metrics


def touched_by(triples) -> set[int]:
    """What changed triples make a recorded read stale (`Facts.reads`): by subject, by object, by scan."""
    found: set[int] = set()
    for t in triples:
        p, subject = t.predicate.value, t.subject.value
        found.add(hash(("s", subject, p)))
        found.add(hash(("s", subject)))
        found.add(hash(("p", p)))
        if isinstance(t.object, ox.NamedNode):
            found.add(hash(("o", t.object.value, p)))
    return found
