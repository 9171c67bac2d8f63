"""Incremental re-diagnosis (reasoner/incremental.py): after each edit, the updated reasoning is compared with a full
recomputation over the edited description, triple for triple, derivation for derivation (rule, rows and their order),
diagnosis for diagnosis and explanation for explanation."""

from __future__ import annotations

import random
import zlib
from dataclasses import replace

import pyoxigraph as ox
import pytest

from sortai.reasoner.description import load_bytes, load_file, load_graph
from sortai.reasoner.diagnoses import diagnoses
from sortai.reasoner.engine import MAX_ALTERNATIVES, infer
from sortai.reasoner.explain import Explainer
from sortai.reasoner import incremental
from sortai.reasoner.incremental import update
from sortai.reasoner.rules import load_rule_files

from .conftest import EXAMPLES, SCENARIOS
from .test_engine import _rule_base

EX = "http://example.org/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
EDITS_PER_EXAMPLE = 13  # 16 examples: 208 edits


def _state(reasoning, explain: bool = True):
    inferred = {q.triple for q in reasoning.store.quads_for_pattern(None, None, None, reasoning.inferred_graph)}
    provenance = {t: [(d.rule.rule_id, d.names, d.rows, d.omitted_rows) for d in known]
                  for t, known in reasoning.derivations.items()}
    asserted = {q.triple for q in reasoning.store.quads_for_pattern(None, None, None, reasoning.asserted_graph)}
    if not explain:
        return inferred, provenance, asserted
    found = diagnoses(reasoning)
    explainer = Explainer(reasoning)
    return (inferred, provenance, asserted, [d.to_json() for d in found],
            [explainer.explain_diagnosis(d.iri).to_json() for d in found])


def _numeric(triple: ox.Triple) -> bool:
    return isinstance(triple.object, ox.Literal) and triple.object.datatype.value.rsplit("#", 1)[-1] in (
        "decimal", "integer", "double")


def _edit(rng: random.Random, triples: list[ox.Triple], removed: list[ox.Triple]) -> tuple[str, list[ox.Triple]]:
    """One random edit: a fact removed or put back, a number changed (a new measurement, a resized pool), a fact
    moved onto another element, or a whole element removed."""
    triples = list(triples)
    kind = rng.choice(["remove", "restore", "number", "number", "graft", "element"])
    numbers = [i for i, t in enumerate(triples) if _numeric(t)]
    if kind == "restore" and removed:
        return kind, triples + [removed.pop(rng.randrange(len(removed)))]
    if kind == "number" and numbers:
        i = rng.choice(numbers)
        old = triples[i]
        value = float(old.object.value) * rng.choice([0.25, 0.5, 0.9, 1.1, 2.0, 4.0])
        lexical = str(int(value)) if old.object.datatype.value.endswith("integer") else repr(value)
        triples[i] = ox.Triple(old.subject, old.predicate, ox.Literal(lexical, datatype=old.object.datatype))
        return kind, triples
    if kind == "graft":
        a, b = rng.choice(triples), rng.choice(triples)
        return kind, triples + [ox.Triple(a.subject, b.predicate, b.object)]
    if kind == "element":
        subject = rng.choice(triples).subject
        removed += [t for t in triples if t.subject == subject]
        return kind, [t for t in triples if t.subject != subject]
    i = rng.randrange(len(triples))
    removed.append(triples[i])
    return "remove", triples[:i] + triples[i + 1:]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_random_edits_leave_what_a_full_recomputation_gives(scenario):
    rng = random.Random(zlib.crc32(scenario.name.encode()))
    description = load_file(scenario / "description.yaml")
    reasoning = infer(description)
    removed: list[ox.Triple] = []
    for step in range(EDITS_PER_EXAMPLE):
        kind, triples = _edit(rng, description.triples, removed)
        previous = set(description.triples)
        description = replace(description, triples=triples)
        result = update(reasoning, description)
        expected = _state(infer(description))
        actual = _state(reasoning)
        names = ("inferred triples", "derivations", "asserted triples", "diagnoses", "explanations")
        assert [n for n, a, b in zip(names, actual, expected) if a != b] == [], f"edit {step} ({kind})"
        assert (result.asserted_added, result.asserted_removed) == (len(set(triples) - previous),
                                                                    len(previous - set(triples)))


