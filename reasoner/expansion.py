"""Fill in what a named catalog entry implies: a node's cloud instance type, a model's published configuration.

A node may say `instanceType: p5.48xlarge` instead of its accelerator, count, NICs and virtualization; a model may
say `hubId: meta-llama/Llama-3.1-8B-Instruct` instead of its layers, heads and widths. The catalog entry's facts
are added to the description before validation, so that the shapes and the rules see exactly the facts they would
see had the user written them by hand. A fact the description states itself wins; one that contradicts the
catalog is reported with both values. Every filled-in fact remembers its catalog entry, so that explanations cite
the entry and its source (and the line of the key that named it) rather than a line nobody wrote.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

import pyoxigraph as ox

from . import resources
from .problems import Problem
from .vocabulary import did_you_mean, vocabulary

SAI = resources.SAI
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
INSTANCE_TYPE = SAI + "instanceType"
HUB_ID = SAI + "hubId"
VIRTUALIZATION = SAI + "virtualization"
VIRTUALIZATION_CONFIG = SAI + "VirtualizationConfig"

# What an instance type says about each of its nodes, and what it says about their virtualization block.
NODE_FACTS = tuple(SAI + p for p in ("acceleratorModel", "acceleratorsPerNode", "nicLinkType", "nicsPerNode",
                                     "gpuDirectRDMA", "peerToPeer", "scaleUpDomainSize"))
VIRTUALIZATION_FACTS = tuple(SAI + p for p in ("gpuVirtualization", "networkVirtualization"))
# What a published model's config.json says.
MODEL_FACTS = tuple(SAI + p for p in (
    "parametersBillions", "activeParametersBillions", "numLayers", "numKVHeads", "headDim", "hiddenSize",
    "numAttentionHeads", "numExperts", "expertsPerToken", "kvLatentDim", "attentionKind", "slidingWindowTokens",
    "slidingWindowLayers"))


@cache
def _catalog_facts() -> dict[str, dict[str, ox.Term]]:
    facts: dict[str, dict[str, ox.Term]] = defaultdict(dict)
    for t in resources.catalog_triples():
        if isinstance(t.subject, ox.NamedNode):
            facts[t.subject.value].setdefault(t.predicate.value, t.object)
    return dict(facts)


@cache
def published_models() -> dict[str, str]:
    """Catalog entry IRI of every published model, by its hub id."""
    return {facts[HUB_ID].value: iri for iri, facts in _catalog_facts().items()
            if HUB_ID in facts and getattr(facts.get(RDF_TYPE), "value", None) == SAI + "PublishedModel"}


def expand(description) -> None:
    """Add the facts of named instance types and published models to `description` (in place)."""
    facts = _catalog_facts()
    # Only the elements that name a catalog entry (and their virtualization blocks) are read or filled in, so
    # only their statements are indexed: on a large fleet indexing every subject cost more than all the rest.
    triggers: list[ox.Triple] = []
    blocks_of: dict[str, list[str]] = defaultdict(list)
    for t in description.triples:
        predicate = t.predicate.value
        if predicate == INSTANCE_TYPE or predicate == HUB_ID:
            triggers.append(t)
        elif predicate == VIRTUALIZATION:
            blocks_of[t.subject.value].append(t.object.value)
    if not triggers:
        return
    relevant = {t.subject.value for t in triggers}
    for t in triggers:  # a node's block: the one it names, else the one named after it that may be created
        if t.predicate.value == INSTANCE_TYPE:
            relevant.update(blocks_of.get(t.subject.value, ()))
            relevant.add(t.subject.value + "/virtualization")
    stated: dict[str, dict[str, list[ox.Term]]] = defaultdict(lambda: defaultdict(list))
    for t in description.triples:
        subject = t.subject.value
        if subject in relevant:
            stated[subject][t.predicate.value].append(t.object)
    added: list[ox.Triple] = []

    def fill(subject: ox.NamedNode, owner: str, key_predicate: str, entry: str, predicates) -> None:
        for predicate in predicates:
            value = facts[entry].get(predicate)
            if value is None:
                continue
            mine = stated[subject.value].get(predicate)
            if mine:
                if value not in mine:
                    _conflict(description, owner, subject.value, predicate, mine[0], value, entry, key_predicate)
                continue
            triple = ox.Triple(subject, ox.NamedNode(predicate), value)
            added.append(triple)
            stated[subject.value][predicate].append(value)
            description.filled_from[triple] = entry
            where = description.location_of(owner, key_predicate)
            if where is not None:
                description.key_locations.setdefault((subject.value, predicate), where)

    for t in triggers:
        if t.predicate.value == INSTANCE_TYPE and isinstance(t.object, ox.NamedNode) and t.object.value in facts:
            node, entry = t.subject, t.object.value
            fill(node, node.value, INSTANCE_TYPE, entry, NODE_FACTS)
            blocks = stated[node.value].get(VIRTUALIZATION)
            block = blocks[0] if blocks else ox.NamedNode(node.value + "/virtualization")
            if not blocks and any(p in facts[entry] for p in VIRTUALIZATION_FACTS):
                for triple in (ox.Triple(node, ox.NamedNode(VIRTUALIZATION), block),
                               ox.Triple(block, ox.NamedNode(RDF_TYPE), ox.NamedNode(VIRTUALIZATION_CONFIG))):
                    added.append(triple)
                    description.filled_from[triple] = entry
                stated[node.value][VIRTUALIZATION].append(block)
                description.element_locations.setdefault(block.value, description.location_of(node.value, INSTANCE_TYPE))
            if isinstance(block, ox.NamedNode):
                fill(block, node.value, INSTANCE_TYPE, entry, VIRTUALIZATION_FACTS)
        elif t.predicate.value == HUB_ID and isinstance(t.object, ox.Literal):
            entry = published_models().get(t.object.value)
            if entry is None:
                _unknown_model(description, t.subject.value, t.object.value, stated[t.subject.value])
                continue
            fill(t.subject, t.subject.value, HUB_ID, entry, MODEL_FACTS)
    description.triples.extend(added)


def _name(iri_or_term) -> str:
    value = iri_or_term.value if hasattr(iri_or_term, "value") else str(iri_or_term)
    if value.startswith(resources.CAT):
        return value[len(resources.CAT):]
    return vocabulary().value_name(value).removeprefix("sai:")


def _conflict(description, owner, subject, predicate, mine, theirs, entry, key_predicate) -> None:
    vocab = vocabulary()
    key = vocab.key_for(predicate)
    description.problems.append(Problem(
        f"'{key}' is {_name(mine)} here, but the catalog entry {_name(entry)} ('{vocab.key_for(key_predicate)}') "
        f"says {_name(theirs)}; the value written here is used",
        description.location_of(subject, predicate) or description.location_of(owner, key_predicate),
        element=description.element_name(subject), key=key, severity="warning", code="catalog-conflict",
        fix=f"remove '{key}' to take the catalog's value, or correct it."))


def _unknown_model(description, model: str, hub_id: str, stated: dict) -> None:
    known = sorted(published_models())
    missing = [vocabulary().key_for(p) for p in (SAI + "numLayers", SAI + "numKVHeads", SAI + "headDim",
                                                 SAI + "parametersBillions") if p not in stated]
    hint = did_you_mean(hub_id, known)
    if missing:
        fix = (f"{hint + ' Or ' if hint else ''}write {', '.join(missing)} by hand from the model's config.json "
               "(or import a local config.json with `sortai import`).")
    else:
        fix = hint or "nothing to do: the figures written here are used."
    description.problems.append(Problem(
        f"hub id '{hub_id}' is not in the model catalog", description.location_of(model, HUB_ID),
        element=description.element_name(model), key="hubId", severity="violation" if missing else "info",
        code="unknown-model", fix=fix, value=hub_id))
