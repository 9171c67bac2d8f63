"""Read an architecture description (YAML, JSON, JSON-LD, Turtle, N-Triples, RDF/XML) into RDF triples.

YAML and JSON are JSON-LD documents without the `@context`: the shipped context is attached and
pyoxigraph's JSON-LD processor produces the triples — there is no bespoke converter. What this module adds
is what a JSON-LD processor cannot: line numbers for every element and key, friendly checks of keys and
enumerated values with suggestions, deterministic IRIs for nested objects, and the refusal of any
context other than the shipped one (nothing is ever fetched).
"""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

import pyoxigraph as ox
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from . import resources
from .expansion import expand
from .problems import InputError, Location, Problem
from .vocabulary import RDF_TYPE, did_you_mean, vocabulary

FORMATS = {
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".jsonld": "jsonld",
    ".ttl": "turtle",
    ".nt": "ntriples",
    ".rdf": "rdfxml",
    ".owl": "rdfxml",
}
RDFS_RANGE = "http://www.w3.org/2000/01/rdf-schema#range"
RDFS_SUBPROPERTY = "http://www.w3.org/2000/01/rdf-schema#subPropertyOf"
DECLARES = resources.SAI + "declares"
DEPLOYMENT = resources.SAI + "Deployment"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~/-]*$")
MAX_BYTES = 256 * 1024 * 1024
# `sortai import` ends each line it wrote with the artefact line the value came from; explanations cite it.
ORIGIN_COMMENT = re.compile(r"^#\s*from (?P<file>\S.*):(?P<line>\d+)\s*$")


@dataclass
class Description:
    """An architecture description as triples, with where each element and key came from."""

    name: str
    source: str
    format: str
    base: str
    deployment: str
    triples: list[ox.Triple]
    element_locations: dict[str, Location] = field(default_factory=dict)
    key_locations: dict[tuple[str, str], Location] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Facts filled in from a named catalog entry (instance type, published model): triple → the entry's IRI.
    filled_from: dict[ox.Triple, str] = field(default_factory=dict)
    # Where an imported value was read (manifest, capture, metrics file): (element IRI, predicate or None) → line.
    origins: dict[tuple[str, str | None], Location] = field(default_factory=dict)

    def element_name(self, iri: str) -> str:
        """How the user wrote an element: its id relative to the description, else the IRI."""
        if iri.startswith(self.base):
            return iri[len(self.base):]
        if iri == self.deployment:
            return self.name
        return vocabulary().value_name(iri)

    def location_of(self, iri: str, predicate: str | None = None) -> Location | None:
        if predicate is not None and (iri, predicate) in self.key_locations:
            return self.key_locations[(iri, predicate)]
        return self.element_locations.get(iri)


def base_for(name: str) -> tuple[str, str]:
    deployment = resources.DATA + name
    return deployment, deployment + "/"


def detect_format(name: str, declared: str | None = None) -> str:
    if declared:
        if declared not in set(FORMATS.values()):
            raise InputError([Problem(
                f"unknown format '{declared}'", Location(name), code="unknown-format",
                fix="use one of " + ", ".join(sorted(set(FORMATS.values()))) + ".")])
        return declared
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise InputError([Problem(
            f"cannot tell the format of '{name}' from its suffix", Location(name), code="unknown-format",
            fix="name the file .yaml, .yml, .json, .jsonld, .ttl, .nt, .rdf or .owl.")])
    return FORMATS[suffix]


def load_file(path: str | Path, fmt: str | None = None) -> Description:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError([Problem(f"file is {size} bytes; the limit is {MAX_BYTES}", Location(str(path)),
                                      code="too-large")])
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError([Problem("no such file", Location(str(path)), code="not-found",
                                  fix="check the path.")]) from None
    except IsADirectoryError:
        raise InputError([Problem("is a directory, not a description file", Location(str(path)),
                                  code="not-found", fix="name a .yaml, .json, .jsonld or .ttl file.")]) from None
    except OSError as exc:
        raise InputError([Problem(f"cannot read: {exc.strerror}", Location(str(path)), code="unreadable")]) from None
    return load_bytes(data, str(path), fmt)


