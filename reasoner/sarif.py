"""Diagnoses as a SARIF 2.1.0 log, so that code-scanning views show them on the description file.

One result per diagnosis: `ruleId` is the instability mode or finding kind (its rule descriptor carries the label,
the Table 1 domains and the reasoner rules that can conclude it), `level` follows the severity (critical and high:
error; moderate: warning; low: note), the primary location is the line of the element the diagnosis concerns, and
the related locations are the lines of the asserted facts its explanation rests on. Data warnings are results of
their own (`data-warning/<code>`).
"""

from __future__ import annotations

from pathlib import Path

from .diagnoses import Diagnosis, label
from .engine import Reasoning
from .explain import Explainer
from .problems import Problem
from .resources import SAI

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "moderate": "warning", "low": "note"}
MAX_RELATED = 25


def _uri(source: str) -> str:
    path = Path(source)
    return path.as_posix() if not path.is_absolute() else path.as_uri()


def _region(line: int | None, column: int | None = None) -> dict:
    region = {"startLine": max(1, int(line or 1))}
    if column:
        region["startColumn"] = int(column)
    return region


def _location(source: str, line: int | None, column: int | None = None, message: str | None = None,
              ident: int | None = None) -> dict:
    location = {"physicalLocation": {"artifactLocation": {"uri": _uri(source)}, "region": _region(line, column)}}
    if message:
        location["message"] = {"text": message}
    if ident is not None:
        location["id"] = ident
    return location


def _facts_of(explainer: Explainer, d: Diagnosis, source: str) -> list[tuple[int, str]]:
    """(line, statement) of the asserted facts the diagnosis rests on, in the description file, deduplicated."""
    seen: dict[int, str] = {}
    for leaf in explainer.explain_diagnosis(d.iri).leaves():
        where = leaf.source or {}
        if leaf.kind in ("asserted", "catalog") and where.get("line") and where.get("file", source) == source:
            seen.setdefault(int(where["line"]), leaf.text)
    return sorted(seen.items())[:MAX_RELATED]


def sarif_log(reasoning: Reasoning, found: list[Diagnosis], warnings: list[Problem] = (), version: str = "") -> dict:
    description = reasoning.description
    source = description.source
    explainer = Explainer(reasoning)
    rules: dict[str, dict] = {}
    results = []
    for d in found:
        rule_id = d.mode
        if rule_id not in rules:
            kind_iri = SAI + d.mode
            rules[rule_id] = {
                "id": rule_id, "name": rule_id,
                "shortDescription": {"text": label(kind_iri)},
                "fullDescription": {"text": d.effect or label(kind_iri)},
                "defaultConfiguration": {"level": LEVELS.get(d.severity.split(" ", 1)[0].lower(), "warning")},
                "properties": {"kind": d.kind, "primaryDomains": d.primary_domains,
                               "supportingDomains": d.supporting_domains,
                               "tags": [p.split(" ", 1)[0] for p in d.primary_domains] + [d.kind]},
            }
        where = description.location_of(d.component_iri)
        line, column = (where.line, where.column) if where else (None, None)
        related = [_location(source, n, message=text, ident=i)
                   for i, (n, text) in enumerate(_facts_of(explainer, d, source), 1)]
        result = {
            "ruleId": rule_id,
            "ruleIndex": list(rules).index(rule_id),
            "level": LEVELS.get(d.severity.split(" ", 1)[0].lower(), "warning"),
            "message": {"text": f"{d.mode_label} on {d.component}: {d.headline} {d.effect} To confirm: {d.confirm}"},
            "locations": [_location(source, line, column, message=d.component)],
            "partialFingerprints": {"sortaiDiagnosisId/v1": d.id},
            "properties": {"diagnosisId": d.id, "severity": d.severity, "severityScore": d.severity_score,
                           "confidence": d.confidence, "figures": d.figures, "explain": f"sortai explain {source} {d.id}"},
        }
        if related:
            result["relatedLocations"] = related
        results.append(result)
    for w in warnings:
        rule_id = f"data-warning/{w.code}"
        if rule_id not in rules:
            rules[rule_id] = {"id": rule_id, "name": rule_id, "shortDescription": {"text": f"data warning: {w.code}"},
                              "defaultConfiguration": {"level": "warning"}}
        loc = w.location
        results.append({"ruleId": rule_id, "ruleIndex": list(rules).index(rule_id), "level": "warning",
                        "message": {"text": w.message + (f" Fix: {w.fix}" if w.fix else "")},
                        "locations": [_location(source, loc.line if loc else None, loc.column if loc else None,
                                                message=w.element)]})
    driver = {"name": "sortai", "version": version or "0.0.0", "informationUri": "https://w3id.org/sortai",
              "rules": list(rules.values())}
    return {"$schema": SCHEMA, "version": "2.1.0",
            "runs": [{"tool": {"driver": driver}, "results": results,
                      "artifacts": [{"location": {"uri": _uri(source)}, "roles": ["analysisTarget"]}],
                      "invocations": [{"executionSuccessful": True}],
                      "columnKind": "unicodeCodePoints"}]}
