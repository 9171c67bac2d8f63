"""Foreign SHACL-AF rule files run as pySHACL runs them (`sortai infer --rules`): every target kind, rules
without $this, no metadata of ours, no ontology or catalog unless asked; the anchor workload unmodified."""

from __future__ import annotations

import subprocess
import sys

import pyoxigraph as ox
import pytest
import rdflib
from pyshacl import validate as shacl_validate

from sortai.reasoner.columnar import infer_rule_files
from sortai.reasoner.description import load_graph
from sortai.reasoner.engine import ONTOLOGY_GRAPH, infer
from sortai.reasoner.problems import InputError
from sortai.reasoner.rules import load_rule_files

from .conftest import ROOT

ANCHOR = ROOT / "benchmarks" / "anchor"
EX = "http://example.org/"

DATA = """@prefix ex: <http://example.org/> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:Sub rdfs:subClassOf ex:Top .
ex:a a ex:Sub ; ex:p ex:c .
ex:b a ex:Top .
ex:c ex:q "lit" .
"""
# Every target kind, a rule without $this, a deactivated rule, and a class target whose members are derived.
RULES = """@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:TopShape a sh:NodeShape ; sh:targetClass ex:Top ;
    sh:rule [ a sh:SPARQLRule ; sh:construct "CONSTRUCT { $this <http://example.org/isTop> true } WHERE { }" ] .
ex:SubjectShape a sh:NodeShape ; sh:targetSubjectsOf ex:p ;
    sh:rule [ a sh:SPARQLRule ; sh:order 1 ;
              sh:construct "CONSTRUCT { $this <http://example.org/hasP> ?o . $this a <http://example.org/Marked> } WHERE { $this <http://example.org/p> ?o }" ] .
ex:ObjectShape a sh:NodeShape ; sh:targetObjectsOf ex:p ;
    sh:rule [ a sh:SPARQLRule ; sh:construct "CONSTRUCT { $this <http://example.org/pointedTo> ?v } WHERE { $this <http://example.org/q> ?v }" ] .
ex:NodeShape1 a sh:NodeShape ; sh:targetNode ex:z ;
    sh:rule [ a sh:SPARQLRule ; sh:construct "CONSTRUCT { $this <http://example.org/named> true } WHERE { }" ] .
ex:Sub a rdfs:Class , sh:NodeShape ;
    sh:rule [ a sh:SPARQLRule ; sh:construct "CONSTRUCT { $this <http://example.org/isSub> true } WHERE { }" ] .
ex:MarkedShape a sh:NodeShape ; sh:targetClass ex:Marked ;
    sh:rule [ a sh:SPARQLRule ; sh:order 2 ; sh:construct "CONSTRUCT { $this <http://example.org/marked> true } WHERE { }" ] .
ex:GlobalShape a sh:NodeShape ; sh:targetClass ex:Top ;
    sh:rule [ a sh:SPARQLRule ; sh:construct "CONSTRUCT { ?y <http://example.org/qOf> ?x } WHERE { ?y <http://example.org/q> ?x }" ] .
ex:EmptyShape a sh:NodeShape ; sh:targetClass ex:Missing ;
    sh:rule [ a sh:SPARQLRule ; sh:construct "CONSTRUCT { ?y <http://example.org/never> ?x } WHERE { ?y <http://example.org/q> ?x }" ] .
ex:OffShape a sh:NodeShape ; sh:targetClass ex:Top ;
    sh:rule [ a sh:SPARQLRule ; sh:deactivated true ; sh:construct "CONSTRUCT { $this <http://example.org/off> true } WHERE { }" ] .
"""


SUBSTRATES = pytest.mark.parametrize("substrate", ["oxigraph", "columnar"])


def _ours(rules_path, data_path, substrate: str = "oxigraph") -> set[tuple[str, str, str]]:
    reasoning, _ = infer_rule_files(load_graph(data_path), load_rule_files([rules_path]), False, substrate)
    return {(str(t.subject), str(t.predicate), str(t.object)) for t in reasoning.inferred_triples()}


def _pyshacl(rules_path, data_path, fmt: str) -> set[tuple[str, str, str]]:
    data = rdflib.Graph().parse(data_path, format=fmt)
    before = set(data)
    shapes = rdflib.Graph().parse(rules_path, format="turtle")
    shacl_validate(data, shacl_graph=shapes, advanced=True, inplace=True, iterate_rules=True)
    return {tuple(x.n3() for x in t) for t in set(data) - before}


@pytest.fixture
def mixed(tmp_path):
    (tmp_path / "rules.ttl").write_text(RULES)
    (tmp_path / "data.ttl").write_text(DATA)
    return tmp_path / "rules.ttl", tmp_path / "data.ttl"