def test_an_unchanged_description_re_runs_nothing():
    description = load_file(SCENARIOS[0] / "description.yaml")
    reasoning = infer(description)
    before = _state(reasoning)
    result = update(reasoning, replace(description, triples=list(reversed(description.triples))))
    assert (result.rerun, result.inferred_added, result.inferred_removed) == ((), 0, 0)
    assert _state(reasoning) == before


def test_a_changed_measurement_re_runs_only_the_rules_that_read_it():
    scenario = next(s for s in SCENARIOS if s.name == "measurement-only")
    description = load_file(scenario / "description.yaml")
    reasoning = infer(description)
    result_predicate = "http://www.w3.org/ns/sosa/hasSimpleResult"
    i = next(i for i, t in enumerate(description.triples) if t.predicate.value == result_predicate)
    old = description.triples[i]
    triples = list(description.triples)
    triples[i] = ox.Triple(old.subject, old.predicate, ox.Literal(repr(float(old.object.value) * 3),
                                                                  datatype=old.object.datatype))
    result = update(reasoning, replace(description, triples=triples))
    assert not result.full
    assert 0 < len(result.rerun) < len(reasoning.rule_base.rules) / 2
    assert (result.asserted_added, result.asserted_removed) == (1, 1)
    # The measurement is one focus node: the rules that read it re-run for the few nodes it reaches, not in full
    assert result.focused and set(result.focused) <= set(result.rerun)


def test_removing_a_node_re_runs_rules_for_the_focus_nodes_it_reaches_and_gives_what_a_full_run_gives():
    description = load_file(next(s for s in SCENARIOS if s.name == "mixed-vendor-pools") / "description.yaml")
    reasoning = infer(description)
    node = next(t.subject for t in description.triples if t.object.value == "https://w3id.org/sortai/ontology#Node")
    edited = replace(description, triples=[t for t in description.triples if node not in (t.subject, t.object)])
    result = update(reasoning, edited)
    assert not result.full and result.focused
    assert _state(reasoning) == _state(infer(edited))
    update(reasoning, description)  # and back
    assert _state(reasoning) == _state(infer(description))


def test_an_update_leaves_no_cycle_for_the_collector_it_freezes_out(cyclic_garbage):
    """In `recommend` at 5k, 128 updates left 231,853 objects frozen for good: the update's whole state
    (`_Changes`), held by a closure calling itself."""
    description = load_file(next(s for s in SCENARIOS if s.name == "mixed-vendor-pools") / "description.yaml")
    reasoning = infer(description)
    node = next(t.subject for t in description.triples if t.object.value == "https://w3id.org/sortai/ontology#Node")
    edited = replace(description, triples=[t for t in description.triples if node not in (t.subject, t.object)])
    results = []
    left = cyclic_garbage(lambda: results.append(update(reasoning, edited)))
    assert results[0].focused  # through the focus paths (focus_paths.reached), where the closure was
    assert left == []


