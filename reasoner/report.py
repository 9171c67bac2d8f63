"""Render diagnoses and explanations: JSON, Markdown, Turtle with PROV-O provenance, Graphviz DOT."""

from __future__ import annotations

import hashlib
import json

import pyoxigraph as ox

from . import resources
from .diagnoses import RDF_TYPE, Diagnosis
from .engine import Reasoning
from .explain import Node
from .problems import Problem

PROV = "http://www.w3.org/ns/prov#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DCT = "http://purl.org/dc/terms/"
PREFIXES = {
    "sai": resources.SAI, "cat": resources.CAT, "aid": resources.AID, "prov": PROV, "rdf": RDF,
    "rule": "https://w3id.org/sortai/rules#", "dcterms": DCT, "sosa": "http://www.w3.org/ns/sosa/",
    "xsd": "http://www.w3.org/2001/XMLSchema#", "uom": "http://qudt.org/vocab/unit/",
}


def diagnoses_json(reasoning: Reasoning, found: list[Diagnosis], warnings: list[Problem] = ()) -> dict:
    return {
        "description": reasoning.description.source,
        "deployment": reasoning.description.deployment,
        "asserted_triples": len(reasoning.description.triples),
        "inferred_triples": len(reasoning.derivations),
        "diagnoses": [d.to_json() for d in found],
        "warnings": [w.to_json() for w in warnings],
    }


def diagnoses_markdown(reasoning: Reasoning, found: list[Diagnosis], warnings: list[Problem] = ()) -> str:
    lines = [f"# Diagnoses of `{reasoning.description.source}`", ""]
    if warnings:
        lines += ["## Warnings about the data", ""] + [f"- {w.render()}" for w in warnings] + [""]
    if not found:
        return "\n".join(lines + ["No instability mode found."])
    lines += ["| # | severity | mode | component | confidence | primary | supporting | id |",
              "|---|---|---|---|---|---|---|---|"]
    for i, d in enumerate(found, 1):
        lines.append(f"| {i} | {d.severity} ({d.severity_score:.2f}) | {d.mode_label} | `{d.component}` | "
                     f"{d.confidence} | {'; '.join(d.primary_domains)} | {'; '.join(d.supporting_domains)} | "
                     f"`{d.id}` |")
    for d in found:
        lines += ["", f"## {d.mode_label} — `{d.component}`", "",
                  f"- severity: {d.severity} ({d.severity_score:.2f}), confidence: {d.confidence}, "
                  f"routes: {d.routes}",
                  f"- expected consequences: {', '.join(d.consequences) or '—'}"]
        if d.involves:
            lines.append(f"- involves: {', '.join(f'`{i}`' for i in d.involves)}")
        if d.compounds_with:
            lines.append(f"- compounds with (§6.4): {', '.join(f'`{c}`' for c in d.compounds_with)}")
    return "\n".join(lines)


# --- PROV-O -------------------------------------------------------------------------------------------------


def _digest(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def _closure(reasoning: Reasoning, roots: list[ox.Triple]) -> list[ox.Triple]:
    """Every derived triple the roots depend on (the roots included), in a fixed order."""
    seen: dict[ox.Triple, None] = {}
    stack = list(roots)
    while stack:
        triple = stack.pop()
        if triple in seen or triple not in reasoning.derivations:
            continue
        seen[triple] = None
        for derivation in reasoning.derivations[triple]:
            stack.extend(derivation.premises)
    return sorted(seen, key=str)


def provenance_triples(reasoning: Reasoning, derived: list[ox.Triple]) -> list[ox.Triple]:
    """PROV-O for derived triples: each rule application an activity that used premise statements."""
    base = reasoning.description.base + "provenance/"
    out: list[ox.Triple] = []
    statements: dict[ox.Triple, ox.NamedNode] = {}
    described = reasoning.description

    def n(iri: str) -> ox.NamedNode:
        return ox.NamedNode(iri)

    def statement(triple: ox.Triple) -> ox.NamedNode:
        if triple not in statements:
            node = n(base + "statement-" + _digest(str(triple)))
            statements[triple] = node
            out.extend([ox.Triple(node, n(RDF + "type"), n(RDF + "Statement")),
                        ox.Triple(node, n(RDF + "subject"), triple.subject),
                        ox.Triple(node, n(RDF + "predicate"), triple.predicate),
                        ox.Triple(node, n(RDF + "object"), triple.object)])
            if triple not in reasoning.derivations:
                where = described.location_of(triple.subject.value, triple.predicate.value)
                if where is not None:
                    out.append(ox.Triple(node, n(DCT + "source"), ox.Literal(str(where))))
        return statements[triple]

    for triple in derived:
        generated = statement(triple)
        for derivation in reasoning.derivations[triple]:
            rule = derivation.rule
            activity = n(base + "application-" + _digest(rule.rule_id, *(str(p) for p in derivation.premises)))
            out.extend([ox.Triple(activity, n(RDF + "type"), n(PROV + "Activity")),
                        ox.Triple(activity, n(RDF + "type"), n(resources.SAI + "RuleApplication")),
                        ox.Triple(activity, n(resources.SAI + "appliedRule"), n(rule.iri)),
                        ox.Triple(generated, n(PROV + "wasGeneratedBy"), activity)])
            for premise in derivation.premises:
                out.append(ox.Triple(activity, n(PROV + "used"), statement(premise)))
                out.append(ox.Triple(generated, n(PROV + "wasDerivedFrom"), statement(premise)))
    return sorted(set(out), key=str)


def _turtle(triples) -> str:
    return ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=PREFIXES).decode("utf-8")


def diagnoses_turtle(reasoning: Reasoning, found: list[Diagnosis]) -> str:
    roots = [ox.Triple(ox.NamedNode(d.iri), RDF_TYPE, ox.NamedNode(resources.SAI + "Diagnosis")) for d in found]
    triples = reasoning.inferred_triples() + provenance_triples(reasoning, _closure(reasoning, roots))
    return _turtle(sorted(set(triples), key=str))


def explanation_turtle(reasoning: Reasoning, diagnosis: Diagnosis) -> str:
    node = ox.NamedNode(diagnosis.iri)
    roots = [q.triple for q in reasoning.store.quads_for_pattern(node, None, None, reasoning.inferred_graph)]
    closure = _closure(reasoning, roots)
    return _turtle(sorted(set(closure + provenance_triples(reasoning, closure)), key=str))


# --- Graphviz -----------------------------------------------------------------------------------------------


def explanation_dot(tree: Node) -> str:
    lines = ["digraph explanation {", "  rankdir=BT;", '  node [shape=box, fontname="Helvetica", fontsize=10];']
    counter = [0]
    colours = {"derived": "lightblue", "asserted": "palegreen", "catalog": "khaki", "ontology": "lavender",
               "repeated": "white", "unknown": "lightpink"}

    def visit(node: Node) -> str:
        counter[0] += 1
        name = f"n{counter[0]}"
        label = node.text
        if node.rule and node.rule.get("formula"):
            label += "\n" + node.rule["formula"]
        if node.source:
            label += "\n" + ", ".join(f"{k} {v}" for k, v in node.source.items() if v is not None)
        lines.append(f"  {name} [label={json.dumps(label)}, style=filled, fillcolor={colours.get(node.kind, 'white')}];")
        for child in node.because:
            lines.append(f"  {visit(child)} -> {name};")
        return name

    visit(tree)
    lines.append("}")
    return "\n".join(lines)