def load_bytes(data: bytes, source: str, fmt: str | None = None, name: str | None = None) -> Description:
    fmt = detect_format(source, fmt)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError([Problem("the file is not UTF-8 text", Location(source, line), code="encoding",
                                  fix="save it as UTF-8.")]) from None
    stem = _safe_name(name or Path(source).stem or "description")
    if fmt in ("yaml", "json"):
        return _load_tree(text, source, fmt, stem)
    if fmt == "jsonld":
        return _load_jsonld(text, source, stem)
    return _load_rdf(data, source, fmt, stem)


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return cleaned or "description"


# --- YAML and JSON -------------------------------------------------------------------------------------


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    return yaml


def _parse_tree(text: str, source: str, fmt: str):
    if fmt == "json":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError([Problem(f"JSON syntax error: {exc.msg}", Location(source, exc.lineno, exc.colno),
                                      code="syntax", fix="correct the JSON at that position.")]) from None
    try:
        return _yaml().load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = (exc.problem or exc.context or "syntax error").strip()
        raise InputError([Problem(f"YAML syntax error: {problem}", Location(source, line, column), code="syntax",
                                  fix="correct the YAML at that position (indentation, colons, quotes).")]) from None
    except YAMLError as exc:
        raise InputError([Problem(f"YAML syntax error: {exc}", Location(source), code="syntax")]) from None


