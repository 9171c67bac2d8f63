"""What the description format's keys and enumerated values mean, read from the JSON-LD context.

The context is the single definition of the format; this module only indexes it so that messages can
speak the user's language (keys, not IRIs) and suggest the nearest valid spelling.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cache

from rapidfuzz import fuzz, process

from . import resources

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _expand(value: str, prefixes: dict[str, str]) -> str:
    if ":" in value:
        prefix, local = value.split(":", 1)
        if prefix in prefixes and not local.startswith("//"):
            return prefixes[prefix] + local
    return value


@dataclass(frozen=True)
class Term:
    key: str
    iri: str
    kind: str  # "literal", "reference", "enum", "catalog", "node"
    datatype: str | None = None
    enum: tuple[tuple[str, str], ...] = ()  # (value as written, IRI)
    many: bool = False


@dataclass(frozen=True)
class Vocabulary:
    terms: dict[str, Term]
    by_iri: dict[str, Term]
    prefixes: dict[str, str]
    _keys: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def key_for(self, predicate_iri: str) -> str:
        term = self.by_iri.get(predicate_iri)
        if term is not None:
            return term.key
        key = self._keys.get(predicate_iri)  # explanations ask for the same few derived properties thousands of times
        if key is None:
            key = self._prefixed(predicate_iri)
            if len(self._keys) < 10000:  # a description's own properties must not grow it without bound
                self._keys[predicate_iri] = key
        return key

    def _prefixed(self, predicate_iri: str) -> str:
        for prefix, ns in sorted(self.prefixes.items(), key=lambda item: -len(item[1])):
            if predicate_iri.startswith(ns):
                return f"{prefix}:{predicate_iri[len(ns):]}"
        return predicate_iri

    def value_name(self, iri: str) -> str:
        """How a user writes an enumerated or catalog IRI in a description."""
        for term in self.terms.values():
            for written, enum_iri in term.enum:
                if enum_iri == iri:
                    return written
        if iri.startswith(resources.CAT):
            return iri[len(resources.CAT):]
        return self.key_for(iri)


@cache
def vocabulary() -> Vocabulary:
    ctx = resources.context()
    prefixes = {
        key: value
        for key, value in ctx.items()
        if isinstance(value, str) and not key.startswith("@") and value.endswith(("#", "/"))
    }
    terms: dict[str, Term] = {}
    for key, definition in ctx.items():
        if key.startswith("@") or key in prefixes:
            continue
        if isinstance(definition, str):
            if definition.startswith("@"):
                continue  # aliases of keywords: id, type
            terms[key] = Term(key, _expand(definition, prefixes), "literal")
            continue
        iri = _expand(definition["@id"], prefixes)
        many = definition.get("@container") == "@set"
        coercion = definition.get("@type")
        scoped = definition.get("@context", {})
        if coercion == "@vocab":
            if "@vocab" in scoped:
                terms[key] = Term(key, iri, "catalog", many=many)
            else:
                enum = tuple((value, _expand(target, prefixes)) for value, target in scoped.items())
                terms[key] = Term(key, iri, "enum", enum=enum, many=many)
        elif coercion == "@id":
            terms[key] = Term(key, iri, "reference", many=many)
        elif coercion:
            terms[key] = Term(key, iri, "literal", datatype=_expand(coercion, prefixes), many=many)
        else:
            terms[key] = Term(key, iri, "node", many=many)
    by_iri: dict[str, Term] = {}
    for term in terms.values():
        by_iri.setdefault(term.iri, term)
    return Vocabulary(terms=terms, by_iri=by_iri, prefixes=prefixes)


SUGGESTION_BUDGET = 100  # misspellings per description that get a "did you mean"
PREFILTER = 20  # candidates rapidfuzz hands to difflib for the final ranking


def suggest(word: str, candidates, n: int = 3) -> list[str]:
    """The nearest spellings, case-insensitively, best first (difflib's ranking, cutoff 0.5).

    rapidfuzz first picks the closest `PREFILTER` candidates in linear C++ time; its InDel similarity is
    never below difflib's ratio, so no candidate difflib would accept is lost to the prefilter.
    """
    lowered = {}
    for candidate in candidates:
        lowered.setdefault(candidate.lower(), candidate)
    close = process.extract(word.lower(), list(lowered), scorer=fuzz.ratio, limit=PREFILTER, score_cutoff=50)
    hits = difflib.get_close_matches(word.lower(), [c for c, _, _ in close], n=n, cutoff=0.5)
    return [lowered[h] for h in hits]


def did_you_mean(word: str, candidates) -> str | None:
    hits = suggest(word, candidates)
    if not hits:
        return None
    return "did you mean " + " or ".join(f"'{h}'" for h in hits) + "?"


class Suggester:
    """`did_you_mean` for one description, at a bounded cost.

    Only the first `budget` misspellings get suggestions (the rest are still reported, without one): a
    file with 20,000 unknown keys would otherwise pay 20,000 scans of the vocabulary, and 5,000 dangling
    references 5,000 scans of 5,000 ids.
    """

    def __init__(self, budget: int = SUGGESTION_BUDGET):
        self.left = budget

    def __call__(self, word: str, candidates) -> str | None:
        if self.left <= 0:
            return None
        self.left -= 1
        return did_you_mean(word, candidates)