def test_an_edit_that_reaches_most_of_the_rule_base_is_a_full_inference_into_the_same_store(monkeypatch):
    # Every product rule has focus paths, so no edit of a description reaches most of them in full: a threshold
    # below nothing makes this one a full inference.
    monkeypatch.setattr(incremental, "FULL_INFERENCE_ABOVE", -1.0)
    description = load_file(next(s for s in SCENARIOS if s.name == "mixed-vendor-pools") / "description.yaml")
    reasoning = infer(description)
    store = reasoning.store
    before = set(reasoning.inferred_triples())
    explainer = Explainer(reasoning)  # made before the update, used after it
    found_before = [d.iri for d in diagnoses(reasoning)]
    for iri in found_before:
        explainer.explain_diagnosis(iri)
    node = next(t.subject for t in description.triples if t.object.value == "https://w3id.org/sortai/ontology#Node")
    edited = replace(description, triples=[t for t in description.triples if node not in (t.subject, t.object)])
    result = update(reasoning, edited)
    assert result.full and len(result.rerun) == len(reasoning.rule_base.rules)
    assert reasoning.store is store and reasoning.description is edited
    assert _state(reasoning) == _state(infer(edited))
    after = set(reasoning.inferred_triples())
    assert (result.inferred_added, result.inferred_removed) == (len(after - before), len(before - after))
    assert result.inferred_removed > 0
    # The full update numbers derivations anew: an explainer made before must not mix the two numberings.
    still = [d.iri for d in diagnoses(reasoning) if d.iri in found_before]
    assert still
    fresh = Explainer(reasoning)
    for iri in still:
        assert explainer.explain_diagnosis(iri).to_json() == fresh.explain_diagnosis(iri).to_json()


# --- a foreign rule file: recursion, then negation and an aggregate over what the recursion derived ---------------

GRAPH_RULES = """@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
ex:ItemShape a sh:NodeShape ; sh:targetClass ex:Item ;
    sh:rule [ a sh:SPARQLRule ; sh:order 1 ;
        sh:construct "CONSTRUCT { $this <http://example.org/reaches> ?n } WHERE { $this <http://example.org/next> ?n }" ] ,
      [ a sh:SPARQLRule ; sh:order 2 ;
        sh:construct "CONSTRUCT { $this <http://example.org/reaches> ?z } WHERE { $this <http://example.org/reaches> ?y . ?y <http://example.org/next> ?z }" ] ,
      [ a sh:SPARQLRule ; sh:order 3 ;
        sh:construct "CONSTRUCT { $this <http://example.org/isStranded> true } WHERE { FILTER NOT EXISTS { $this <http://example.org/reaches> <http://example.org/goal> } }" ] ,
      [ a sh:SPARQLRule ; sh:order 4 ;
        sh:construct "CONSTRUCT { $this <http://example.org/reachCount> ?n } WHERE { { SELECT $this (COUNT(?z) AS ?n) WHERE { $this <http://example.org/reaches> ?z } GROUP BY $this } }" ] .
ex:GoalShape a sh:NodeShape ; sh:targetNode ex:goal ;
    sh:rule [ a sh:SPARQLRule ;
        sh:construct "CONSTRUCT { <http://example.org/goal> <http://example.org/stranded> ?n } WHERE { { SELECT (COUNT(?x) AS ?n) WHERE { ?x <http://example.org/isStranded> true } } }" ] .
"""


def test_recursion_negation_and_aggregates_stay_right_under_random_edits(tmp_path):
    rng = random.Random(7)
    nodes = [f"n{i}" for i in range(12)] + ["goal"]
    edges = sorted({(a, b) for a, b in (rng.sample(nodes, 2) for _ in range(14))})
    lines = [f"<{EX}{n}> <{RDF_TYPE}> <{EX}Item> ." for n in nodes] + [f"<{EX}{a}> <{EX}next> <{EX}{b}> ." for a, b in edges]
    (tmp_path / "rules.ttl").write_text(GRAPH_RULES)
    (tmp_path / "graph.nt").write_text("\n".join(lines) + "\n")
    rules = load_rule_files([tmp_path / "rules.ttl"])
    assert True in rules.recursive
    description = load_graph(tmp_path / "graph.nt")
    reasoning = infer(description, rules, background=False)
    stranded_counts = set()
    for step in range(60):
        triples = list(description.triples)
        edges_now = [t for t in triples if t.predicate.value == EX + "next"]
        if edges_now and rng.random() < 0.5:
            triples.remove(rng.choice(edges_now))
        else:
            a, b = rng.sample(nodes, 2)
            triples.append(ox.Triple(ox.NamedNode(EX + a), ox.NamedNode(EX + "next"), ox.NamedNode(EX + b)))
        description = replace(description, triples=triples)
        update(reasoning, description)
        full = infer(description, rules, background=False)
        assert _state(reasoning, explain=False) == _state(full, explain=False), f"edit {step}"
        stranded_counts |= {t.object.value for t in full.inferred_triples() if t.predicate.value == EX + "stranded"}
    assert len(stranded_counts) > 3  # the edits moved the negation and the aggregate, not just the closure


