"""Forward chaining to a fixpoint over an Oxigraph store, stratum by stratum, keeping every derivation.

Each rule is a `SELECT *` (see rules.py) whose rows instantiate conclusions and premises. Strata without
recursion run once, in dependency order; a recursive stratum re-runs only the rules whose inputs received
new triples in the previous round (semi-naive at rule granularity). Evaluation order, row order and
output order are all fixed, so the same input gives the same bytes.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable

import pyoxigraph as ox
import rdflib

from . import resources
from .description import Description
from .rules import Pattern, Rule, RuleBase, load_rule_base

MAX_ALTERNATIVES = 8


@dataclass(frozen=True)
class Derivation:
    """One application of a rule: the conclusions it licensed, the premises it matched, the numbers it used."""

    rule: Rule
    premises: tuple[ox.Triple, ...]
    bindings: tuple[tuple[str, object], ...]


@dataclass
class RuleStats:
    rule_id: str
    runs: int = 0
    rows: int = 0
    new_triples: int = 0
    seconds: float = 0.0


@dataclass
class Reasoning:
    """The result of inference: the store (asserted + inferred graphs) and the provenance of derived triples."""

    store: ox.Store
    description: Description
    rule_base: RuleBase
    asserted_graph: ox.NamedNode
    inferred_graph: ox.NamedNode
    derivations: dict[ox.Triple, list[Derivation]] = field(default_factory=dict)
    stats: dict[str, RuleStats] = field(default_factory=dict)
    rounds: int = 0

    def inferred_triples(self) -> list[ox.Triple]:
        return sorted((q.triple for q in self.store.quads_for_pattern(None, None, None, self.inferred_graph)),
                      key=str)

    def query(self, sparql: str):
        return self.store.query(sparql, use_default_graph_as_union=True)


def graph_names(description: Description) -> tuple[ox.NamedNode, ox.NamedNode]:
    return (ox.NamedNode(description.base + "graph/asserted"), ox.NamedNode(description.base + "graph/inferred"))


ONTOLOGY_GRAPH = ox.NamedNode(resources.ONTOLOGY_IRI)
CATALOG_GRAPH = ox.NamedNode(resources.ONTOLOGY_IRI + "/catalog")


def load_store(description: Description, store: ox.Store | None = None) -> ox.Store:
    store = store if store is not None else ox.Store()
    asserted, _ = graph_names(description)
    store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, ONTOLOGY_GRAPH) for t in resources.ontology_triples())
    store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, CATALOG_GRAPH) for t in resources.catalog_triples())
    store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, asserted) for t in description.triples)
    return store


def infer(description: Description, rule_base: RuleBase | None = None, store: ox.Store | None = None,
          progress: Callable[[str], None] | None = None) -> Reasoning:
    rule_base = rule_base or load_rule_base()
    store = load_store(description, store)
    asserted, inferred = graph_names(description)
    reasoning = Reasoning(store, description, rule_base, asserted, inferred)
    for stratum, recursive in zip(rule_base.strata, rule_base.recursive):
        if progress:
            progress(", ".join(r.rule_id for r in stratum))
        pending: list[Rule] = list(stratum)
        while pending:
            reasoning.rounds += 1
            changed: set[tuple[str, str]] = set()
            for rule in pending:
                changed |= _apply(rule, reasoning)
            if not recursive or not changed:
                break
            pending = [r for r in stratum if any(_touches(w, r.reads) for w in changed)]
    return reasoning


def _touches(written: tuple[str, str], reads: Iterable[tuple[str, str]]) -> bool:
    from .rules import _matches

    return any(_matches(written, r) for r in reads)


# --- applying one rule ---------------------------------------------------------------------------------


def _to_ox(term):
    if isinstance(term, rdflib.URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, rdflib.Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise ValueError(f"unsupported constant in a rule pattern: {term!r}")


def _compile(patterns: Iterable[Pattern]):
    compiled = []
    for p in patterns:
        compiled.append(tuple(("var", str(t)) if isinstance(t, rdflib.Variable) else ("const", _to_ox(t))
                              for t in (p.s, p.p, p.o)) + (p.context,))
    return compiled


_COMPILED: dict[str, tuple[list, list]] = {}


def _compiled(rule: Rule):
    if rule.iri not in _COMPILED:
        _COMPILED[rule.iri] = (_compile(rule.template), _compile(rule.premise_patterns))
    return _COMPILED[rule.iri]


def _instantiate(pattern, row: dict):
    terms = []
    for kind, value in pattern[:3]:
        if kind == "const":
            terms.append(value)
        else:
            bound = row.get(value)
            if bound is None:
                return None
            terms.append(bound)
    s, p, o = terms
    if isinstance(s, ox.Literal) or not isinstance(p, ox.NamedNode):
        return None
    return ox.Triple(s, p, o)


def _key(triple: ox.Triple) -> tuple[str, str]:
    predicate = triple.predicate.value
    if predicate == resources_type():
        return (predicate, triple.object.value)
    return (predicate, "*")


def resources_type() -> str:
    return "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _exists(store: ox.Store, triple: ox.Triple) -> bool:
    return next(iter(store.quads_for_pattern(triple.subject, triple.predicate, triple.object, None)), None) is not None


def _apply(rule: Rule, reasoning: Reasoning) -> set[tuple[str, str]]:
    started = time.perf_counter()
    stats = reasoning.stats.setdefault(rule.rule_id, RuleStats(rule.rule_id))
    stats.runs += 1
    template, premise_patterns = _compiled(rule)
    store = reasoning.store
    solutions = reasoning.query(rule.select)
    names = [v.value for v in solutions.variables]
    # conclusions -> (premises, bindings); for aggregating rules rows with equal conclusions are merged.
    found: dict[tuple[ox.Triple, ...], list[tuple[tuple[ox.Triple, ...], tuple]]] = defaultdict(list)
    for solution in solutions:
        stats.rows += 1
        row = {name: solution[name] for name in names if solution[name] is not None}
        conclusions = tuple(t for t in (_instantiate(p, row) for p in template) if t is not None)
        if not conclusions:
            continue
        premises = []
        for pattern in premise_patterns:
            triple = _instantiate(pattern, row)
            if triple is None:
                continue
            if pattern[3] == "optional" and not _exists(store, triple):
                continue
            premises.append(triple)
        bindings = tuple(sorted((k, v) for k, v in row.items()))
        found[conclusions].append((tuple(dict.fromkeys(premises)), bindings))
    new_quads: list[ox.Quad] = []
    changed: set[tuple[str, str]] = set()
    for conclusions in sorted(found, key=lambda c: [str(t) for t in c]):
        applications = found[conclusions]
        if rule.aggregates:
            merged = tuple(dict.fromkeys(t for premises, _ in applications for t in premises))
            applications = [(merged, applications[0][1])]
        for premises, bindings in sorted(applications, key=lambda a: [str(t) for t in a[0]]):
            derivation = Derivation(rule, premises, bindings)
            for triple in conclusions:
                known = reasoning.derivations.get(triple)
                if known is None:
                    if _exists(store, triple):
                        continue  # asserted already: nothing to derive, nothing to explain
                    reasoning.derivations[triple] = [derivation]
                    new_quads.append(ox.Quad(triple.subject, triple.predicate, triple.object,
                                             reasoning.inferred_graph))
                    changed.add(_key(triple))
                elif len(known) < MAX_ALTERNATIVES and all(d.premises != premises or d.rule is not rule
                                                           for d in known):
                    known.append(derivation)
    if new_quads:
        store.extend(new_quads)
    stats.new_triples += len(new_quads)
    stats.seconds += time.perf_counter() - started
    return changed
