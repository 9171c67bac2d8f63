"""Semi-naive evaluation of a recursive rule: its body rewritten to join only what is new since it last ran.

A rule of a recursive stratum re-run in full each round re-derives every earlier conclusion (the anchor
workload's transitive `locatedIn` did 1.56M rows for 0.43M new triples at 1M). Any row with something new
in it uses a new triple for at least one of the body's patterns that read what the stratum writes, so the
rule is re-run once per such pattern, with that pattern restricted to the new triples (a named graph,
`DELTA`) and every other pattern over the whole store. Rows found twice conclude nothing twice: the engine
groups rows by conclusion and keeps a derivation once.

Only patterns of the body's top level (a basic graph pattern, joined, filtered or extended, or the required
side of an OPTIONAL) are rewritten. A rule that reads the stratum's writes anywhere else (inside an OPTIONAL,
a UNION, a subquery or a property path) is re-run in full, as before. Recursion through negation or
aggregation is refused by stratification, so every recursive rule is monotone and this is sound.
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
_TOP_LEVEL = {"Project", "Filter", "Extend", "Join", "BGP", "LeftJoin", "SelectQuery"}


def delta_variants(rule: Rule, stratum_writes: frozenset) -> tuple[str, ...] | None:
    """One SELECT per body pattern that reads the stratum's writes, that pattern in GRAPH DELTA; None when the
    rule must be re-run in full. Each projects the variables of `rule.select`, in its order."""
    return _variants(rule.select, stratum_writes)


@cache
def _variants(select: str, stratum_writes: frozenset) -> tuple[str, ...] | None:
    places = _places(_parse(select), stratum_writes)
    if not places:
        return None
    names = [rdflib.Variable(v.value) for v in ox.Store().query(select).variables]  # SELECT *'s own order
    variants = []
    for i in range(len(places)):
        query = _parse(select)  # a fresh algebra per variant: rdflib's CompValue cannot be deep-copied
        bgp, index = _places(query, stratum_writes)[i]
        triples = list(bgp["triples"])
        restricted = CompValue("Graph", term=rdflib.URIRef(DELTA.value), p=CompValue("BGP", triples=[triples[index]]))
        rest = CompValue("BGP", triples=triples[:index] + triples[index + 1:])
        bgp.clear()  # the BGP becomes, in place, the join of the rest with the restricted pattern
        bgp.name = "Join"
        bgp.update(p1=rest, p2=restricted)
        query.algebra.p["PV"] = names
        variants.append(translateAlgebra(query))
    return tuple(variants)


def _parse(select: str):
    return prepareQuery(select)


def _places(query, writes) -> list[tuple[CompValue, int]] | None:
    """The top-level (BGP, index) pairs that read `writes`, in a fixed order; None if the rule reads them
    anywhere else, or nowhere."""
    places: list[tuple[CompValue, int]] = []
    if query.algebra.p.name != "Project" or not _collect(query.algebra.p, writes, places, top=True):
        return None
    return places or None


def _collect(node, writes, places, top: bool) -> bool:
    """Find the top-level triples that read `writes`; False if such a read occurs anywhere else."""
    if not isinstance(node, CompValue):
        if isinstance(node, (list, tuple)):
            return all(_collect(n, writes, places, top) for n in node)
        return True
    if node.name == "BGP" and top:
        for index, (s, p, o) in enumerate(node["triples"]):
            if not isinstance(p, (rdflib.URIRef, rdflib.Variable)):
                return False  # a property path: restricting one step of it to the new triples would be wrong
            if _reads(Pattern(s, p, o, "required"), writes):
                places.append((node, index))
        return True
    if top and node.name in _TOP_LEVEL:
        if node.name == "LeftJoin":
            return _collect(node.p1, writes, places, True) and _collect(node.p2, writes, places, False) \
                and _collect(node.get("expr"), writes, places, False)
        return all(_collect(v, writes, places, True) for k, v in node.items() if k not in ("PV", "_vars"))
    # Anywhere else (OPTIONAL, UNION, MINUS, EXISTS, a subquery): any read of the stratum's writes, or a
    # property path, means the rule is re-run in full.
    found: list[Pattern] = []
    _walk(node, "nested", found)
    return not any(_reads(p, writes) or not isinstance(p.p, (rdflib.URIRef, rdflib.Variable)) for p in found)


def _reads(pattern: Pattern, writes) -> bool:
    return any(matches(w, pattern.key()) for w in writes)