# --- derivations of one triple by several rules, at most MAX_ALTERNATIVES of them, in rule order ------------------

COWRITERS = """
@prefix ex: <http://example.org/> .
rule:Tags a sh:NodeShape ; sh:targetClass ex:Item ; sh:rule rule:A01 , rule:B01 .
rule:A01 a sh:SPARQLRule ; sai:ruleId "A01" ; rdfs:label "a" ; sai:encodesSection "§4" ; sh:prefixes rule:prefixes ;
    sh:construct "PREFIX ex: <http://example.org/> CONSTRUCT { ex:hub ex:tagged true } WHERE { $this ex:a ?v }" .
rule:B01 a sh:SPARQLRule ; sai:ruleId "B01" ; rdfs:label "b" ; sai:encodesSection "§4" ; sh:prefixes rule:prefixes ;
    sh:construct "PREFIX ex: <http://example.org/> CONSTRUCT { ex:hub ex:tagged true } WHERE { $this ex:b ?v }" .
"""


def test_a_later_rule_whose_derivations_were_left_out_comes_back_when_room_is_made(tmp_path):
    rules = _rule_base(tmp_path, COWRITERS)
    items = [f"ex:i{i} a ex:Item ; ex:a {i} ." for i in range(MAX_ALTERNATIVES + 2)]
    items += [f"ex:j{i} a ex:Item ; ex:b {i} ." for i in range(3)]
    data = ("@prefix ex: <http://example.org/> .\n" + "\n".join(items)).encode()
    description = load_bytes(data, "tags.ttl")
    reasoning = infer(description, rules)
    tagged = ox.Triple(ox.NamedNode(EX + "hub"), ox.NamedNode(EX + "tagged"), ox.Literal("true", datatype=ox.NamedNode(
        "http://www.w3.org/2001/XMLSchema#boolean")))
    assert [d.rule.rule_id for d in reasoning.derivations[tagged]] == ["A01"] * MAX_ALTERNATIVES
    # Only A01 reads ex:a; B01 must still re-run, since its derivations now fit.
    fewer = replace(description, triples=[t for t in description.triples
                                          if not (t.predicate.value == EX + "a" and int(t.object.value) >= 2)])
    update(reasoning, fewer)
    assert [d.rule.rule_id for d in reasoning.derivations[tagged]] == ["A01"] * 2 + ["B01"] * 3
    assert _state(reasoning, explain=False) == _state(infer(fewer, rules), explain=False)
    update(reasoning, description)
    assert [d.rule.rule_id for d in reasoning.derivations[tagged]] == ["A01"] * MAX_ALTERNATIVES


@pytest.mark.parametrize("later", [3, MAX_ALTERNATIVES + 1], ids=["room left", "list full"])
def test_an_earlier_rule_that_now_concludes_what_only_a_later_rule_did_comes_first(tmp_path, later):
    """Only A01's input changes; B01 neither re-runs nor is forced, and its derivations must move behind A01's."""
    rules = _rule_base(tmp_path, COWRITERS)
    items = [f"ex:j{i} a ex:Item ; ex:b {i} ." for i in range(later)]
    description = load_bytes(("@prefix ex: <http://example.org/> .\n" + "\n".join(items)).encode(), "tags.ttl")
    reasoning = infer(description, rules)
    tagged = next(iter(reasoning.derivations))
    a = ox.Triple(ox.NamedNode(EX + "j0"), ox.NamedNode(EX + "a"), ox.Literal("0", datatype=ox.NamedNode(
        "http://www.w3.org/2001/XMLSchema#integer")))
    edited = replace(description, triples=description.triples + [a])
    result = update(reasoning, edited)
    assert "B01" not in result.rerun
    expected = ["A01"] + ["B01"] * min(later, MAX_ALTERNATIVES - 1)
    assert [d.rule.rule_id for d in reasoning.derivations[tagged]] == expected
    assert _state(reasoning, explain=False) == _state(infer(edited, rules), explain=False)
    assert (result.inferred_added, result.inferred_removed) == (0, 0)


