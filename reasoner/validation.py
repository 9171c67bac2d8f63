"""Validate a description against the SHACL shapes in rules/shapes.ttl and word each finding for its author."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import pyoxigraph as ox
import rdflib
from rdflib.namespace import RDF, SH

from . import resources
from .collector import without_cyclic_gc
from .description import Description, catalog_names, rdflib_literal
from .problems import Location, Problem
from .shacl import validate_triples
from .vocabulary import Suggester, vocabulary

SEVERITY = {SH.Violation: "violation", SH.Warning: "warning", SH.Info: "info"}


@dataclass
class ValidationReport:
    description: Description
    problems: list[Problem] = field(default_factory=list)
    report_graph: rdflib.Graph | None = None

    @property
    def conforms(self) -> bool:
        return not any(p.severity == "violation" for p in self.problems)

    def to_json(self) -> dict:
        return {
            "description": self.description.source,
            "conforms": self.conforms,
            "violations": sum(p.severity == "violation" for p in self.problems),
            "warnings": sum(p.severity == "warning" for p in self.problems),
            "problems": [p.to_json() for p in self.problems],
        }


@cache
def _background() -> tuple:
    return tuple(resources.ontology_triples()) + tuple(resources.catalog_triples())


@without_cyclic_gc
def validate(description: Description) -> ValidationReport:
    """Loader findings first (keys, values, catalog names), then the SHACL results."""
    results = validate_triples(str(resources.shapes_path()), [*description.triples, *_background()])
    report = _report_graph(results)
    problems = list(description.problems)
    # A value the loader already refused (unknown, ill-typed, not finite, dropped) also fails the shapes:
    # one mistake, reported once, by the loader, which knows what was written.
    reported = {p.value for p in problems if p.value}
    refused = {(p.element, p.key) for p in problems if p.key}
    rendered = set()
    for p in _shacl_problems(report, description):
        if p.value not in reported and (p.element, p.key) not in refused and p.render() not in rendered:
            rendered.add(p.render())  # several constraints of one shape may share its message
            problems.append(p)
    problems.sort(key=lambda p: ((p.location.line or 0) if p.location else 0, p.element or "", p.key or "",
                                 p.message))
    return ValidationReport(description, problems, report)


def _rdflib(term):
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if term.language:
        return rdflib_literal(term.value, language=term.language)
    return rdflib_literal(term.value, datatype=rdflib.URIRef(term.datatype.value))


def _report_graph(results) -> rdflib.Graph:
    """The SHACL validation report graph (sh:ValidationReport) of the results."""
    graph = rdflib.Graph()
    graph.bind("sh", SH)
    report = rdflib.BNode("report")
    graph.add((report, RDF.type, SH.ValidationReport))
    graph.add((report, SH.conforms, rdflib.Literal(not any(r.severity == str(SH.Violation) for r in results))))
    for index, r in enumerate(results):
        node = rdflib.BNode(f"result{index}")
        graph.add((report, SH.result, node))
        graph.add((node, RDF.type, SH.ValidationResult))
        graph.add((node, SH.focusNode, _rdflib(r.focus)))
        graph.add((node, SH.resultSeverity, rdflib.URIRef(r.severity)))
        graph.add((node, SH.sourceConstraintComponent, rdflib.URIRef(r.component)))
        graph.add((node, SH.sourceShape, r.shape))
        if r.path:
            graph.add((node, SH.resultPath, rdflib.URIRef(r.path)))
        if r.value is not None:
            graph.add((node, SH.value, _rdflib(r.value)))
        if r.message:
            graph.add((node, SH.resultMessage, rdflib.Literal(r.message)))
    return graph


def _shacl_problems(report: rdflib.Graph, description: Description) -> list[Problem]:
    vocab = vocabulary()
    declared: list = []  # (ids, sorted ids) of the description's elements: only a dangling reference needs them

    def declared_ids() -> tuple[set[str], list[str]]:
        if not declared:
            ids = {str(s)[len(description.base):] for s in _subjects(description)}
            declared.append((ids, sorted(ids)))
        return declared[0]

    did_you_mean = Suggester()
    problems: list[Problem] = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        path = report.value(result, SH.resultPath)
        value = report.value(result, SH.value)
        message = report.value(result, SH.resultMessage)
        severity = SEVERITY.get(report.value(result, SH.resultSeverity), "violation")
        component = report.value(result, SH.sourceConstraintComponent)
        focus_iri = str(focus)
        path_iri = str(path) if isinstance(path, rdflib.URIRef) else None
        key = vocab.key_for(path_iri) if path_iri else None
        shown_value = None
        if value is not None:
            shown_value = (description.element_name(str(value)) if isinstance(value, rdflib.URIRef)
                           else str(value))
        text = str(message) if message else f"violates {component}"
        if component == SH.MinCountConstraintComponent and key:
            text = f"missing '{key}': {text}"
        fix = None
        if value == focus:
            shown_value = None  # a constraint on the element as a whole: its own name is no news
        if shown_value is not None:
            text += f" (got '{shown_value}')"
            if (component == SH.ClassConstraintComponent and isinstance(value, rdflib.URIRef)
                    and str(value).startswith(description.base) and shown_value not in declared_ids()[0]):
                fix = (f"'{shown_value}' is not declared in this description; "
                       + (did_you_mean(shown_value, declared_ids()[1]) or "declare it or correct the reference."))
        problems.append(Problem(
            text, description.location_of(focus_iri, path_iri) or Location(description.source), element=_element_label(focus_iri, description),
            key=key, fix=fix, severity=severity, code=_code(component),
            value=vocab.value_name(str(value)).removeprefix("sai:") if isinstance(value, rdflib.URIRef) else None,
            details={"focusNode": focus_iri, "resultPath": path_iri,
                     "sourceConstraintComponent": str(component) if component else None},
        ))
    return problems


def _subjects(description: Description):
    return {t.subject.value for t in description.triples if t.subject.value.startswith(description.base)}


def _element_label(iri: str, description: Description) -> str:
    if iri.startswith(resources.CAT):
        names = {n for group in catalog_names().values() for n in group}
        name = iri[len(resources.CAT):]
        return f"catalog:{name}" if name in names else name
    return description.element_name(iri)


def _code(component) -> str:
    if component is None:
        return "invalid"
    name = str(component).rsplit("#", 1)[-1].replace("ConstraintComponent", "")
    return "shacl-" + name[0].lower() + name[1:]
