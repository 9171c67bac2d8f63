"""Provenance held as integers (reasoner/provenance.py): what comes back out is what the rules matched.

Each check compares with something computed apart from the compact form: the inferred graph in the store,
the rule body evaluated again by Oxigraph with a kept row bound, or the input data itself.
"""

from __future__ import annotations

import pyoxigraph as ox

from sortai.reasoner.description import load_bytes, load_file
from sortai.reasoner.engine import MAX_MERGED_ROWS, infer

from .conftest import EXAMPLES
from .test_engine import _rule_base

EX = "http://example.org/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _cell(term) -> str:
    return "UNDEF" if term is None else str(term)


def test_the_mapping_holds_exactly_the_inferred_graph():
    reasoning = infer(load_file(EXAMPLES / "mig-multitenant" / "description.yaml"))
    inferred = set(reasoning.inferred_triples())
    assert set(reasoning.derivations) == inferred and len(reasoning.derivations) == len(inferred)
    for triple in inferred:
        assert triple in reasoning.derivations and reasoning.derivations.get(triple)
    for triple in reasoning.description.triples[:200]:  # asserted: derived by nothing
        assert triple not in reasoning.derivations and reasoning.derivations.get(triple) is None
    assert ox.Triple(ox.NamedNode(EX + "never"), ox.NamedNode(EX + "seen"), ox.Literal("x")) not in reasoning.derivations


def test_every_kept_row_is_a_solution_of_its_rules_body():
    """The rows come back from ids as terms; bound into the rule's own SELECT, Oxigraph must still find them."""
    reasoning = infer(load_file(EXAMPLES / "disaggregated-h100-l4" / "description.yaml"))
    checked: dict[str, int] = {}
    for derivations in reasoning.derivations.values():
        for derivation in derivations:
            rule = derivation.rule
            if checked.get(rule.rule_id, 0) >= 5:
                continue
            checked[rule.rule_id] = checked.get(rule.rule_id, 0) + 1
            names = " ".join(f"?{n}" for n in derivation.names)
            assert not any(isinstance(v, ox.BlankNode) for row in derivation.rows for v in row)  # not in VALUES
            for row in derivation.rows:
                values = " ".join(_cell(v) for v in row)
                # A trailing VALUES clause joins the bound row with the query's solutions (SPARQL 1.1, §10.2.2).
                query = f"{rule.select}\nVALUES ({names}) {{ ({values}) }}" if names else rule.select
                assert len(list(reasoning.query(query))) >= 1, (rule.rule_id, row)
    assert len(checked) > 40  # most of the rule base fired on this example, and each was checked


AGGREGATE = """
@prefix ex: <http://example.org/> .
rule:Count a sh:NodeShape ; sh:targetClass ex:Group ; sh:rule rule:A01 , rule:O01 .
rule:A01 a sh:SPARQLRule ; sai:ruleId "A01" ; rdfs:label "members" ; sai:encodesSection "§4" ; sh:prefixes rule:prefixes ;
    sh:construct "PREFIX ex: <http://example.org/> CONSTRUCT { $this ex:size ?n } WHERE { $this ex:member ?m . { SELECT $this (COUNT(?x) AS ?n) WHERE { $this ex:member ?x } GROUP BY $this } }" .
rule:O01 a sh:SPARQLRule ; sai:ruleId "O01" ; rdfs:label "labelled" ; sai:encodesSection "§4" ; sh:prefixes rule:prefixes ;
    sh:construct "PREFIX ex: <http://example.org/> CONSTRUCT { $this ex:seen ?m } WHERE { $this ex:member ?m OPTIONAL { ?m ex:label ?l . ?m a ex:Labelled } }" .
"""


