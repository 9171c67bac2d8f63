"""Semi-naive evaluation of a recursive rule: its body rewritten to join only what is new since it last ran.

A rule of a recursive stratum re-run in full each round re-derives every earlier conclusion (the anchor
workload's transitive `locatedIn` did 1.56M rows for 0.43M new triples at 1M). Any row with something new
in it uses a new triple for at least one of the body's patterns that read what the stratum writes, so the
rule is re-run once per such pattern, with that pattern restricted to the new triples (a named graph,
`DELTA`) and every other pattern over the whole store. Rows found twice conclude nothing twice: the engine
groups rows by conclusion and keeps a derivation once.

Only conjunctive bodies are rewritten: basic graph patterns, joined and filtered. The variants are written
back to SPARQL with rdflib's `translateAlgebra`, which moves a BIND into the projection, after a FILTER that
reads it: a body with BIND, OPTIONAL, UNION, VALUES, a subquery or a property path is therefore re-run in
full, as before. Recursion through negation or aggregation is refused by stratification, so every recursive
rule is monotone and this is sound.
"""

from __future__ import annotations

from functools import cache

import pyoxigraph as ox
import rdflib
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.algebra import translateAlgebra
from rdflib.plugins.sparql.parserutils import CompValue

from .rules import Pattern, Rule, _walk, matches

DELTA = ox.NamedNode("urn:sortai:delta")
_CONJUNCTIVE = {"Project", "Filter", "Join", "BGP"}


def delta_variants(rule: Rule, stratum_writes: frozenset) -> tuple[str, ...] | None:
    """One SELECT per body pattern that reads the stratum's writes, that pattern in GRAPH DELTA; None when the
    rule must be re-run in full. Each projects the variables of `rule.select`, in its order."""
    return _variants(rule.select, stratum_writes)


@cache
def _variants(select: str, stratum_writes: frozenset) -> tuple[str, ...] | None:
    places = _places(prepareQuery(select), stratum_writes)
    if not places:
        return None
    names = [rdflib.Variable(v.value) for v in ox.Store().query(select).variables]  # SELECT *'s own order
    variants = []
    for i in range(len(places)):
        query = prepareQuery(select)  # a fresh algebra per variant: rdflib's CompValue cannot be deep-copied
        bgp, index = _places(query, stratum_writes)[i]
        triples = list(bgp["triples"])
        restricted = CompValue("Graph", term=rdflib.URIRef(DELTA.value), p=CompValue("BGP", triples=[triples[index]]))
        rest = CompValue("BGP", triples=triples[:index] + triples[index + 1:])
        bgp.clear()  # the BGP becomes, in place, the join of the rest with the restricted pattern
        bgp.name = "Join"
        bgp.update(p1=rest, p2=restricted)
        query.algebra.p["PV"] = names
        text = translateAlgebra(query)
        try:
            ox.Store().query(text)
        except (SyntaxError, ValueError):
            return None
        variants.append(text)
    return tuple(variants)


def _places(query, writes) -> list[tuple[CompValue, int]] | None:
    """The (BGP, index) pairs that read `writes`, in a fixed order; None if the body is not conjunctive or
    reads none of them."""
    places: list[tuple[CompValue, int]] = []
    if query.algebra.p.name != "Project" or not _collect(query.algebra.p, writes, places):
        return None
    return places or None


def _collect(node, writes, places) -> bool:
    """Find the triples of a conjunctive body that read `writes`; False if the body is not conjunctive."""
    if not isinstance(node, CompValue) or node.name not in _CONJUNCTIVE:
        return False
    if node.name == "BGP":
        for index, (s, p, o) in enumerate(node["triples"]):
            if not isinstance(p, (rdflib.URIRef, rdflib.Variable)):
                return False  # a property path: restricting one step of it to the new triples would be wrong
            if _reads(Pattern(s, p, o, "required"), writes):
                places.append((node, index))
        return True
    if node.name == "Filter":
        found: list[Pattern] = []
        _walk(node["expr"], "nested", found)
        return not found and _collect(node.p, writes, places)  # EXISTS in a filter: not conjunctive
    if node.name == "Join":
        return _collect(node.p1, writes, places) and _collect(node.p2, writes, places)
    return _collect(node.p, writes, places)  # Project


def _reads(pattern: Pattern, writes) -> bool:
    return any(matches(w, pattern.key()) for w in writes)
