"""Locate the shipped ontology, catalog, shapes and rules, whether installed as a wheel or run from a checkout."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path

import pyoxigraph as ox

SAI = "https://w3id.org/sortai/ontology#"
CAT = "https://w3id.org/sortai/catalog/"
AID = "https://w3id.org/sortai/domain/"
DATA = "https://w3id.org/sortai/data/"
CONTEXT_IRI = "https://w3id.org/sortai/context.jsonld"
ONTOLOGY_IRI = "https://w3id.org/sortai/ontology"

ONTOLOGY_MODULES = (
    "sortai-framework.ttl",
    "sortai-infrastructure.ttl",
    "sortai-domains.ttl",
    "sortai-reasoning.ttl",
    "sortai.ttl",
)
CATALOG_MODULE = "sortai-catalog.ttl"  # hardware: accelerators, link types, MIG profiles
# Every catalog module: hardware, cloud instance types, published models. One catalog graph holds them all.
CATALOG_MODULES = (CATALOG_MODULE, "sortai-catalog-cloud.ttl", "sortai-catalog-models.ttl")


def ontology_dir() -> Path:
    return Path(str(files("sortai.ontology")))


def rules_dir() -> Path:
    return Path(str(files("sortai.rules")))


@cache
def context() -> dict:
    """The JSON-LD context of the description format (the `@context` object itself)."""
    return json.loads((ontology_dir() / "context.jsonld").read_text(encoding="utf-8"))["@context"]


def _parse_turtle(path: Path) -> list[ox.Triple]:
    with path.open("rb") as handle:
        return [q.triple for q in ox.parse(handle, format=ox.RdfFormat.TURTLE, base_iri=ONTOLOGY_IRI)]


@cache
def ontology_triples() -> tuple[ox.Triple, ...]:
    triples: list[ox.Triple] = []
    for name in ONTOLOGY_MODULES:
        triples.extend(_parse_turtle(ontology_dir() / name))
    return tuple(triples)


@cache
def catalog_triples() -> tuple[ox.Triple, ...]:
    return tuple(t for name in CATALOG_MODULES for t in _parse_turtle(ontology_dir() / name))


@cache
def shapes_path() -> Path:
    return rules_dir() / "shapes.ttl"
