"""The engine on its own: recursion to a fixpoint, provenance of every derived triple, rule-file errors."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from sortai.reasoner.description import load_bytes
from sortai.reasoner.engine import infer
from sortai.reasoner.problems import InputError
from sortai.reasoner.rules import inference_dir, load_rule_base

EX = "http://example.org/"
CHAIN = b"""@prefix ex: <http://example.org/> .
ex:a a ex:Item ; ex:next ex:b . ex:b a ex:Item ; ex:next ex:c . ex:c a ex:Item ; ex:next ex:d . ex:d a ex:Item .
"""
TRANSITIVE = """
@prefix ex: <http://example.org/> .
rule:Reach a sh:NodeShape ; sh:targetClass ex:Item ; sh:rule rule:R01 , rule:R02 .
rule:R01 a sh:SPARQLRule ; sai:ruleId "R01" ; rdfs:label "step" ; sai:encodesSection "§4" ; sh:prefixes rule:prefixes ;
    sh:construct "PREFIX ex: <http://example.org/> CONSTRUCT { $this ex:reaches ?n } WHERE { $this ex:next ?n }" .
rule:R02 a sh:SPARQLRule ; sai:ruleId "R02" ; rdfs:label "closure" ; sai:encodesSection "§4" ; sh:prefixes rule:prefixes ;
    sh:construct "PREFIX ex: <http://example.org/> CONSTRUCT { $this ex:reaches ?z } WHERE { $this ex:reaches ?y . ?y ex:next ?z }" .
"""


@pytest.fixture
def transitive_rules(tmp_path):
    header = (inference_dir() / "00-prefixes.ttl").read_text()
    (tmp_path / "rules.ttl").write_text(header + "@prefix sai: <https://w3id.org/sortai/ontology#> .\n" + TRANSITIVE)
    return load_rule_base(str(tmp_path))


def test_recursive_rules_reach_the_fixpoint(transitive_rules):
    assert transitive_rules.recursive == [False, True]  # R01 runs once; R02 feeds itself
    reasoning = infer(load_bytes(CHAIN, "chain.ttl"), transitive_rules)
    reaches = {(t.subject.value[len(EX):], t.object.value[len(EX):]) for t in reasoning.inferred_triples()}
    assert reaches == {("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("c", "d")}
    # Semi-naive at rule level: after the first round only the recursive rule re-runs, until nothing is new.
    assert reasoning.stats["R01"].runs == 1
    assert reasoning.stats["R02"].runs == 3


def test_every_derived_triple_has_a_derivation_whose_premises_hold(transitive_rules):
    reasoning = infer(load_bytes(CHAIN, "chain.ttl"), transitive_rules)
    for triple in reasoning.inferred_triples():
        derivations = reasoning.derivations[triple]
        assert derivations
        for derivation in derivations:
            for premise in derivation.premises:
                assert list(reasoning.store.quads_for_pattern(premise.subject, premise.predicate, premise.object))


def test_a_rule_without_a_section_is_refused(tmp_path):
    header = (inference_dir() / "00-prefixes.ttl").read_text()
    (tmp_path / "r.ttl").write_text(header + TRANSITIVE.replace('sai:encodesSection "§4" ;', "")
                                    .replace("rule:Reach", "@prefix sai: <https://w3id.org/sortai/ontology#> .\nrule:Reach", 1))
    with pytest.raises(InputError, match="names no paper section"):
        load_rule_base(str(tmp_path))


def test_a_rule_that_does_not_parse_is_refused(tmp_path):
    header = (inference_dir() / "00-prefixes.ttl").read_text()
    broken = TRANSITIVE.replace("WHERE { $this ex:next ?n }", "WHERE { $this ex:next ")
    (tmp_path / "r.ttl").write_text(header + "@prefix sai: <https://w3id.org/sortai/ontology#> .\n" + broken)
    with pytest.raises(InputError, match="does not parse"):
        load_rule_base(str(tmp_path))


def test_inferred_triples_land_in_their_own_graph(transitive_rules):
    reasoning = infer(load_bytes(CHAIN, "chain.ttl"), transitive_rules)
    inferred = list(reasoning.store.quads_for_pattern(None, None, None, reasoning.inferred_graph))
    asserted = list(reasoning.store.quads_for_pattern(None, None, None, reasoning.asserted_graph))
    assert len(inferred) == 6 and len(asserted) == 7
    assert all(isinstance(q.graph_name, ox.NamedNode) for q in inferred)
