"""The reasoner end to end: expected diagnoses per example, explanations, determinism, premise removal,
and pySHACL as an independent oracle for the derived facts."""

from __future__ import annotations

import json
from decimal import Decimal

import pyoxigraph as ox
import pytest
import rdflib
from pyshacl import validate as shacl_validate

from sortai.reasoner import report, resources
from sortai.reasoner.description import load_file
from sortai.reasoner.diagnoses import diagnoses
from sortai.reasoner.engine import infer
from sortai.reasoner.explain import Explainer
from sortai.reasoner.rules import rule_files

from .conftest import EXAMPLES, SCENARIOS


def reason(path):
    return infer(load_file(path))


def summary(found):
    return sorted(({"id": d.id, "mode": d.mode, "component": d.component, "severity": d.severity,
                    "confidence": d.confidence} for d in found), key=lambda d: d["id"])


@pytest.fixture(scope="module")
def reasoned():
    return {s.name: reason(s / "description.yaml") for s in SCENARIOS}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_example_diagnoses_match_expected_exactly(scenario, reasoned):
    expected = json.loads((scenario / "expected-diagnoses.json").read_text())
    assert summary(diagnoses(reasoned[scenario.name])) == expected


def test_the_homogeneous_control_fleet_has_no_instability_mode(reasoned):
    assert diagnoses(reasoned["homogeneous-h100"]) == []


def test_every_mode_is_diagnosed_somewhere(reasoned):
    modes = {d.mode for r in reasoned.values() for d in diagnoses(r)}
    assert modes == {"LatencyAsymmetryDrift", "MemoryPathIncoherence", "InterconnectCapacityInaccessibility",
                     "VirtualizationControlDistortion", "MigrationReconfigurationRisk"}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_every_explanation_bottoms_out_in_asserted_catalog_or_ontology_facts(scenario, reasoned):
    reasoning = reasoned[scenario.name]
    explainer = Explainer(reasoning)
    for d in diagnoses(reasoning):
        tree = explainer.explain_diagnosis(d.iri)
        kinds = {leaf.kind for leaf in tree.leaves()}
        assert kinds <= {"asserted", "catalog", "ontology", "repeated"}, (d.id, kinds)
        assert "asserted" in kinds, d.id
        for leaf in tree.leaves():
            if leaf.kind == "asserted":
                assert leaf.source["file"].endswith("description.yaml") and leaf.source.get("line"), leaf.text
            if leaf.kind == "catalog":
                assert leaf.source["source"], leaf.text


def test_same_input_gives_the_same_bytes():
    path = EXAMPLES / "mixed-vendor-pools" / "description.yaml"
    first, second = reason(path), reason(path)
    assert report.diagnoses_turtle(first, diagnoses(first)) == report.diagnoses_turtle(second, diagnoses(second))
    assert json.dumps(report.diagnoses_json(first, diagnoses(first))) == json.dumps(
        report.diagnoses_json(second, diagnoses(second)))


def closure_of(reasoning, diagnosis):
    """Asserted facts any derivation of the diagnosis rests on."""
    roots = [q.triple for q in reasoning.store.quads_for_pattern(ox.NamedNode(diagnosis.iri), None, None,
                                                                 reasoning.inferred_graph)]
    derived = report._closure(reasoning, roots)
    return {p for t in derived for d in reasoning.derivations[t] for p in d.premises
            if p not in reasoning.derivations}


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.name != "homogeneous-h100"], ids=lambda p: p.name)
def test_removing_a_premise_removes_only_the_diagnoses_that_used_it(scenario, reasoned):
    reasoning = reasoned[scenario.name]
    found = {d.id: d for d in diagnoses(reasoning)}
    assert found
    closures = {i: closure_of(reasoning, d) for i, d in found.items()}
    rdf_type = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    candidates = sorted({p for c in closures.values() for p in c
                         if p.predicate.value != rdf_type and p in set(reasoning.description.triples)}, key=str)
    removed_some = False
    for premise in candidates[:: max(1, len(candidates) // 6)]:
        description = load_file(scenario / "description.yaml")
        description.triples = [t for t in description.triples if t != premise]
        after = {d.id for d in diagnoses(infer(description))}
        untouched = {i for i, c in closures.items() if premise not in c}
        assert untouched <= after, (str(premise), untouched - after)
        assert after <= set(found), (str(premise), after - set(found))
        removed_some |= bool(set(found) - after)
    assert removed_some, "no removal of a premise removed any diagnosis"


def _normal(term):
    if isinstance(term, rdflib.Literal) and term.datatype and str(term.datatype).startswith(str(rdflib.XSD)):
        try:
            return ("number", Decimal(str(term)).quantize(Decimal("0.001")))
        except ArithmeticError:
            return ("literal", str(term))
        except Exception:
            return ("literal", str(term))
    return str(term)


@pytest.mark.parametrize("name", ["disaggregated-h100-a10g", "migration-onprem-to-cloud"])
def test_pyshacl_executing_the_same_rules_derives_the_same_facts(name, reasoned):
    """pySHACL (SHACL-AF rules, rdflib evaluator) is an independent oracle of the engine."""
    reasoning = reasoned[name]
    data = rdflib.Graph()
    nt = ox.serialize([*reasoning.description.triples, *resources.ontology_triples(), *resources.catalog_triples()],
                      format=ox.RdfFormat.N_TRIPLES)
    data.parse(data=nt, format="nt")
    before = set(data)
    shapes = rdflib.Graph()
    for path in rule_files():
        shapes.parse(path, format="turtle")
    shacl_validate(data, shacl_graph=shapes, advanced=True, inplace=True, iterate_rules=True)
    oracle = {tuple(_normal(x) for x in t) for t in set(data) - before}
    ours = {tuple(_normal(rdflib.term.URIRef(x.value) if isinstance(x, ox.NamedNode)
                          else rdflib.Literal(x.value, datatype=x.datatype.value)) for x in (t.subject, t.predicate, t.object))
            for t in reasoning.inferred_triples()}
    assert ours == oracle, {"only ours": sorted(map(str, ours - oracle))[:10],
                            "only pySHACL": sorted(map(str, oracle - ours))[:10]}
