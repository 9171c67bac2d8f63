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
from .expected_diagnoses import summary


def reason(path):
    return infer(load_file(path))


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
    modes = {d.mode for r in reasoned.values() for d in diagnoses(r) if d.kind == "mode"}
    assert modes == {"LatencyAsymmetryDrift", "MemoryPathIncoherence", "InterconnectCapacityInaccessibility",
                     "VirtualizationControlDistortion", "MigrationReconfigurationRisk"}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_every_explanation_bottoms_out_in_asserted_catalog_or_ontology_facts(scenario, reasoned):
    reasoning = reasoned[scenario.name]
    explainer = Explainer(reasoning)
    for d in diagnoses(reasoning):
        tree = explainer.explain_diagnosis(d.iri)
        kinds = {leaf.kind for leaf in tree.leaves()}
        # "diagnosis" leaves point at a compounding partner, whose own explanation is checked in this loop too.
        assert kinds <= {"asserted", "catalog", "ontology", "repeated", "diagnosis"}, (d.id, kinds)
        assert "omitted" not in kinds  # the examples are small enough to show every aggregated fact
        # A fact filled in from a catalog entry the description names (instanceType) is a catalog leaf that
        # carries the file and line of the naming key: it ties the diagnosis to the description too.
        filled = [leaf for leaf in tree.leaves() if leaf.kind == "catalog" and "file" in leaf.source]
        assert "asserted" in kinds or filled, d.id
        for leaf in tree.leaves():
            if leaf.kind == "asserted" or leaf in filled:
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


def necessary_premises(reasoning, diagnosis):
    """Asserted facts every derivation of the diagnosis needs (intersection over alternatives)."""
    memo: dict = {}

    def need(triple, stack=()):
        if triple not in reasoning.derivations:
            return frozenset({triple})
        if triple in memo:
            return memo[triple]
        if triple in stack:
            return frozenset()
        options = [frozenset().union(*(need(p, stack + (triple,)) for p in d.premises))
                   for d in reasoning.derivations[triple]]
        memo[triple] = frozenset.intersection(*options)
        return memo[triple]

    return need(ox.Triple(ox.NamedNode(diagnosis.iri), ox.NamedNode(RDF_TYPE), ox.NamedNode(resources.SAI + "Diagnosis")))


RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if json.loads((s / "expected-diagnoses.json").read_text())],
                         ids=lambda p: p.name)
def test_removing_a_premise_removes_the_diagnoses_that_needed_it_and_only_those(scenario, reasoned):
    reasoning = reasoned[scenario.name]
    found = {d.id: d for d in diagnoses(reasoning)}
    closures = {i: closure_of(reasoning, d) for i, d in found.items()}
    asserted = set(reasoning.description.triples)
    # Properties with a default (count 1, TP 1, PP 1, oversubscription 1, the catalog's bandwidth, no code
    # change) are left out: removing one of them asserts the default, which is not removing a fact.
    # The serving model's defaults count too (vLLM's memory fraction and batch limit, our efficiencies, dense when
    # no active parameters are stated, one share per GPU, EP = TP, outputs of one token, one NIC).
    defaulted = {resources.SAI + name for name in (
        "replicaCount", "tensorParallelism", "pipelineParallelism", "oversubscriptionRatio", "bandwidthGBps",
        "involvesCodeChange", "activeParametersBillions", "sharesPerGPU", "vgpuFramebufferGB", "gpuMemoryUtilization",
        "maxBatchSize", "activationReserveGB", "prefillComputeEfficiency", "decodeBandwidthEfficiency",
        "modelReplicas", "expertParallelism", "outputTokensP50", "outputTokensP99", "nicsPerNode",
        "scaleUpDomainSize", "peerToPeer", "gpuDirectRDMA", "hiddenSize", "numAttentionHeads", "kvLatentDim",
        "attentionKind")}
    # Facts a rule reads under OPTIONAL or NOT EXISTS may license other conclusions when removed: for those only
    # "loses nothing it did not depend on" is checked, not "gains nothing".
    negated = {key[0] for rule in reasoning.rule_base.rules for key in rule.negative_reads}
    needed = {p for d in found.values() for p in necessary_premises(reasoning, d)
              if p in asserted and p.predicate.value != RDF_TYPE and p.predicate.value not in defaulted}
    # Monotone premises first; a necessary premise of a derivation is not always necessary for its conclusion
    # (an OPTIONAL pattern reaches it without the fact too), so try premises until a removal takes a diagnosis.
    chosen = sorted(needed, key=lambda p: (p.predicate.value in negated, str(p)))
    assert chosen, "no asserted fact is necessary to any diagnosis"
    removed_any = False
    for premise in chosen[:16]:
        if removed_any:
            break
        description = load_file(scenario / "description.yaml")
        description.triples = [t for t in description.triples if t != premise]
        after = {d.id for d in diagnoses(infer(description))}
        depended = {i for i, c in closures.items() if premise in c}
        if premise.predicate.value not in negated:
            assert after <= set(found), (str(premise), after - set(found))
        assert set(found) - after <= depended, (str(premise), set(found) - after - depended)
        removed_any |= bool(set(found) - after)
    assert removed_any, "removing a necessary fact removed no diagnosis"


def _normal(term):
    if isinstance(term, rdflib.Literal) and term.datatype and str(term.datatype).startswith(str(rdflib.XSD)):
        try:
            return ("number", Decimal(str(term)).quantize(Decimal("0.001")))
        except ArithmeticError:
            return ("literal", str(term))
        except Exception:
            return ("literal", str(term))
    return str(term)


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_pyshacl_executing_the_same_rules_derives_the_same_facts(name, reasoned):
    """pySHACL (SHACL-AF rules, rdflib evaluator) is an independent oracle of the engine, on every example.

    It also guards the rules against Oxigraph's xsd:decimal arithmetic, which errs (leaving a variable unbound)
    where an exact product needs more than 18 fractional digits; Python's Decimal does not, so a missed rounding
    shows up here as a fact only pySHACL derives."""
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


def test_intensifies_facts_cite_section_6_4_not_the_terms_source():
    """An `intensifies` edge is sourced by its owl:Axiom annotation (§6.4), not by its subject mode's source."""
    from sortai.reasoner.diagnoses import source_of, statement_source

    edges = [t for t in resources.ontology_triples() if t.predicate.value == resources.SAI + "intensifies"]
    assert edges
    assert all(statement_source(t) == "SORT-AI paper §6.4" for t in edges)
    assert any(source_of(t.subject.value) != "SORT-AI paper §6.4" for t in edges)
