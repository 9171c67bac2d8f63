"""A description's triples as term ids (reasoner/compact_triples.py): the same triples, in the same order."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from sortai.reasoner.compact_triples import CompactTriples
from sortai.reasoner.description import load_file
from sortai.reasoner.engine import RDF_TYPE, asserted_key, infer

from .conftest import SCENARIOS

EX = "http://example.org/"


def _triples() -> list[ox.Triple]:
    a, b = ox.NamedNode(EX + "a"), ox.BlankNode("b1")
    typ, label = ox.NamedNode(RDF_TYPE), ox.NamedNode(EX + "label")
    return [
        ox.Triple(a, typ, ox.NamedNode(EX + "Pool")),
        ox.Triple(a, label, ox.Literal("pool", language="en")),
        ox.Triple(b, typ, ox.NamedNode(EX + "Node")),
        ox.Triple(a, label, ox.Literal("pool", language="en")),  # a repeat is kept, as the list keeps it
        ox.Triple(b, ox.NamedNode(EX + "count"), ox.Literal("4", datatype=ox.NamedNode(
            "http://www.w3.org/2001/XMLSchema#integer"))),
        ox.Triple(a, typ, ox.NamedNode(EX + "Pool")),
        ox.Triple(b, ox.NamedNode(EX + "size"), ox.Literal("4.0", datatype=ox.NamedNode(
            "http://www.w3.org/2001/XMLSchema#decimal"))),  # not the same term as "4"^^xsd:integer
    ]


def test_it_reads_as_the_list_it_was_made_from():
    triples = _triples()
    compact = CompactTriples(triples)
    assert list(compact) == triples
    assert len(compact) == len(triples)
    assert [compact[i] for i in range(-len(triples), len(triples))] == triples + triples
    assert compact[1:5] == triples[1:5] and compact[::-2] == triples[::-2]
    assert list(reversed(compact)) == triples[::-1]
    assert compact == triples and triples == compact and compact == CompactTriples(triples)
    assert compact != triples[:-1] and compact != list(reversed(triples))
    assert compact + triples[:1] == triples + triples[:1] and triples[:1] + compact == triples[:1] + triples
    elsewhere = ox.Triple(ox.NamedNode(EX + "z"), ox.NamedNode(EX + "p"), ox.Literal("x"))
    assert triples[4] in compact and elsewhere not in compact
    # Each distinct term once: a, rdf:type, Pool, label, "pool"@en, b1, Node, count, 4, size, 4.0
    assert len(compact.terms) == 11
    assert CompactTriples.of(compact) is compact
    with pytest.raises(IndexError):
        compact[len(triples)]


def test_quads_are_its_triples_in_a_graph():
    triples, graph = _triples(), ox.NamedNode(EX + "g")
    assert list(CompactTriples(triples).quads(graph)) == [ox.Quad(t.subject, t.predicate, t.object, graph)
                                                         for t in triples]


def test_one_of_each_kind_tells_apart_what_asserted_key_does():
    triples = _triples()
    kinds = list(CompactTriples(triples).one_of_each_kind(RDF_TYPE))
    assert {asserted_key(t) for t in kinds} == {asserted_key(t) for t in triples}
    assert len(kinds) == len({asserted_key(t) for t in triples})  # one each: 2 classes, label, count, size
    assert len(kinds) == 5


def test_inference_keeps_the_descriptions_triples_in_their_order():
    description = load_file(next(s for s in SCENARIOS if s.name == "mixed-vendor-pools") / "description.yaml")
    before = list(description.triples)
    reasoning = infer(description)
    assert isinstance(description.triples, CompactTriples) and reasoning.description is description
    assert list(description.triples) == before
    quads = reasoning.store.quads_for_pattern(None, None, None, reasoning.asserted_graph)
    asserted = {q.triple for q in quads}
    assert asserted == set(before)
