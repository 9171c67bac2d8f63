"""Response shapes, for the OpenAPI schema (answers are built as plain dicts and match these)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sortai.reasoner import diagnoses


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Error(Open):
    error: str = Field(description="machine-readable code, e.g. `not-found`, `unauthorized`, `query-timeout`")
    message: str = Field(description="what went wrong and what to do about it")
    problems: list[dict[str, Any]] | None = Field(
        None, description="for unreadable or invalid input: each problem with location, message and fix")


class Health(Open):
    status: str
    descriptions: int
    writes: str = Field(description="`token` (bearer token required) or `open` (started with --allow-open-writes)")


class Graphs(Open):
    asserted: str
    inferred: str


class Validation(Open):
    description: str
    conforms: bool
    violations: int
    warnings: int
    problems: list[dict[str, Any]]


# One diagnosis: the reasoner's own record (FastAPI documents stdlib dataclasses as it does models).
Diagnosis = diagnoses.Diagnosis


class DescriptionSummary(Open):
    id: str
    version: int
    name: str
    filename: str
    format: str = Field(description="yaml, json, jsonld, turtle, ntriples or rdfxml")
    media_type: str
    size: int
    sha256: str
    created: str
    updated: str
    conforms: bool
    violations: int
    warnings: int
    diagnosed: bool = Field(description="false when the description is invalid: nothing was reasoned over")
    diagnosis_count: int
    asserted_triples: int
    inferred_triples: int
    deployment: str
    graphs: Graphs
    links: dict[str, str]


class DescriptionDetail(DescriptionSummary):
    validation: Validation
    diagnoses: list[Diagnosis]


class DescriptionList(Open):
    descriptions: list[DescriptionSummary]


class DiagnosisList(Open):
    description: str
    version: int
    diagnosed: bool
    count: int
    diagnoses: list[Diagnosis]


class DiagnoseResult(Open):
    name: str
    conforms: bool
    diagnosed: bool
    validation: Validation
    diagnoses: list[Diagnosis]
