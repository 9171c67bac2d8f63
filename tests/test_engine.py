"""The engine on its own: recursion to a fixpoint, provenance of every derived triple, rule-file errors, and rules
evaluated ahead on the second thread."""

from __future__ import annotations

import gc
from concurrent.futures import wait

import pyoxigraph as ox
import pytest

from sortai.reasoner import engine
from sortai.reasoner.description import load_bytes, load_file
from sortai.reasoner.diagnoses import diagnoses
from sortai.reasoner.engine import infer
from sortai.reasoner.problems import InputError
from sortai.reasoner.rules import inference_dir, load_rule_base

from .conftest import EXAMPLES

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


def _rule_base(directory, rules: str):
    """Rules in the product's form (ids, sections, the shared prefixes), loaded as the product's rule base."""
    header = (inference_dir() / "00-prefixes.ttl").read_text()
    (directory / "rules.ttl").write_text(header + "@prefix sai: <https://w3id.org/sortai/ontology#> .\n" + rules)
    return load_rule_base(str(directory))


@pytest.fixture
def transitive_rules(tmp_path):
    return _rule_base(tmp_path, TRANSITIVE)


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
    with pytest.raises(InputError, match="names no paper section"):
        _rule_base(tmp_path, TRANSITIVE.replace('sai:encodesSection "§4" ;', ""))


def test_a_rule_that_does_not_parse_is_refused(tmp_path):
    with pytest.raises(InputError, match="does not parse"):
        _rule_base(tmp_path, TRANSITIVE.replace("WHERE { $this ex:next ?n }", "WHERE { $this ex:next "))


def test_inferred_triples_land_in_their_own_graph(transitive_rules):
    reasoning = infer(load_bytes(CHAIN, "chain.ttl"), transitive_rules)
    inferred = list(reasoning.store.quads_for_pattern(None, None, None, reasoning.inferred_graph))
    asserted = list(reasoning.store.quads_for_pattern(None, None, None, reasoning.asserted_graph))
    assert len(inferred) == 6 and len(asserted) == 7
    assert all(isinstance(q.graph_name, ox.NamedNode) for q in inferred)


# --- rules evaluated ahead on the second thread ------------------------------------------------------------

XSD = "http://www.w3.org/2001/XMLSchema#"
AHEAD = """
@prefix ex: <http://example.org/> .
rule:Ahead a sh:NodeShape ; sh:targetClass ex:Item ; sh:rule rule:A01 , rule:A02 , rule:A03 .
rule:A01 a sh:SPARQLRule ; sai:ruleId "A01" ; rdfs:label "flag the last item" ; sai:encodesSection "§4" ;
    sh:prefixes rule:prefixes ; sh:order 1 ;
    sh:construct "PREFIX ex: <http://example.org/> CONSTRUCT { $this ex:last true } WHERE { FILTER NOT EXISTS { $this ex:next ?n } }" .
rule:A02 a sh:SPARQLRule ; sai:ruleId "A02" ; rdfs:label "before the last" ; sai:encodesSection "§4" ;
    sh:prefixes rule:prefixes ; sh:order 2 ;
    sh:construct "PREFIX ex: <http://example.org/> CONSTRUCT { $this ex:beforeLast true } WHERE { $this ex:next ?n FILTER EXISTS { ?n ex:last true } }" .
rule:A03 a sh:SPARQLRule ; sai:ruleId "A03" ; rdfs:label "copy a value" ; sai:encodesSection "§4" ;
    sh:prefixes rule:prefixes ; sh:order 3 ;
    sh:construct "PREFIX ex: <http://example.org/> CONSTRUCT { $this ex:copy ?v } WHERE { $this ex:value ?v }" .
"""


@pytest.fixture
def ahead_rules(tmp_path):
    return _rule_base(tmp_path, AHEAD)


def _provenance(reasoning):
    return [(str(t), [(d.rule.rule_id, d.names, d.rows, d.omitted_rows) for d in ds])
            for t, ds in reasoning.derivations.items()]


def test_a_rule_whose_input_is_read_only_inside_filter_exists_waits_for_its_writer(ahead_rules, monkeypatch):
    evaluated_ahead = []
    evaluate, take = engine._Lookahead._timed, engine._Lookahead.take
    monkeypatch.setattr(engine._Lookahead, "_timed",
                        lambda self, select: evaluated_ahead.append(select) or evaluate(self, select))

    def patient_take(self, rule):
        # The main thread lets the worker reach what was given to it, rather than race it: what is under test is
        # which rules may be evaluated ahead, not which thread gets there first.
        if rule.rule_id in self.futures:
            wait([self.futures[rule.rule_id]])
        return take(self, rule)

    monkeypatch.setattr(engine._Lookahead, "take", patient_take)
    reasoning = infer(load_bytes(CHAIN, "chain.ttl"), ahead_rules)
    before_last = {t.subject.value for t in reasoning.inferred_triples() if t.predicate.value == EX + "beforeLast"}
    assert before_last == {EX + "c"}  # A02 reads ex:last only inside FILTER EXISTS; an early run would find none
    by_id = {r.rule_id: r.select for stratum in ahead_rules.strata for r in stratum}
    assert by_id["A03"] in evaluated_ahead  # reads only asserted triples: evaluated ahead on the worker