def test_a_derived_fact_once_asserted_is_derived_no_more_and_again_once_retracted(tmp_path):
    rules = _rule_base(tmp_path, COWRITERS)
    data = b"@prefix ex: <http://example.org/> . ex:i a ex:Item ; ex:a 1 ."
    description = load_bytes(data, "tags.ttl")
    reasoning = infer(description, rules)
    tagged = next(iter(reasoning.derivations))
    # Asserted, in the same edit as a new input of A01: A01 re-runs and must not derive it again.
    another = ox.Triple(ox.NamedNode(EX + "i"), ox.NamedNode(EX + "a"), ox.Literal("2", datatype=ox.NamedNode(
        "http://www.w3.org/2001/XMLSchema#integer")))
    asserted = replace(description, triples=description.triples + [tagged, another])
    result = update(reasoning, asserted)
    assert tagged not in reasoning.derivations and result.asserted_added == 2 and "A01" in result.rerun
    assert _state(reasoning, explain=False) == _state(infer(asserted, rules), explain=False)
    update(reasoning, description)
    assert [d.rule.rule_id for d in reasoning.derivations[tagged]] == ["A01"]


def test_an_explainer_made_before_an_update_cites_the_edited_description():
    """A changed measurement re-runs a few rules, in place. The edited file also has two more lines at its top:
    an explainer made before the update must cite the new lines, as one made after it does."""
    path = EXAMPLES / "measurement-only" / "description.yaml"
    text = path.read_text()
    assert "    value: 3400\n" in text
    reasoning = infer(load_bytes(text.encode(), str(path)))
    explainer = Explainer(reasoning)
    before = {d.iri: explainer.explain_diagnosis(d.iri).to_json() for d in diagnoses(reasoning)}
    edited = load_bytes(("# re-measured\n#\n" + text.replace("    value: 3400\n", "    value: 3900\n")).encode(), str(path))
    result = update(reasoning, edited)
    assert not result.full and result.rerun
    fresh = Explainer(reasoning)
    after = {d.iri: fresh.explain_diagnosis(d.iri).to_json() for d in diagnoses(reasoning)}
    assert after.keys() == before.keys() and after != before
    assert {iri: explainer.explain_diagnosis(iri).to_json() for iri in after} == after
    cited = {leaf.source.get("line") for iri in after for leaf in fresh.explain_diagnosis(iri).leaves()
             if leaf.kind == "asserted" and leaf.statement["value"] == "3900"}
    assert cited == {text.splitlines().index("    value: 3400") + 1 + 2}


