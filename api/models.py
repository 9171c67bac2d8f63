"""Response shapes, for the OpenAPI schema (answers are built as plain dicts and match these)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sortai.reasoner import diagnoses

from . import examples


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


def _example(example: dict) -> ConfigDict:
    """Model config with an example for the OpenAPI document (tests validate each against its model)."""
    return ConfigDict(extra="allow", json_schema_extra={"examples": [example]})


class Error(Open):
    model_config = _example(examples.ERROR)
    error: str = Field(description="machine-readable code, e.g. `not-found`, `unauthorized`, `query-timeout`")
    message: str = Field(description="what went wrong and what to do about it")
    problems: list[dict[str, Any]] | None = Field(
        None, description="for unreadable or invalid input: each problem with location, message and fix")


class StoreHealth(Open):
    writable: bool = Field(description="false after a write failed (disk full, read-only); the service retries")
    free_bytes: int | None = Field(None, description="free space on the data directory's file system")
    error: str | None = Field(None, description="why the last write failed")


class Health(Open):
    model_config = _example(examples.HEALTH)
    status: str = Field(description="`ok`, or `degraded` (answered with 503) when the store cannot write")
    descriptions: int
    writes: str = Field(description="`token` (bearer token required) or `open` (started with --allow-open-writes)")
    store: StoreHealth
    workers: dict[str, dict[str, int]] = Field(description="per pool: its size and how many workers are idle")


class Graphs(Open):
    asserted: str
    inferred: str


class Validation(Open):
    model_config = _example(examples.VALIDATION)
    description: str
    conforms: bool
    violations: int
    warnings: int
    problems: list[dict[str, Any]]


# One diagnosis: the reasoner's own record (FastAPI documents stdlib dataclasses as it does models).
Diagnosis = diagnoses.Diagnosis


class DescriptionSummary(Open):
    model_config = _example(examples.DESCRIPTION_SUMMARY)
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
    model_config = _example(examples.DESCRIPTION_DETAIL)
    validation: Validation
    diagnoses: list[Diagnosis]


class DescriptionList(Open):
    model_config = _example(examples.DESCRIPTION_LIST)
    descriptions: list[DescriptionSummary]


class DiagnosisList(Open):
    model_config = _example(examples.DIAGNOSIS_LIST)
    description: str
    version: int
    diagnosed: bool
    count: int
    diagnoses: list[Diagnosis]


class DiagnoseResult(Open):
    model_config = _example(examples.DIAGNOSE_RESULT)
    name: str
    conforms: bool
    diagnosed: bool
    validation: Validation
    diagnoses: list[Diagnosis]