def test_literals_come_back_from_the_worker_exactly(ahead_rules):
    values = ['"a\\tb"', '"line\\nbreak"', '"q\\"uote"', '"back\\\\slash"', '"émoji 🚀"', '"hi"@en-GB', '""',
              f'"007"^^<{XSD}integer>', f'"1.0E0"^^<{XSD}double>', f'"NaN"^^<{XSD}double>', f'"1.50"^^<{XSD}decimal>',
              f'"abc"^^<{XSD}integer>', '"x"^^<http://example.org/custom>', "_:blank", "<http://example.org/ü>"]
    data = "@prefix ex: <http://example.org/> .\n" + "".join(
        f"ex:i{i} a ex:Item ; ex:value {v} .\n" for i, v in enumerate(values))
    reasoning = infer(load_bytes(data.encode(), "values.ttl"), ahead_rules)
    store = reasoning.store
    for i in range(len(values)):
        subject = ox.NamedNode(f"{EX}i{i}")
        [given] = [q.object for q in store.quads_for_pattern(subject, ox.NamedNode(EX + "value"), None)]
        [copied] = [q.object for q in store.quads_for_pattern(subject, ox.NamedNode(EX + "copy"), None)]
        assert copied == given, (values[i], given, copied)


@pytest.mark.parametrize("name", ["mig-multitenant", "mixed-vendor-pools", "migration-onprem-to-cloud"])
def test_evaluating_ahead_changes_no_derivation(name, monkeypatch):
    description = load_file(EXAMPLES / name / "description.yaml")
    ahead = _provenance(infer(description))
    monkeypatch.setattr(engine._Lookahead, "take", lambda self, rule: None)  # every rule evaluated at its turn
    inline = _provenance(infer(description))
    assert ahead == inline


# --- semi-naive rounds of a recursive stratum -------------------------------------------------------------


def _chain(n: int) -> bytes:
    items = "".join(f"ex:i{k} a ex:Item ; ex:next ex:i{k + 1} .\n" for k in range(n - 1))
    return f"@prefix ex: <http://example.org/> .\n{items}ex:i{n - 1} a ex:Item .\n".encode()


def test_after_its_first_run_a_recursive_rule_joins_only_new_triples(transitive_rules, monkeypatch):
    n = 30
    semi = infer(load_bytes(_chain(n), "chain.ttl"), transitive_rules)
    pairs = n * (n - 1) // 2
    assert len(semi.inferred_triples()) == pairs
    # Each reach (a, y) with a successor of y is joined exactly once, when it is new: every pair but the n - 1
    # that end at the last item. A full re-run each round joins every pair known so far again.
    assert semi.stats["R02"].rows == pairs - (n - 1)
    monkeypatch.setattr(engine, "delta_variants", lambda rule, writes: None)
    naive = infer(load_bytes(_chain(n), "chain.ttl"), transitive_rules)
    assert naive.inferred_triples() == semi.inferred_triples()
    assert naive.stats["R02"].rows > 3 * semi.stats["R02"].rows


@pytest.mark.parametrize("body, rewritten", [
    ("$this ex:reaches ?y . ?y ex:next ?z", True),
    ("$this ex:reaches ?y . ?y ex:next ?z FILTER (?z != $this)", True),
    ("$this ex:next ?z . OPTIONAL { ?z ex:reaches ?w }", False),  # the recursive read is optional
    ("$this ex:next/ex:reaches ?z", False),  # a property path
    ("$this ex:next ?z . FILTER EXISTS { ?z ex:reaches ?w }", False),
    # rdflib writes a BIND back into the projection, after a FILTER that reads it: never rewritten
    ("$this ex:reaches ?y . ?y ex:next ?n BIND (?n AS ?z) FILTER (BOUND(?z))", False),
])
def test_only_conjunctive_recursive_bodies_are_restricted_to_new_triples(tmp_path, body, rewritten):
    from sortai.reasoner.semi_naive import delta_variants

    base = _rule_base(tmp_path, TRANSITIVE.replace("WHERE { $this ex:reaches ?y . ?y ex:next ?z }",
                                                   "WHERE { " + body + " }"))
    [closure] = [r for r in base.rules if r.rule_id == "R02"]
    variants = delta_variants(closure, frozenset(closure.writes))
    assert (variants is not None) is rewritten
    if rewritten:
        [text] = variants
        assert "GRAPH <urn:sortai:delta>" in text and "reaches" in text.split("GRAPH")[1]


def test_rows_share_one_term_per_distinct_value(transitive_rules):
    reasoning = infer(load_bytes(_chain(12), "chain.ttl"), transitive_rules)
    subjects = {}
    for derivations in reasoning.derivations.values():
        for derivation in derivations:
            for row in derivation.rows:
                for value in row:
                    if value is not None:
                        assert subjects.setdefault(str(value), value) is value  # equal values, one object