def test_an_aggregate_keeps_its_first_rows_and_counts_the_rest(tmp_path):
    members = 45
    data = "@prefix ex: <http://example.org/> .\nex:g a ex:Group .\n" + "".join(
        f"ex:g ex:member ex:m{k:02d} .\n" for k in range(members))
    reasoning = infer(load_bytes(data.encode(), "group.ttl"), _rule_base(tmp_path, AGGREGATE), background=False)
    size = ox.Triple(ox.NamedNode(EX + "g"), ox.NamedNode(EX + "size"),
                     ox.Literal(str(members), datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")))
    [derivation] = reasoning.derivations[size]
    assert len(derivation.rows) == MAX_MERGED_ROWS and derivation.omitted_rows == members - MAX_MERGED_ROWS
    member = ox.NamedNode(EX + "member")
    kept = {row[derivation.names.index("m")] for row in derivation.rows}
    assert len(kept) == MAX_MERGED_ROWS  # distinct rows, not one row repeated
    # Rows are kept in the order of their text, so the first 32 members by name.
    assert sorted(m.value for m in kept) == [f"{EX}m{k:02d}" for k in range(MAX_MERGED_ROWS)]
    group = ox.Triple(ox.NamedNode(EX + "g"), ox.NamedNode(RDF_TYPE), ox.NamedNode(EX + "Group"))  # the target
    assert set(derivation.premises) == {group} | {ox.Triple(ox.NamedNode(EX + "g"), member, m) for m in kept}


def test_an_optional_premise_is_kept_only_where_it_holds(tmp_path):
    data = b"""@prefix ex: <http://example.org/> .
ex:g a ex:Group ; ex:member ex:plain , ex:tagged .
ex:plain ex:label "p" .
ex:tagged ex:label "t" ; a ex:Labelled .
"""
    reasoning = infer(load_bytes(data, "group.ttl"), _rule_base(tmp_path, AGGREGATE), background=False)
    g, member, label = ox.NamedNode(EX + "g"), ox.NamedNode(EX + "member"), ox.NamedNode(EX + "label")
    labelled = ox.Triple(ox.NamedNode(EX + "tagged"), ox.NamedNode(RDF_TYPE), ox.NamedNode(EX + "Labelled"))
    group = ox.Triple(g, ox.NamedNode(RDF_TYPE), ox.NamedNode(EX + "Group"))  # the shape's target

    def premises(m: str) -> set:
        [d] = reasoning.derivations[ox.Triple(g, ox.NamedNode(EX + "seen"), ox.NamedNode(EX + m))]
        return set(d.premises)

    # ex:plain has a label but is not Labelled: the OPTIONAL group fails, so neither of its patterns is a premise.
    assert premises("plain") == {group, ox.Triple(g, member, ox.NamedNode(EX + "plain"))}
    assert premises("tagged") == {group, ox.Triple(g, member, ox.NamedNode(EX + "tagged")),
                                  ox.Triple(ox.NamedNode(EX + "tagged"), label, ox.Literal("t")), labelled}


def test_every_premise_holds_even_where_two_rules_share_their_text():
    """Q03 (links) and Q04 (fabrics) have the same CONSTRUCT and differ in their target, itself a premise: a
    premise plan shared by the rule text gave one of them the other's target, a triple that is not there."""
    reasoning = infer(load_file(EXAMPLES / "disaggregated-h100-l4" / "description.yaml"))
    fired = set()
    for derivations in reasoning.derivations.values():
        for derivation in derivations:
            fired.add(derivation.rule.rule_id)
            for p in derivation.premises:
                assert next(iter(reasoning.store.quads_for_pattern(p.subject, p.predicate, p.object, None)), None), \
                    (derivation.rule.rule_id, str(p))
    assert {"Q03", "Q04"} <= fired


def test_an_explained_fact_cites_its_line_whether_or_not_its_terms_have_ids_yet():
    """The explainer walks keys. A fact whose terms have no id yet (rule constants get theirs when a premise plan
    is first made) has no key, and is looked up as a triple: both ways give the same leaf, citing its line."""
    from sortai.reasoner.diagnoses import diagnoses
    from sortai.reasoner.explain import Explainer

    description = load_file(EXAMPLES / "disaggregated-h100-l4" / "description.yaml")
    reasoning = infer(description)
    explainer = Explainer(reasoning)
    facts = [t for t in description.triples if t.predicate.value != RDF_TYPE]
    before = [(reasoning.derivations.key(t), explainer.explain_triple(t, set()).to_json()) for t in facts]
    found = diagnoses(reasoning)
    assert found
    for d in found:  # makes the premise plans, which give the rules' predicates their ids
        explainer.explain_diagnosis(d.iri)
    after = [(reasoning.derivations.key(t), explainer.explain_triple(t, set()).to_json()) for t in facts]
    assert any(old is None and new is not None for (old, _), (new, _) in zip(before, after))
    for triple, (_, old), (_, new) in zip(facts, before, after):
        assert old == new, str(triple)
        where = description.location_of(triple.subject.value, triple.predicate.value)
        assert new["kind"] == "asserted" and "because" not in new, str(triple)
        assert new["source"]["file"] == description.source
        assert new["source"].get("line") == (where.line if where and where.line else None), str(triple)
