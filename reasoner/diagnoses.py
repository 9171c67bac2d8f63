"""Read the diagnoses the rules derived out of the store, as plain records ranked by severity."""

from __future__ import annotations

import gc
from dataclasses import asdict, dataclass, field, replace
from functools import cache

import pyoxigraph as ox

from . import resources
from .collector import without_cyclic_gc
from .engine import Reasoning

SAI = resources.SAI
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SKOS_NOTATION = "http://www.w3.org/2004/02/skos/core#notation"
SKOS_PREF = "http://www.w3.org/2004/02/skos/core#prefLabel"
SKOS_ALT = "http://www.w3.org/2004/02/skos/core#altLabel"
DCT_SOURCE = "http://purl.org/dc/terms/source"


@cache
def _annotations() -> dict[str, dict[str, str]]:
    """rdfs:label, skos:notation, skos:prefLabel, skos:altLabel and dcterms:source of every ontology and catalog
    term."""
    notes: dict[str, dict[str, str]] = {}
    for t in (*resources.ontology_triples(), *resources.catalog_triples()):
        if t.predicate.value in (RDFS_LABEL, SKOS_NOTATION, SKOS_PREF, SKOS_ALT, DCT_SOURCE) and not isinstance(
                t.object, ox.BlankNode):
            notes.setdefault(t.subject.value, {}).setdefault(t.predicate.value, t.object.value)
    return notes


def label(iri: str) -> str:
    note = _annotations().get(iri, {})
    return note.get(RDFS_LABEL) or iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def source_of(iri: str) -> str | None:
    return _annotations().get(iri, {}).get(DCT_SOURCE)


OWL = "http://www.w3.org/2002/07/owl#"


@cache
def _axiom_sources() -> dict[tuple[str, str, str], str]:
    """dcterms:source of annotated axioms (owl:Axiom): the source of one statement, e.g. an `intensifies` edge
    of §6.4, which differs from the source of the term it is about."""
    parts: dict[ox.BlankNode, dict[str, str]] = {}
    for t in resources.ontology_triples():
        if isinstance(t.subject, ox.BlankNode) and t.predicate.value in (
                OWL + "annotatedSource", OWL + "annotatedProperty", OWL + "annotatedTarget", DCT_SOURCE):
            parts.setdefault(t.subject, {})[t.predicate.value] = t.object.value
    return {(p[OWL + "annotatedSource"], p[OWL + "annotatedProperty"], p[OWL + "annotatedTarget"]): p[DCT_SOURCE]
            for p in parts.values() if len(p) == 4}


def statement_source(triple: ox.Triple) -> str | None:
    """The source of one ontology statement: its axiom annotation if it has one, else its subject's source."""
    key = (triple.subject.value, triple.predicate.value, triple.object.value)
    return _axiom_sources().get(key) or source_of(triple.subject.value)


def domain_label(iri: str) -> str:
    note = _annotations().get(iri, {})
    notation = note.get(SKOS_NOTATION, iri.rsplit("/", 1)[-1])
    title = note.get(SKOS_PREF)
    return f"{notation} {title}" if title else notation


@cache
def _short_titles() -> dict[str, str]:
    """Domain notation → its short title: the skos:altLabel the paper uses (AI.01 'Interconnect Stability'),
    else the title itself."""
    return {note[SKOS_NOTATION]: note.get(SKOS_ALT) or note.get(SKOS_PREF, "")
            for note in _annotations().values() if SKOS_NOTATION in note}


def short_domain(label: str) -> str:
    """'AI.01 Interconnect Stability Control' → 'AI.01 Interconnect Stability'."""
    notation = label.split(" ", 1)[0]
    title = _short_titles().get(notation)
    return f"{notation} {title}" if title else label


@dataclass
class Diagnosis:
    """An instability mode found on a component (kind "mode"), or a serving finding (kind "finding": an SLO the
    hardware cannot meet, a capacity shortfall or surplus, a measured breach), which has a finding kind instead."""

    iri: str
    id: str
    mode: str
    mode_label: str
    kind: str
    component: str
    component_iri: str
    severity: str
    severity_score: float
    confidence: str
    primary_domains: list[str] = field(default_factory=list)
    supporting_domains: list[str] = field(default_factory=list)
    consequences: list[str] = field(default_factory=list)
    involves: list[str] = field(default_factory=list)
    compounds_with: list[str] = field(default_factory=list)
    routes: int = 0
    # What an SRE reads first (headlines.py): one sentence with the numbers that carry it, each number with its
    # source; the expected effect; what to measure to confirm it (the §8.3 signature and the exporter series).
    headline: str = ""
    figures: list[dict] = field(default_factory=list)
    effect: str = ""
    confirm: str = ""
    signature: str | None = None
    metrics: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


# The share of the diagnoses below which those read again read their evidence one by one (`headlines.evidence_of`):
# at 100k triples, one scan for all takes 0.12–0.2 s, and reading the 6 a remedy touches one by one 5 ms.
FEW_READ_AGAIN = 0.05


