"""The rule base as data: metadata, vocabulary, stratification, coverage of the paper's modes."""

from __future__ import annotations

import re
from collections import defaultdict

import pyoxigraph as ox
import pytest
import rdflib
from pyshacl import validate as shacl_validate

from sortai.reasoner import resources
from sortai.reasoner.problems import InputError
from sortai.reasoner.rules import inference_dir, load_rule_base, rule_files

SAI = resources.SAI
SAI_NS = rdflib.Namespace(SAI)


@pytest.fixture(scope="module")
def base():
    return load_rule_base()


def test_every_rule_carries_its_metadata(base):
    assert len(base.rules) >= 30
    for rule in base.rules:
        assert re.fullmatch(r"[A-Z]\d\d", rule.rule_id), rule.rule_id
        assert rule.label and rule.comment and rule.formula, rule.rule_id
        assert all(s.startswith("§") or s == "Table 1" for s in rule.sections), (rule.rule_id, rule.sections)


def test_every_ontology_term_a_rule_uses_is_declared():
    declared = {t.subject.value for t in resources.ontology_triples() if isinstance(t.subject, ox.NamedNode)}
    used = set()
    for path in rule_files():
        used |= {SAI + local for local in re.findall(r"\bsai:([A-Za-z][A-Za-z0-9]*)", path.read_text())}
    assert sorted(used - declared) == []


def test_rules_are_stratified_in_dependency_order(base):
    position = {r.rule_id: i for i, stratum in enumerate(base.strata) for r in stratum}
    # Derived quantities come before conditions, conditions before modes, modes before diagnoses.
    assert position["Q01"] < position["Q14"] < position["C07"] < position["M01"] < position["D01"] < position["D03"]
    assert not any(base.recursive), "the shipped rule base has no recursion"


def test_negation_through_recursion_is_refused(tmp_path):
    rule = (inference_dir() / "00-prefixes.ttl").read_text() + """
@prefix sai: <https://w3id.org/sortai/ontology#> .
rule:A a sh:NodeShape ; sh:targetClass sai:Node ; sh:rule rule:X01 .
rule:X01 a sh:SPARQLRule ; sai:ruleId "X01" ; rdfs:label "x" ; sai:encodesSection "§4" ; sh:prefixes rule:prefixes ;
    sh:construct "CONSTRUCT { $this sai:p 1 } WHERE { FILTER NOT EXISTS { $this sai:p 1 } }" .
"""
    (tmp_path / "rules.ttl").write_text(rule)
    with pytest.raises(InputError, match="not stratifiable"):
        load_rule_base(str(tmp_path))


def test_each_mode_has_three_structural_routes_and_a_measured_one(base):
    routes = defaultdict(set)
    for t in resources.ontology_triples():
        if t.predicate.value == SAI + "reachesMode":
            routes[t.object.value].add(t.subject.value)
    measured = defaultdict(set)
    for rule in base.rules:
        for pattern in rule.template:
            if str(pattern.p) == SAI + "indicatesMode" and isinstance(pattern.o, rdflib.URIRef):
                measured[str(pattern.o)].add(rule.rule_id)
    modes = ["LatencyAsymmetryDrift", "MemoryPathIncoherence", "InterconnectCapacityInaccessibility",
             "VirtualizationControlDistortion", "MigrationReconfigurationRisk"]
    for mode in modes:
        assert len(routes[SAI + mode]) >= 3, mode
        assert measured[SAI + mode], mode


def test_rule_files_are_valid_shacl(base):
    """SHACL-SHACL: the rule files are well-formed SHACL shapes graphs."""
    graph = rdflib.Graph()
    for path in rule_files():
        graph.parse(path, format="turtle")
    conforms, _, text = shacl_validate(graph, shacl_graph=graph, meta_shacl=True, advanced=True)
    assert conforms, text


def test_sh_order_is_the_stratum_index(base):
    """pySHACL (the test oracle) runs rules by sh:order: each rule's order, and its target shape's, is its stratum's
    index in the engine's evaluation order, so both evaluate in dependency order."""
    graph = rdflib.Graph()
    for path in rule_files():
        graph.parse(path, format="turtle")
    shape_orders = {}
    for shape, rule in graph.subject_objects(rdflib.SH.rule):
        ident = str(graph.value(rule, SAI_NS.ruleId))
        shape_orders.setdefault(ident, []).append(graph.value(shape, rdflib.SH.order))
    for index, stratum in enumerate(base.strata):
        for rule in stratum:
            assert rule.order == index, (rule.rule_id, rule.order, index)
            assert [int(o) for o in shape_orders[rule.rule_id]] == [index], (rule.rule_id, shape_orders[rule.rule_id])
    assert sorted(shape_orders) == sorted(r.rule_id for r in base.rules)