class _TreeReader:
    """Checks keys and values against the context, records locations, and gives nested objects IRIs."""

    def __init__(self, source: str, base: str):
        self.source = source
        self.base = base
        self.vocab = vocabulary()
        self.problems: list[Problem] = []
        self.element_locations: dict[str, Location] = {}
        self.key_locations: dict[tuple[str, str], Location] = {}
        self.ids: dict[str, Location] = {}
        self.catalog = catalog_names()
        self.origins: dict[tuple[str, str | None], Location] = {}

    def loc(self, node, key=None, index=None) -> Location:
        try:
            if key is not None:
                line, col = node.lc.key(key)
            elif index is not None:
                line, col = node.lc.item(index)
            else:
                line, col = node.lc.line, node.lc.col
            return Location(self.source, line + 1, col + 1)
        except (AttributeError, KeyError, IndexError, TypeError):
            return Location(self.source)

    def problem(self, message, location, element=None, key=None, fix=None, code="invalid", value=None):
        self.problems.append(Problem(message, location, element=element, key=key, fix=fix, code=code,
                                     value=value))

    def element(self, node: CommentedMap, element_id: str, where: Location) -> dict:
        iri = self.base + element_id
        self.element_locations.setdefault(iri, where)
        out: dict = {}
        for key, value in node.items():
            key_loc = self.loc(node, key=key)
            if not isinstance(key, str):
                self.problem(f"key {key!r} is not a string", key_loc, element_id, code="unknown-key")
                continue
            if key.startswith("@"):
                self.problem(f"JSON-LD keyword '{key}' is not allowed in a YAML/JSON description", key_loc,
                             element_id, key, fix="write the description as .jsonld to use JSON-LD keywords.",
                             code="unknown-key")
                continue
            if key == "id":
                self.origin(node, key, iri, None)
                continue
            if key == "type":
                out["type"] = self.scalar(value, element_id, key, key_loc)
                continue
            term = self.vocab.terms.get(key)
            if term is None or key in self.vocab.prefixes:
                hint = did_you_mean(key, [k for k in self.vocab.terms if k not in self.vocab.prefixes])
                self.problem(f"unknown key '{key}'", key_loc, element_id, key,
                             fix=hint or "remove it; examples/README.md lists the keys.",
                             code="unknown-key")
                continue
            self.key_locations[(iri, term.iri)] = key_loc
            self.origin(node, key, iri, term.iri)
            out[key] = self.value(value, term, element_id, key, key_loc, node)
        return out

    def origin(self, node: CommentedMap, key, iri: str, predicate: str | None) -> None:
        """A `# from FILE:LINE` comment at the end of the key's line (written by `sortai import`)."""
        token = (node.ca.items.get(key) or [None, None, None])[2]
        match = ORIGIN_COMMENT.match(token.value.split("\n", 1)[0].strip()) if token is not None else None
        if match:
            self.origins[(iri, predicate)] = Location(match.group("file"), int(match.group("line")))

    def value(self, value, term, element_id, key, key_loc, parent):
        if isinstance(value, CommentedSeq):
            if not term.many:
                self.problem(f"'{key}' takes a single value, not a list", key_loc, element_id, key,
                             fix=f"give one value for '{key}'.", code="cardinality")
            return [self.item(v, term, element_id, key, self.loc(value, index=i), i, value)
                    for i, v in enumerate(value)]
        return self.item(value, term, element_id, key, key_loc, None, parent)

    def item(self, value, term, element_id, key, where, index, container):
        if isinstance(value, CommentedMap):
            child_id = value.get("id")
            if child_id is None:
                child_id = (f"{element_id}/{key}" + (f"/{index}" if index is not None else "")).lstrip("/")
            else:
                child_id = self.check_id(child_id, where)
            if term.kind not in ("node", "reference"):
                self.problem(f"'{key}' takes a plain value, not an object", where, element_id, key,
                             code="datatype")
            node = self.element(value, child_id, self.loc(value))
            node["id"] = child_id
            return node
        scalar = self.scalar(value, element_id, key, where)
        if term.kind == "node":
            self.problem(f"'{key}' takes " + ("a list of elements" if term.many else "a block of keys")
                         + f", not the value '{scalar}'", where, element_id, key, code="structure",
                         fix="see examples/README.md for its keys.")
            return None
        if term.kind == "enum" and isinstance(scalar, str):
            allowed = [written for written, _ in term.enum]
            if scalar not in allowed:
                self.problem(f"unknown value '{scalar}' for '{key}'", where, element_id, key,
                             fix=(did_you_mean(scalar, allowed) or "") + " Allowed: " + ", ".join(allowed) + ".",
                             code="unknown-value", value=scalar)
        elif term.kind == "catalog" and isinstance(scalar, str):
            expected = catalog_range(term.iri)
            names = self.catalog.get(expected, set()) if expected else set().union(*self.catalog.values())
            if scalar not in names:
                kind = _local(expected) if expected else "catalog entry"
                self.problem(f"unknown {kind} '{scalar}' (not in the reference catalog)", where, element_id, key,
                             fix=did_you_mean(scalar, names) or f"use one of: {', '.join(sorted(names))}.",
                             code="unknown-catalog-name", value=scalar)
        elif term.kind == "reference" and isinstance(scalar, str):
            scalar = self.check_reference(scalar, where, element_id, key)
        return scalar

    def scalar(self, value, element_id, key, where):
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            try:
                return format(Decimal(repr(value)), "f")
            except InvalidOperation:
                self.problem(f"'{value}' is not a finite number", where, element_id, key, code="datatype")
                return str(value)
        if isinstance(value, str):
            return str(value)
        self.problem(f"unsupported value of type {type(value).__name__}", where, element_id, key,
                     code="datatype")
        return str(value)

    def check_id(self, value, where) -> str:
        text = str(value)
        if not ID_PATTERN.match(text):
            self.problem(f"id '{text}' is not a valid identifier", where, text,
                         fix="use letters, digits, '-', '_', '.' and '/' (start with a letter or digit).",
                         code="invalid-id")
            text = _safe_name(text) or "invalid-id"
        if text in self.ids:
            first = self.ids[text]
            self.problem(f"id '{text}' is used twice (first at line {first.line})", where, text,
                         fix="give every element its own id.", code="duplicate-id")
        else:
            self.ids[text] = where
        return text

    def check_reference(self, text, where, element_id, key) -> str:
        if not ID_PATTERN.match(text):
            self.problem(f"reference '{text}' is not a valid identifier", where, element_id, key,
                         code="invalid-id", fix="refer to elements by their id.")
            return _safe_name(text)
        return text