# Reading the diagnoses makes no reference cycle (tests/test_headlines.py): the collector has nothing to free
# here. Left on, its full passes rescanned the growing lookup cache and the records: 2.4 s of 10.3 s at 1M.
@without_cyclic_gc
def diagnoses(reasoning: Reasoning) -> list[Diagnosis]:
    """Every diagnosis, ranked. After an incremental update only those whose record read something the update
    changed are read again (`Reasoning.touched`); the others are the records read before."""
    from .headlines import Facts

    store = reasoning.store
    description = reasoning.description
    same_names = (description.base, description.deployment, description.name)
    before = reasoning.diagnosis_records
    if before is None or reasoning.touched is None or before[0] != same_names:
        before = (same_names, {})
    touched = reasoning.touched or set()
    records: dict[str, tuple] = {}
    facts = Facts(reasoning)
    found = []
    nodes = [q.subject for q in store.quads_for_pattern(None, RDF_TYPE, ox.NamedNode(SAI + "Diagnosis"),
                                                        reasoning.inferred_graph)]
    stale = {n.value for n in nodes if (r := before[1].get(n.value)) is None or not r[1].isdisjoint(touched)}
    # Every diagnosis's evidence from one scan per property, unless only a few are read again (after an update)
    facts.bulk_evidence = len(stale) > FEW_READ_AGAIN * len(nodes)
    for node in nodes:
        record = before[1].get(node.value)
        if node.value in stale:
            facts.forget_lookups()
            facts.reads = set()
            diagnosis = _read(reasoning, node, facts)
            record = (diagnosis, frozenset(facts.reads))
            facts.reads = None
        records[node.value] = record
        if record[0] is not None:
            found.append(_copy(record[0]))
    reasoning.diagnosis_records = (same_names, records)
    reasoning.touched = set()
    found.sort(key=lambda d: (-d.severity_score, d.id))
    # The records live as long as the reasoning (they are read again after an update), which engine.infer
    # moves out of the cyclic collector's generations. Left in them, the 2,151 records at 100k made its full
    # passes pause the explanations that follow for up to 24 ms, against 2.5 ms frozen (slowest: 39 → 20 ms).
    gc.freeze()
    return found


def _read(reasoning: Reasoning, node: ox.NamedNode, facts) -> Diagnosis | None:
    from .headlines import attach

    name, subject = reasoning.description.element_name, node.value
    # Through `Facts`, which records what each record reads (`Facts.reads`)
    mode = facts.one(subject, SAI + "mode")
    kind = "mode"
    if mode is None:
        mode, kind = facts.one(subject, SAI + "findingKind"), "finding"
    if mode is None:
        return None  # not a diagnosis the rules completed (an edited rule base can leave one half-made)
    component = facts.one(subject, SAI + "concerns")
    severity = facts.one(subject, SAI + "severity")
    score = facts.one(subject, SAI + "severityScore")
    confidence = facts.one(subject, SAI + "confidence")
    facts.read("s", subject, RDF_TYPE.value)  # its routes: the derivations of its type
    derivations = reasoning.derivations.get(ox.Triple(node, RDF_TYPE, ox.NamedNode(SAI + "Diagnosis")), [])
    objects = lambda predicate: facts.objects(subject, SAI + predicate)  # noqa: E731
    diagnosis = Diagnosis(
        iri=node.value, id=name(node.value), mode=mode.value.rsplit("#", 1)[-1], mode_label=label(mode.value),
        kind=kind, component=name(component.value), component_iri=component.value,
        severity=label(severity.value) if severity else "unknown",
        severity_score=float(score.value) if score else 0.0,
        confidence=label(confidence.value) if confidence else "unknown",
        primary_domains=sorted(domain_label(d.value) for d in objects("hasPrimaryDomain")),
        supporting_domains=sorted(domain_label(d.value) for d in objects("hasSupportingDomain")),
        consequences=sorted(label(c.value) for c in objects("expectedConsequence")),
        involves=sorted(name(i.value) for i in objects("involves")),
        compounds_with=sorted(name(o.value) for o in objects("compoundsWith")),
        routes=len(derivations),
    )
    attach(facts, diagnosis)
    return diagnosis


def _copy(diagnosis: Diagnosis) -> Diagnosis:
    """A record the caller may change without changing the one kept for the next read."""
    return replace(diagnosis, primary_domains=list(diagnosis.primary_domains),
                   supporting_domains=list(diagnosis.supporting_domains), consequences=list(diagnosis.consequences),
                   involves=list(diagnosis.involves), compounds_with=list(diagnosis.compounds_with),
                   figures=[dict(f) for f in diagnosis.figures], metrics=list(diagnosis.metrics))


def severity_rank(diagnosis: Diagnosis) -> int:
    return {"critical": 4, "high": 3, "moderate": 2, "low": 1}.get(diagnosis.severity.split(" ", 1)[0].lower(), 0)