def test_a_rule_body_without_variables_concludes_once(tmp_path):
    rules = tmp_path / "rules.ttl"
    rules.write_text("""@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
ex:S a sh:NodeShape ; sh:targetNode ex:a ;
    sh:rule [ a sh:SPARQLRule ; sh:construct "CONSTRUCT { <http://example.org/a> <http://example.org/seen> true } WHERE { }" ] .
""")
    data = tmp_path / "data.nt"
    data.write_text("<http://example.org/a> <http://example.org/p> <http://example.org/b> .\n")
    from sortai.reasoner.description import load_graph
    from sortai.reasoner.rules import load_rule_files

    reasoning = infer(load_graph(data), load_rule_files([rules]), background=False)
    assert [str(t) for t in reasoning.inferred_triples()] == [
        "<http://example.org/a> <http://example.org/seen> \"true\"^^<http://www.w3.org/2001/XMLSchema#boolean>"]
    [stats] = reasoning.stats.values()
    assert stats.rows == 1


RECURSIVE_BODIES = [  # (conclusion, body) of a recursive rule over a chain with a cycle and a shortcut
    ("?a ex:reach ?c", "?a ex:reach ?b . ?b ex:next ?c"),
    ("?a ex:reach ?c", "?a ex:reach ?b . ?b ex:next ?c FILTER(?a != ?c)"),
    ("?a ex:cost ?t", "?a ex:cost ?s . ?a ex:next ?b . ?b ex:w ?w BIND(?s + ?w AS ?t) FILTER(?t < 20)"),
    ("?a ex:reach ?c", "?a ex:reach ?b . ?b ex:next ?c OPTIONAL { ?c ex:label ?l } FILTER(!BOUND(?l) || STRLEN(?l) < 4)"),
    ("?a ex:reach ?c", "VALUES ?kind { ex:next ex:skip } ?a ex:reach ?b . ?b ?kind ?c"),
    ("?a ex:reach ?c", "?a ex:reach ?b . ?b ex:reach ?c"),
]


@pytest.mark.parametrize("head, body", RECURSIVE_BODIES)
def test_semi_naive_rounds_derive_what_full_rounds_derive(tmp_path, monkeypatch, head, body):
    from sortai.reasoner.description import load_graph
    from sortai.reasoner.rules import load_rule_files

    data = "".join(f"ex:n{i} ex:next ex:n{i + 1} ; ex:w {i % 5} ; ex:label \"n{i}\" .\n" for i in range(25))
    (tmp_path / "data.ttl").write_text(f"@prefix ex: <{EX}> .\n{data}ex:n3 ex:next ex:n0 .\nex:n10 ex:skip ex:n20 .\n")
    construct = "PREFIX ex: <http://example.org/> CONSTRUCT {{ {} }} WHERE {{ {} }}"
    (tmp_path / "rules.ttl").write_text(f"""@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <{EX}> .
ex:S a sh:NodeShape ; sh:targetNode ex:n0 ;
  sh:rule [ a sh:SPARQLRule ; sh:construct "{construct.format('?a ex:reach ?b', '?a ex:next ?b')}" ] ;
  sh:rule [ a sh:SPARQLRule ; sh:construct "{construct.format('?a ex:cost 0', '?a ex:next ?b')}" ] ;
  sh:rule [ a sh:SPARQLRule ; sh:order 1 ; sh:construct "{construct.format(head, body)}" ] .
""")
    rules = load_rule_files([tmp_path / "rules.ttl"])
    semi = infer(load_graph(tmp_path / "data.ttl"), rules, background=False).inferred_triples()
    monkeypatch.setattr(engine, "delta_variants", lambda rule, writes: None)
    full = infer(load_graph(tmp_path / "data.ttl"), rules, background=False).inferred_triples()
    assert semi == full and len(full) > 60


def test_the_same_facts_in_another_order_give_the_same_provenance_and_explanations():
    """Rows are put in one order (their text) whatever order the store was filled in, so that an explanation does not
    depend on how the description was written, nor on whether its reasoning was updated (incremental.py)."""
    from dataclasses import replace

    from sortai.reasoner.explain import Explainer

    def state(reasoning):
        explainer = Explainer(reasoning)
        found = diagnoses(reasoning)
        return ({t: [(d.rule.rule_id, d.names, d.rows) for d in known] for t, known in reasoning.derivations.items()},
                [d.to_json() for d in found], [explainer.explain_diagnosis(d.iri).to_json() for d in found])

    description = load_file(EXAMPLES / "mig-multitenant" / "description.yaml")
    reordered = replace(description, triples=list(reversed(description.triples)))
    assert state(infer(reordered)) == state(infer(description))


def test_the_diagnosis_records_leave_the_collectors_generations():
    """As the reasoning does: full collections during the explanations that follow do not rescan them."""
    reasoning = infer(load_file(EXAMPLES / "mig-multitenant" / "description.yaml"))
    found = diagnoses(reasoning)
    kept = [record for record, _ in reasoning.diagnosis_records[1].values() if record is not None]
    tracked = {id(o) for o in gc.get_objects()}
    assert found and kept
    assert not any(id(d) in tracked or id(d.figures) in tracked for d in (*found, *kept))
