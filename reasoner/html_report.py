"""`sortai report`: one self-contained HTML page for a design review — no script, font or style from anywhere
else, so it opens air-gapped. The pictures are inline SVG laid out by Graphviz (pictures.py); the page is a
Jinja2 template (templates/report.html.j2) with autoescaping on."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import jinja2
import pyoxigraph as ox

from .diagnoses import Diagnosis
from .engine import Reasoning
from .explain import Explainer
from .headlines import RDF_TYPE, SAI, Facts, evidence_of, show_number
from .pictures import explanation_graph, svg, topology
from .problems import Problem
from .remedies import Recommendations, _cost_text, fleet_cost

TEMPLATES = Path(__file__).parent / "templates"
OPEN_EXPLANATIONS = 3  # the first diagnoses show their explanation graph unfolded


def sortai_version() -> str:
    try:
        return version("sortai")
    except PackageNotFoundError:
        return "unknown"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True)


def _reasons(explainer: Explainer, facts: Facts, d: Diagnosis):
    """The tree worth drawing: the lead condition's own derivation (the rule that found it, with its numbers,
    down to the facts), not the bookkeeping that turns conditions into indications and diagnoses."""
    if d.kind == "mode":
        lead = next((e for e in evidence_of(facts, d.iri) if e.score > 0 and e.condition), None)
        if lead is not None:
            explainer.root = ox.NamedNode(d.iri)
            return explainer.explain_triple(ox.Triple(ox.NamedNode(lead.condition), ox.NamedNode(RDF_TYPE),
                                                      ox.NamedNode(SAI + "StructuralCondition")), set())
    return explainer.explain_diagnosis(d.iri)


def render(reasoning: Reasoning, found: list[Diagnosis], recommendations: Recommendations | None = None,
           warnings: list[Problem] = ()) -> str:
    explainer = Explainer(reasoning)
    order = ["critical", "high", "moderate", "low"]
    levels = [(level, sum(d.severity.lower().startswith(level) for d in found)) for level in order]
    diagnoses = []
    facts = Facts(reasoning)
    for d in found:
        item = dict(d.to_json())
        item["level"] = d.severity.split(" ", 1)[0].lower()
        item["explanation"] = svg(explanation_graph(_reasons(explainer, facts, d)))
        diagnoses.append(item)
    remedies: dict[str, list[dict]] = {}
    if recommendations is not None:
        for diagnosis_id, verified in recommendations.results.items():
            remedies[diagnosis_id] = [v.to_json() | {"cost": _cost_text(v)} for v in verified]
    cost = fleet_cost(reasoning)
    return _environment().get_template("report.html.j2").render(
        name=reasoning.description.name, source=reasoning.description.source, version=sortai_version(),
        asserted=f"{len(reasoning.description.triples):,}", inferred=f"{len(reasoning.derivations):,}",
        diagnoses=diagnoses, levels=[x for x in levels if x[1]], fleet=cost, kw=lambda w: show_number(w / 1000),
        warnings=[w.render() for w in warnings], topology=svg(topology(reasoning, found)),
        recommendations=remedies, remedies_computed=recommendations is not None,
        not_reevaluated=set(recommendations.not_reevaluated) if recommendations else set(),
        not_verified=set(recommendations.not_verified) if recommendations else set(),
        most=recommendations.most if recommendations else 0,
        open_explanations=OPEN_EXPLANATIONS)
