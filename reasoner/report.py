"""Render diagnoses and explanations: JSON, Markdown, Turtle with PROV-O provenance, Graphviz DOT."""

from __future__ import annotations

import hashlib
import json

import pyoxigraph as ox

from . import resources
from .diagnoses import RDF_TYPE, Diagnosis, short_domain
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


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def diagnoses_markdown(reasoning: Reasoning, found: list[Diagnosis], warnings: list[Problem] = ()) -> str:
    lines = [f"# Diagnoses of `{reasoning.description.source}`", ""]
    if warnings:
        lines += ["## Warnings about the data", ""] + [f"- {w.render()}" for w in warnings] + [""]
    if not found:
        return "\n".join(lines + ["No instability mode found."])
    lines += ["| # | severity | diagnosis | headline | domains |", "|---|---|---|---|---|"]
    for i, d in enumerate(found, 1):
        domains = "; ".join([short_domain(p) for p in d.primary_domains]
                            + [f"+ {short_domain(s)}" for s in d.supporting_domains])
        lines.append(f"| {i} | {level(d)} {d.severity_score:.2f} ({d.confidence.split(' ', 1)[0].lower()}) | "
                     f"{d.mode_label} on `{d.component}` | {_md(d.headline)} | {_md(domains)} |")
    for i, d in enumerate(found, 1):
        lines += ["", f"## {i}. {d.mode_label} — `{d.component}`", "", f"**{d.headline}**", "",
                  f"- effect: {d.effect or '—'}",
                  f"- to confirm: {d.confirm or '—'}",
                  f"- severity: {d.severity} ({d.severity_score:.2f}), confidence: {d.confidence}, "
                  f"routes: {d.routes}",
                  f"- diagnostic domains: {'; '.join(d.primary_domains)}"
                  + (f" (supporting: {'; '.join(d.supporting_domains)})" if d.supporting_domains else ""),
                  f"- expected consequences: {', '.join(d.consequences) or '—'}"]
        if d.involves:
            lines.append(f"- involves: {', '.join(f'`{i}`' for i in d.involves)}")
        if d.compounds_with:
            lines.append(f"- compounds with (§6.4): {', '.join(f'`{c}`' for c in d.compounds_with)}")
        lines.append(f"- explain: `sortai explain {reasoning.description.source} {d.id}`")
        if d.figures:
            lines += ["", "| number | value | of | quantity |", "|---|---:|---|---|"]
            for f in d.figures:
                source = f"rule {f['rule']}: `{f['quantity']}`" if f.get("rule") else f"`{f.get('quantity', '')}`"
                lines.append(f"| {_md(f['label'])} | {f['shown']} | {f.get('element') or '—'} | {_md(source)} |")
    return "\n".join(lines)


# --- text (a terminal) ----------------------------------------------------------------------------------


def level(d: Diagnosis) -> str:
    return d.severity.split(" ", 1)[0].lower()


def diagnoses_text(source: str, found: list[Diagnosis]) -> list:
    """The terminal view: a table that leads with each headline (it reads at 80 columns), then per diagnosis its
    effect, how to confirm it and the id to explain. Returns rich renderables."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    if not found:
        return [Text(f"{source}: no instability mode found.")]
    table = Table(title=f"{source}: {len(found)} diagnos{'is' if len(found) == 1 else 'es'}, most severe first",
                  box=box.SIMPLE_HEAD, show_lines=True, show_edge=False, padding=(0, 1), expand=False,
                  title_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("diagnosis", ratio=3, min_width=24)
    table.add_column("domains", ratio=1, min_width=14)
    for index, d in enumerate(found, 1):
        evidence = d.confidence.split(" ", 1)[0].lower()
        what = Text(f"{d.mode_label} on {d.component}", style="bold")
        what.append("\n" + d.headline, style="")
        domains = "\n".join([short_domain(p) for p in d.primary_domains]
                            + [f"+ {short_domain(s)}" for s in d.supporting_domains])
        table.add_row(str(index), f"{level(d)}\n{d.severity_score:.2f}\n{evidence}", what, domains)
    parts: list = [table]
    for index, d in enumerate(found, 1):
        block = Text("\n")
        block.append(f"{index}. {d.id}\n", style="bold")
        if d.effect:
            block.append("Effect: ", style="bold")
            block.append(d.effect + "\n")
        if d.confirm:
            block.append("Confirm: ", style="bold")
            block.append(d.confirm + "\n")
        parts.append(block)
    parts.append(Text(f"Why: sortai explain {source} ID  (the proof tree; -v for every source). What to do: sortai "
                      f"recommend {source}"))
    return parts


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
    """The whole explanation as Graphviz DOT, written by the graphviz binding (its quoting keeps · and × as they
    are), laid out right to left so that a wide tree stacks instead of spreading into a strip."""
    from .pictures import explanation_graph

    return explanation_graph(tree, limit=None, sources=True).source