def _local(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _load_tree(text: str, source: str, fmt: str, stem: str) -> Description:
    tree = _parse_tree(text, source, fmt)
    if tree is None:
        raise InputError([Problem("the description is empty", Location(source, 1), code="empty",
                                  fix="start from one of the examples/ files.")])
    if not isinstance(tree, CommentedMap):
        raise InputError([Problem("the top level must be a mapping of keys (id, nodes, pools, ...)",
                                  Location(source, 1), code="structure")])
    name = _safe_name(str(tree.get("id", stem)))
    deployment, base = base_for(name)
    reader = _TreeReader(source, base)
    document = reader.element(tree, "", Location(source, 1, 1))
    reader.element_locations[deployment] = reader.element_locations.pop(base, Location(source, 1, 1))
    for (iri, predicate), where in list(reader.key_locations.items()):
        if iri == base:
            reader.key_locations[(deployment, predicate)] = reader.key_locations.pop((iri, predicate))
    _check_top_level_ids(tree, reader)
    document.pop("type", None)
    document["@id"] = deployment
    document["@type"] = DEPLOYMENT
    triples = _jsonld_to_triples({"@context": resources.context(), **document}, source, base)
    origins = {((deployment if iri == base else iri), p): where for (iri, p), where in reader.origins.items()}
    return _finish(Description(name, source, fmt, base, deployment, triples, reader.element_locations,
                               reader.key_locations, reader.problems, origins=origins))


def _check_top_level_ids(tree: CommentedMap, reader: _TreeReader) -> None:
    """Every element of a top-level list needs an id: other elements refer to it by that id."""
    for key, value in tree.items():
        term = reader.vocab.terms.get(key) if isinstance(key, str) else None
        if term is None or term.kind != "node" or not isinstance(value, CommentedSeq):
            continue
        for index, item in enumerate(value):
            if isinstance(item, CommentedMap) and "id" not in item:
                reader.problem(f"element {index + 1} of '{key}' has no id", reader.loc(value, index=index),
                               f"{key}[{index}]", fix="add an 'id:' so other elements can refer to it.",
                               code="missing-id")
            elif not isinstance(item, CommentedMap):
                reader.problem(f"element {index + 1} of '{key}' must be a mapping with an id",
                               reader.loc(value, index=index), f"{key}[{index}]", code="structure")


# --- JSON-LD and RDF syntaxes --------------------------------------------------------------------------


def _jsonld_to_triples(document: dict, source: str, base: str) -> list[ox.Triple]:
    payload = json.dumps(document).encode("utf-8")
    try:
        return [q.triple for q in ox.parse(payload, format=ox.RdfFormat.JSON_LD, base_iri=base)]
    except SyntaxError as exc:
        # Positions would point into the document built from the YAML/JSON, not into the user's file.
        message = re.sub(r"^Parser error (at line \d+ )?(between columns \d+ and column \d+|column \d+)?:?\s*", "",
                         _clean(exc))
        raise InputError([Problem(f"the description holds a value RDF cannot represent: {message}",
                                  Location(source), code="syntax", fix="check escapes and special characters.")]) from None


def _clean(exc: SyntaxError) -> str:
    return str(exc.msg if getattr(exc, "msg", None) else exc)


def _inline_contexts(value, source: str):
    """Replace references to the shipped context by the context itself; refuse every other remote context."""
    if isinstance(value, str):
        if value == resources.CONTEXT_IRI:
            return resources.context()
        raise InputError([Problem(
            f"remote JSON-LD context '{value}' is not fetched", Location(source), code="remote-context",
            fix=f"inline the context, or use the shipped one: \"@context\": \"{resources.CONTEXT_IRI}\".")])
    if isinstance(value, list):
        return [_inline_contexts(v, source) for v in value]
    return value


def _walk_contexts(node, source: str):
    if isinstance(node, dict):
        return {k: (_inline_contexts(v, source) if k == "@context" else _walk_contexts(v, source))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_walk_contexts(v, source) for v in node]
    return node


def _load_jsonld(text: str, source: str, stem: str) -> Description:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError([Problem(f"JSON syntax error: {exc.msg}", Location(source, exc.lineno, exc.colno),
                                  code="syntax", fix="correct the JSON at that position.")]) from None
    deployment, base = base_for(stem)
    triples = _jsonld_to_triples(_walk_contexts(document, source), source, base)
    return _finish(Description(stem, source, "jsonld", base, _find_deployment(triples, deployment), triples))


def _load_rdf(data: bytes, source: str, fmt: str, stem: str) -> Description:
    deployment, base = base_for(stem)
    if fmt == "rdfxml":
        from . import rdfxml

        rdfxml.check(data, source)  # no DTD, no entities: before any XML parser expands them
    rdf_format = {"turtle": ox.RdfFormat.TURTLE, "rdfxml": ox.RdfFormat.RDF_XML}.get(fmt, ox.RdfFormat.N_TRIPLES)
    try:
        triples = [q.triple for q in ox.parse(data, format=rdf_format, base_iri=base)]
    except SyntaxError as exc:
        raise InputError([Problem(f"{fmt} syntax error: {_clean(exc)}",
                                  Location(source, exc.lineno, exc.offset), code="syntax",
                                  fix="correct the syntax at that position.")]) from None
    return _finish(Description(stem, source, fmt, base, _find_deployment(triples, deployment), triples))


def _find_deployment(triples: list[ox.Triple], default: str) -> str:
    for t in triples:
        if t.predicate.value == RDF_TYPE and t.object.value == DEPLOYMENT:
            return t.subject.value
    return default


# --- after parsing: typing by containment, checks of the vocabulary used -------------------------------


@cache
def containment_ranges() -> dict[str, str]:
    """Sub-properties of sai:declares and their ranges: the type an element gets from where it is listed."""
    subs = {t.subject.value for t in resources.ontology_triples()
            if t.predicate.value == RDFS_SUBPROPERTY and t.object.value == DECLARES}
    return {t.subject.value: t.object.value for t in resources.ontology_triples()
            if t.predicate.value == RDFS_RANGE and t.subject.value in subs and isinstance(t.object, ox.NamedNode)}


@cache
def catalog_names() -> dict[str, frozenset[str]]:
    """Catalog local names by their class."""
    by_class: dict[str, set[str]] = defaultdict(set)
    for t in resources.catalog_triples():
        if t.predicate.value == RDF_TYPE and t.subject.value.startswith(resources.CAT):
            by_class[t.object.value].add(t.subject.value[len(resources.CAT):])
    return {k: frozenset(v) for k, v in by_class.items()}


@cache
def catalog_range(predicate: str) -> str | None:
    for t in resources.ontology_triples():
        if t.subject.value == predicate and t.predicate.value == RDFS_RANGE and isinstance(t.object, ox.NamedNode):
            return t.object.value
    return None


@cache
def declared_terms() -> frozenset[str]:
    return frozenset(t.subject.value for t in resources.ontology_triples() if isinstance(t.subject, ox.NamedNode))


def _finish(description: Description) -> Description:
    ranges = containment_ranges()
    typed = {(t.subject, t.object.value) for t in description.triples if t.predicate.value == RDF_TYPE}
    extra = []
    for t in description.triples:
        cls = ranges.get(t.predicate.value)
        if cls and isinstance(t.object, (ox.NamedNode, ox.BlankNode)) and (t.object, cls) not in typed:
            typed.add((t.object, cls))
            extra.append(ox.Triple(t.object, ox.NamedNode(RDF_TYPE), ox.NamedNode(cls)))
    description.triples.extend(extra)
    _check_terms(description)
    expand(description)
    return description


def _check_terms(description: Description) -> None:
    """Flag sai: and cat: IRIs the ontology and catalog do not define (typos in Turtle/JSON-LD, or types)."""
    known = declared_terms()
    catalog = {resources.CAT + n for names in catalog_names().values() for n in names}
    already = {p.value for p in description.problems if p.value}
    vocab = vocabulary()
    seen: set[str] = set()
    for t in description.triples:
        for position, term in (("predicate", t.predicate), ("object", t.object)):
            if not isinstance(term, ox.NamedNode) or term.value in seen:
                continue
            iri = term.value
            if iri.startswith(resources.SAI) and iri not in known:
                name = iri[len(resources.SAI):]
                if name in already:
                    continue
                seen.add(iri)
                where = description.location_of(t.subject.value, t.predicate.value)
                if position == "predicate":
                    hint = did_you_mean(name, [k for k in vocab.terms]
                                        + [d[len(resources.SAI):] for d in known if d.startswith(resources.SAI)])
                    message = f"unknown property '{name}' (not defined by the SORT-AI ontology)"
                else:
                    hint = did_you_mean(name, [d[len(resources.SAI):] for d in known if d.startswith(resources.SAI)])
                    message = f"unknown term '{name}' (not defined by the SORT-AI ontology)"
                description.problems.append(Problem(
                    message, where, element=description.element_name(t.subject.value),
                    key=vocab.key_for(t.predicate.value), fix=hint or "check the spelling against the ontology.",
                    code="unknown-term", value=name))
            elif iri.startswith(resources.CAT) and iri not in catalog and position == "object":
                name = iri[len(resources.CAT):]
                if name in already:
                    continue
                seen.add(iri)
                description.problems.append(Problem(
                    f"unknown catalog entry '{name}'",
                    description.location_of(t.subject.value, t.predicate.value),
                    element=description.element_name(t.subject.value), key=vocab.key_for(t.predicate.value),
                    fix=did_you_mean(name, [c[len(resources.CAT):] for c in catalog]) or "see the catalog.",
                    code="unknown-catalog-name", value=name))
