"""What the shipped catalog says about names software reports: GPU product names, instance types, MIG profiles,
published models. Every lookup either finds a catalog entry or returns None; importers report a None, never guess.
"""

from __future__ import annotations

import re
from functools import cache

import pyoxigraph as ox

from sortai.reasoner import resources

SAI = resources.SAI
CAT = resources.CAT
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
DCT_SOURCE = "http://purl.org/dc/terms/source"


@cache
def _facts() -> dict[str, dict[str, list[ox.Term]]]:
    facts: dict[str, dict[str, list[ox.Term]]] = {}
    for t in resources.catalog_triples():
        if isinstance(t.subject, ox.NamedNode):
            facts.setdefault(t.subject.value, {}).setdefault(t.predicate.value, []).append(t.object)
    return facts


def _of_class(cls: str) -> dict[str, dict[str, list[ox.Term]]]:
    return {iri: f for iri, f in _facts().items()
            if any(o.value == SAI + cls for o in f.get(RDF_TYPE, [])) and iri.startswith(CAT)}


def _normal(name: str) -> str:
    """GPU feature discovery writes the NVML product name with '-' for spaces (NVIDIA-H100-80GB-HBM3)."""
    return re.sub(r"[\s-]+", "-", name.strip()).lower()


@cache
def product_names() -> dict[str, str]:
    """Catalog accelerator name by every reported product name it lists (sai:productName), lower-cased."""
    names: dict[str, str] = {}
    for iri, facts in _of_class("AcceleratorModel").items():
        for literal in facts.get(SAI + "productName", []):
            names[_normal(literal.value)] = iri[len(CAT):]
    return names


def accelerator_for_product(reported: str) -> str | None:
    """The catalog accelerator a reported product name (nvidia-smi, GFD label, DCGM modelName) stands for.

    GPU feature discovery appends '-SHARED' (time-slicing) or '-MIG-<profile>' (single strategy) to the product
    label; those suffixes are not part of the product.
    """
    name = re.sub(r"-(SHARED|MIG-\d+g\.\d+gb)$", "", reported.strip(), flags=re.IGNORECASE)
    return product_names().get(_normal(name))


def accelerators() -> set[str]:
    return {iri[len(CAT):] for iri in _of_class("AcceleratorModel")}


def instance_types() -> set[str]:
    return {iri[len(CAT):] for iri in _of_class("InstanceType")}


def instance_accelerator(instance_type: str) -> tuple[str | None, int | None]:
    facts = _facts().get(CAT + instance_type, {})
    model = facts.get(SAI + "acceleratorModel")
    count = facts.get(SAI + "acceleratorsPerNode")
    return (model[0].value[len(CAT):] if model else None, int(count[0].value) if count else None)


def mig_profiles() -> set[str]:
    return {iri[len(CAT):] for iri in _of_class("MIGProfile")}


def mig_profile_supported(profile: str, accelerator: str | None) -> bool | None:
    """Whether the catalog lists `profile` for `accelerator` (None when either is unknown)."""
    facts = _facts().get(CAT + profile)
    if facts is None or accelerator is None:
        return None
    return any(o.value == CAT + accelerator for o in facts.get(SAI + "supportedOn", []))


@cache
def published_models() -> dict[str, dict[str, str]]:
    """Published models by lower-cased hub id: their catalog facts as plain strings (local names for IRIs)."""
    models: dict[str, dict[str, str]] = {}
    for iri, facts in _of_class("PublishedModel").items():
        hub = facts.get(SAI + "hubId")
        if not hub:
            continue
        plain = {"entry": iri[len(CAT):]}
        for predicate, values in facts.items():
            value = values[0]
            if predicate.startswith(SAI):
                name = predicate[len(SAI):]
            elif predicate == DCT_SOURCE:
                name = "source"
            else:
                continue
            plain[name] = value.value.rsplit("#", 1)[-1] if isinstance(value, ox.NamedNode) else value.value
        models[hub[0].value.lower()] = plain
    return models


def published_model(hub_id: str) -> dict[str, str] | None:
    return published_models().get(hub_id.strip().lower())


def canonical_hub_id(hub_id: str) -> str | None:
    found = published_model(hub_id)
    return None if found is None else found["hubId"]