@pytest.mark.parametrize("few", [0.0, 1.0], ids=["evidence-scanned", "evidence-looked-up"])
def test_after_an_update_only_the_diagnoses_whose_facts_changed_are_read_again(monkeypatch, few):
    """Whether those read again read their evidence by one scan or one by one (`FEW_READ_AGAIN`), they read what a
    fresh run reads."""
    from sortai.reasoner import diagnoses as diagnoses_module

    monkeypatch.setattr(diagnoses_module, "FEW_READ_AGAIN", few)

    scenario = next(s for s in SCENARIOS if s.name == "measurement-only")
    description = load_file(scenario / "description.yaml")
    reasoning = infer(description)
    first = diagnoses(reasoning)
    before = [d.to_json() for d in first]
    read = []
    original = diagnoses_module._read
    monkeypatch.setattr(diagnoses_module, "_read", lambda r, node, facts: read.append(node.value) or
                        original(r, node, facts))
    assert [d.to_json() for d in diagnoses(reasoning)] == before
    assert read == []  # nothing changed: every record is the one read before
    first[0].headline, first[0].figures[:] = "changed by the caller", []
    assert diagnoses(reasoning)[0].headline != "changed by the caller"  # the kept record is the reader's own copy

    def measured(element: str, factor: float):
        result = "http://www.w3.org/ns/sosa/hasSimpleResult"
        i = next(i for i, t in enumerate(description.triples)
                 if t.predicate.value == result and t.subject.value.endswith("/" + element))
        old = description.triples[i]
        triples = list(description.triples)
        triples[i] = ox.Triple(old.subject, old.predicate, ox.Literal(repr(float(old.object.value) * factor),
                                                                      datatype=old.object.datatype))
        return replace(description, triples=triples)

    # The p99 TTFT is quoted in a headline: the diagnoses that read it are read again, not all of them
    edited = measured("ttft-p99", 3)
    update(reasoning, edited)
    read.clear()
    after = [d.to_json() for d in diagnoses(reasoning)]
    read_again = len(read)
    assert after == [d.to_json() for d in diagnoses(infer(edited))]
    assert after != before
    assert 0 < read_again < len(after)
    # The p50 TTFT changes no derivation a diagnosis reads: none is read again
    update(reasoning, description)
    diagnoses(reasoning)
    quiet = measured("ttft-p50", 3)
    update(reasoning, quiet)
    read.clear()
    kept = [d.to_json() for d in diagnoses(reasoning)]
    assert read == []
    assert kept == [d.to_json() for d in diagnoses(infer(quiet))] == before


# --- rows of other focus nodes found through the IRIs a rule makes (`_Changes._concluding`) ----------------------

MINTING = """
@prefix ex: <http://example.org/> .
rule:Minting a sh:NodeShape ; sh:targetClass ex:Item ; sh:rule rule:G01 , rule:T01 .
rule:G01 a sh:SPARQLRule ; sai:ruleId "G01" ; rdfs:label "g" ; sai:encodesSection "§4" ; sh:prefixes rule:prefixes ;
    sh:order 1 ;
    sh:construct "PREFIX ex: <http://example.org/> CONSTRUCT { ?group a ex:Group ; ex:of ?owner . } WHERE { $this ex:owner ?owner . ?owner ex:name ?n . BIND (IRI(CONCAT(STR(?owner), '/group/', ?n)) AS ?group) }" .
rule:T01 a sh:SPARQLRule ; sai:ruleId "T01" ; rdfs:label "t" ; sai:encodesSection "§4" ; sh:prefixes rule:prefixes ;
    sh:order 2 ;
    sh:construct "PREFIX ex: <http://example.org/> CONSTRUCT { ?card ex:cardKind ?k . } WHERE { $this ex:kind ?k ; ex:tag ?t . BIND (IRI(CONCAT(STR($this), '/card')) AS ?card) }" .
"""