@SUBSTRATES
def test_every_target_kind_derives_what_pyshacl_derives(mixed, substrate):
    rules, data = mixed
    ours = _ours(rules, data, substrate)
    assert ours == _pyshacl(rules, data, "turtle")
    named = {(s[len(EX) + 1:-1], p[len(EX) + 1:-1]) for s, p, _ in ours}
    assert {("a", "isTop"), ("b", "isTop")} <= named  # a class target includes the subclass's members
    assert ("z", "named") in named  # a target node needs no triple of its own
    assert ("a", "marked") in named  # a class target also over derived members (iterated to the fixpoint)
    assert not any(p in ("never", "off") for _, p in named)  # no focus node; deactivated


def test_a_rule_without_this_runs_once_not_once_per_focus_node(mixed):
    rules, data = mixed
    reasoning = infer(load_graph(data), load_rule_files([rules]), background=False)
    [global_rule] = [r for r in reasoning.rule_base.rules if "qOf" in r.construct]
    assert reasoning.stats[global_rule.rule_id].runs == 1 and reasoning.stats[global_rule.rule_id].rows == 1


@SUBSTRATES
def test_a_conclusion_with_a_literal_subject_is_left_out_as_rdf_requires(tmp_path, substrate):
    # pySHACL keeps such a triple (rdflib graphs are generalised); RDF 1.1 has no literal subjects.
    (tmp_path / "rules.ttl").write_text(RULES.replace("CONSTRUCT { ?y <http://example.org/qOf> ?x }",
                                                      "CONSTRUCT { ?x <http://example.org/qOf> ?y }"))
    (tmp_path / "data.ttl").write_text(DATA)
    ours = _ours(tmp_path / "rules.ttl", tmp_path / "data.ttl", substrate)
    oracle = _pyshacl(tmp_path / "rules.ttl", tmp_path / "data.ttl", "turtle")
    assert oracle - ours == {('"lit"', f"<{EX}qOf>", f"<{EX}c>")} and ours <= oracle


def test_the_ontology_and_catalog_are_loaded_only_when_asked(mixed):
    rules, data = mixed
    base = load_rule_files([rules])
    without = infer(load_graph(data), base, background=False)
    assert not list(without.store.quads_for_pattern(None, None, None, ONTOLOGY_GRAPH))
    with_background = infer(load_graph(data), base)
    assert list(with_background.store.quads_for_pattern(None, None, None, ONTOLOGY_GRAPH))


def test_a_rule_file_that_is_not_turtle_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix sh: <http://www.w3.org/ns/shacl#> .\nex:S a sh:NodeShape ;;; .\n")
    with pytest.raises(InputError) as refused:
        load_rule_files([bad])
    assert "bad.ttl" in refused.value.problems[0].render()


@pytest.fixture(scope="module")
def anchor_10k(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("anchor") / "fleet"
    subprocess.run([sys.executable, str(ANCHOR / "gen_fleet.py"), "--nodes", "180", "--out", str(prefix)],
                   check=True, capture_output=True)
    return prefix.with_suffix(".nt")


@SUBSTRATES
def test_pyshacl_derives_the_same_triples_on_the_anchor_workload(anchor_10k, substrate):
    ours = _ours(ANCHOR / "rules.shacl.ttl", anchor_10k, substrate)
    oracle = _pyshacl(ANCHOR / "rules.shacl.ttl", anchor_10k, "nt")
    assert len(ours) == 11_194  # the count the shared anchor benchmark publishes for 180 nodes
    assert ours == oracle, {"only ours": sorted(ours - oracle)[:5], "only pySHACL": sorted(oracle - ours)[:5]}


def test_sortai_infer_prints_the_count_last_and_writes_n_triples(anchor_10k, tmp_path):
    out = tmp_path / "derived.nt"
    done = subprocess.run([sys.executable, "-m", "sortai.reasoner.cli", "infer", "--rules",
                           str(ANCHOR / "rules.shacl.ttl"), str(anchor_10k), "-o", str(out)],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "derived 11194"
    written = {str(q.triple) for q in ox.parse(path=str(out), format=ox.RdfFormat.N_TRIPLES)}
    assert len(written) == 11_194
    given = {str(q.triple) for q in ox.parse(path=str(anchor_10k), format=ox.RdfFormat.N_TRIPLES)}
    assert not written & given  # derived only, nothing asserted


def test_sortai_infer_names_a_missing_rule_file(anchor_10k, tmp_path):
    done = subprocess.run([sys.executable, "-m", "sortai.reasoner.cli", "infer", "--rules",
                           str(tmp_path / "nowhere.ttl"), str(anchor_10k)], capture_output=True, text=True)
    assert done.returncode == 3
    assert "nowhere.ttl" in done.stderr and "Traceback" not in done.stderr