def test_the_rows_behind_a_full_list_are_found_through_the_iris_the_rule_made(tmp_path, monkeypatch):
    """G01 makes a group's IRI from its owner's (many items, one group: its lists are full); T01 makes a card's IRI
    from the item's own (many tags, one card). An edit re-runs them for the items it reaches, and the other items
    whose rows conclude the same triples are found from the IRIs: the owner before "/group/", the item before
    "/card". Each update is compared with a full inference."""
    rules = _rule_base(tmp_path, MINTING)
    by_id = rules.by_id()
    assert [m[:2] for m in by_id["G01"].focus_paths.minted_from] == [("group", "owner")]
    assert [m[:2] for m in by_id["T01"].focus_paths.minted_from] == [("card", "this")]
    items = [f"ex:i{i} a ex:Item ; ex:owner ex:o{i % 2} ; ex:kind ex:K{i % 3} ; "
             + " ; ".join(f"ex:tag {t}" for t in range(MAX_ALTERNATIVES + 1)) + " ." for i in range(3 * MAX_ALTERNATIVES)]
    data = "@prefix ex: <http://example.org/> .\n" + "\n".join(items) + '\nex:o0 ex:name "a" . ex:o1 ex:name "b" .'
    description = load_bytes(data.encode(), "minting.ttl")
    reasoning = infer(description, rules)
    asked = []
    original = incremental._Changes._concluding
    monkeypatch.setattr(incremental._Changes, "_concluding",
                        lambda self, rule, triples: asked.append(rule.rule_id) or original(self, rule, triples))
    rng = random.Random(3)
    for step in range(24):
        triples = list(description.triples)
        editable = [t for t in triples if t.predicate.value in (EX + "owner", EX + "tag", EX + "kind")]
        old = rng.choice(editable)
        triples.remove(old)
        if rng.random() < 0.7:  # moved: another owner, tag or kind
            value = {EX + "owner": ox.NamedNode(EX + f"o{rng.randrange(3)}"), EX + "kind": ox.NamedNode(EX + "K9"),
                     EX + "tag": ox.Literal(str(rng.randrange(50)), datatype=old.object.datatype)
                     if isinstance(old.object, ox.Literal) else old.object}[old.predicate.value]
            triples.append(ox.Triple(old.subject, old.predicate, value))
        description = replace(description, triples=triples)
        result = update(reasoning, description)
        assert not result.full
        assert _state(reasoning, explain=False) == _state(infer(description, rules), explain=False), f"edit {step}"
    assert {"G01", "T01"} <= set(asked)  # the full lists were asked about, not only re-run in full


REBINDING = """
@prefix ex: <http://example.org/> .
rule:Cards a sh:NodeShape ; sh:targetClass ex:Item ; sh:rule rule:T01 .
rule:T01 a sh:SPARQLRule ; sai:ruleId "T01" ; rdfs:label "t" ; sai:encodesSection "§4" ; sh:prefixes rule:prefixes ;
    sh:construct "PREFIX ex: <http://example.org/> CONSTRUCT { ?card ex:cardKind ?k . } WHERE { $this ex:kind ?k . OPTIONAL { $this ex:label ?l } BIND (IRI(CONCAT(STR($this), '/card', ?l)) AS ?card) OPTIONAL { ?card ex:made ?m } }" .
"""


def test_an_iri_a_later_pattern_may_bind_instead_of_the_bind_names_no_focus_node(tmp_path):
    """Where the BIND fails (no label), the OPTIONAL after it binds ?card to any node that is made: every item
    concludes ex:shared/card's kind, and the IRI says nothing of which item (a reviewer's counterexample)."""
    rules = _rule_base(tmp_path, REBINDING)
    assert rules.by_id()["T01"].focus_paths.minted_from == () and rules.by_id()["T01"].focus_paths.minted == ()
    items = [f"ex:i{i} a ex:Item ; ex:kind ex:K0 ." for i in range(MAX_ALTERNATIVES + 2)]
    data = "@prefix ex: <http://example.org/> .\n" + "\n".join(items) + "\n<http://example.org/shared/card> ex:made true ."
    description = load_bytes(data.encode(), "cards.ttl")
    reasoning = infer(description, rules)
    kind = ox.Triple(ox.NamedNode(EX + "i0"), ox.NamedNode(EX + "kind"), ox.NamedNode(EX + "K0"))
    edited = replace(description, triples=[t for t in description.triples if t != kind] + [
        ox.Triple(kind.subject, kind.predicate, ox.NamedNode(EX + "K9"))])
    assert not update(reasoning, edited).full
    assert _state(reasoning, explain=False) == _state(infer(edited, rules), explain=False)
