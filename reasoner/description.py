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
import logging
import math
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

import pyoxigraph as ox
import rdflib
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import ScalarNode, SequenceNode

from . import resources
from .collector import without_cyclic_gc
from .expansion import expand
from .problems import InputError, Location, Problem
from .vocabulary import RDF_TYPE, XSD, Suggester, vocabulary

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

# Limits on what a description may hold (examples/README.md, "Limits"): past them the input is refused with
# a problem, before it can cost minutes or gigabytes.
MAX_BYTES = 256 * 1024 * 1024  # Turtle, N-Triples, JSON-LD
MAX_TREE_BYTES = 8 * 1024 * 1024  # YAML and JSON: ruamel.yaml reads them at about 0.2-1 MB/s
MAX_DEPTH = 32  # nesting of mappings and lists; the format needs 5
MAX_LIST_ITEMS = 100_000
MAX_ALIAS_NODES = 10_000  # what YAML aliases may add to the document by repeating anchored nodes
MAX_STRING_CHARS = 100_000
MAX_NUMBER_DIGITS = 100
NUMERIC = {XSD + t for t in ("integer", "decimal", "double", "float", "int", "long", "short", "byte",
                              "nonNegativeInteger", "positiveInteger", "nonPositiveInteger", "negativeInteger",
                              "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte")}

LEXICAL_HINTS = {XSD + "integer": "a whole number", XSD + "decimal": "a decimal number such as 12.5",
                 XSD + "double": "a number such as 12.5 or 1.2E3", XSD + "boolean": "true or false",
                 XSD + "dateTime": "a date and time such as 2025-01-31T12:00:00Z", XSD + "date": "a date such as 2025-01-31"}


def _too_deep() -> tuple[str, str, str]:
    """(message, code, fix) of a limit refusal; the same words wherever the limit is met."""
    return (f"the document is nested more than {MAX_DEPTH} levels deep", "too-deep",
            "flatten it: the description format needs at most five levels.")


def _too_many_digits(digits: int) -> tuple[str, str, str]:
    return (f"a number of {digits:,} digits; at most {MAX_NUMBER_DIGITS} are allowed", "too-long",
            "write the quantity in the unit its key names.")


def _too_long(characters: int) -> tuple[str, str, str]:
    return (f"a value of {characters:,} characters; at most {MAX_STRING_CHARS:,} are allowed", "too-long",
            "shorten it.")


def _too_many_items(items: int) -> tuple[str, str, str]:
    return (f"a list of {items:,} items; at most {MAX_LIST_ITEMS:,} are allowed", "too-long",
            "describe identical elements once, with 'count'.")


def _refusal(kind: tuple[str, str, str], location: Location, **where) -> Problem:
    message, code, fix = kind
    return Problem(message, location, code=code, fix=fix, **where)


class _QuietIllTypedLiterals(logging.Filter):
    """rdflib logs a traceback for every ill-typed literal it meets; the loader reports them as problems."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to convert Literal lexical form")


logging.getLogger("rdflib.term").addFilter(_QuietIllTypedLiterals())
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
    triples: list[ox.Triple]  # read-only term ids once inference has loaded them (engine.load_store)
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


def _check_size(size: int, source: str, fmt: str) -> None:
    limit = MAX_TREE_BYTES if fmt in ("yaml", "json") else MAX_BYTES
    if size > limit:
        raise InputError([Problem(
            f"the file is {size:,} bytes; a {fmt} description may have at most {limit:,}", Location(source),
            code="too-large", fix="describe identical nodes once with 'count:', or write the fleet as Turtle or "
                                  "N-Triples (up to 256 MiB)." if fmt in ("yaml", "json") else None)])


def load_file(path: str | Path, fmt: str | None = None) -> Description:
    path = Path(path)
    return load_bytes(_read(path, detect_format(str(path), fmt)), str(path), fmt)


def _read(path: Path, fmt: str) -> bytes:
    """A file's bytes, refused with a problem that names it if it is missing, too large or unreadable."""
    try:
        _check_size(path.stat().st_size, str(path), fmt)
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError([Problem("no such file", Location(str(path)), code="not-found",
                                  fix="check the path.")]) from None
    except IsADirectoryError:
        raise InputError([Problem("is a directory, not a description file", Location(str(path)),
                                  code="not-found", fix="name a .yaml, .json, .jsonld or .ttl file.")]) from None
    except OSError as exc:
        raise InputError([Problem(f"cannot read: {exc.strerror}", Location(str(path)), code="unreadable")]) from None


def load_bytes(data: bytes, source: str, fmt: str | None = None, name: str | None = None) -> Description:
    fmt = detect_format(source, fmt)
    _check_size(len(data), source, fmt)
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


class _Refused(MarkedYAMLError):
    """A YAML construct the format refuses, with where it is and what to do instead."""

    def __init__(self, kind: tuple[str, str, str], mark):
        super().__init__(problem=kind[0], problem_mark=mark)
        self.kind = kind


class _BoundedComposer(Composer):
    """ruamel.yaml's composer, bounded: nesting depth, list length, and what aliases expand to.

    ruamel.yaml shares an aliased node rather than copying it, but everything after it (the reader, the
    JSON-LD document) walks the expanded tree: nine anchors of nine aliases each are 9⁹ nodes in 600 bytes.
    So each alias is charged the expanded size of the node it repeats, computed once per node, and the
    document is refused as soon as the charges pass MAX_ALIAS_NODES — before anything is expanded.
    """

    def __init__(self, loader=None):
        super().__init__(loader=loader)
        self.warn_double_anchors = False  # a re-used anchor name is legal YAML: the later one wins
        self.nesting = 0
        self.alias_nodes = 0
        self.measured: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, expanded depth)

    def compose_node(self, parent, index):
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            self.alias_mark = event.start_mark
            return super().compose_node(parent, index)
        if self.nesting >= MAX_DEPTH:
            raise _Refused(_too_deep(), event.start_mark)
        self.nesting += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.nesting -= 1
        if isinstance(node, SequenceNode) and len(node.value) > MAX_LIST_ITEMS:
            raise _Refused(_too_many_items(len(node.value)), node.start_mark)
        return node

    def return_alias(self, node):
        if node.end_mark is None:  # the alias sits inside the node it names
            raise _Refused(("a recursive alias (it repeats a node that contains it)", "yaml-alias",
                            "remove the alias, or point it at a node outside its own anchor."), self.alias_mark)
        size, depth = self._measure(node)
        self.alias_nodes += size
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise _Refused((f"YAML aliases expand the document by more than {MAX_ALIAS_NODES:,} nodes", "yaml-alias",
                            "write the repeated parts out, or repeat them less."), self.alias_mark)
        if self.nesting + depth > MAX_DEPTH:
            raise _Refused(_too_deep(), self.alias_mark)
        return node

    def _measure(self, node) -> tuple[int, int]:
        """Size and depth of `node` with every alias in it expanded (the recursion is bounded by MAX_DEPTH)."""
        known = self.measured.get(id(node))
        if known is None:
            if isinstance(node, ScalarNode):
                children = []
            elif isinstance(node, SequenceNode):
                children = node.value
            else:
                children = [child for pair in node.value for child in pair]
            parts = [self._measure(child) for child in children]
            known = (1 + sum(size for size, _ in parts), 1 + max((depth for _, depth in parts), default=0))
            self.measured[id(node)] = known  # nodes live as long as the composer, so ids stay unique
        return known


class _StrictConstructor(RoundTripConstructor):
    """Plain data only: refuses tags that would put Python objects in the graph, keeps dates as written."""

    def construct_refused(self, node):
        raise _Refused((f"the YAML tag '{_tag_name(node)}' is not supported in a description", "yaml-tag",
                        "remove the tag: write the value as a plain string, number, list or mapping."), node.start_mark)

    def construct_non_recursive_object(self, node, tag=None):
        try:
            return super().construct_non_recursive_object(node, tag)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):  # ruamel.yaml on e.g. `!!int abc`
            raise _Refused((f"the value does not fit its tag '{_tag_name(node)}'", "yaml-tag",
                            "remove the tag, or write a value of that type."), node.start_mark) from None

    def construct_yaml_timestamp(self, node, values=None):
        return self.construct_scalar(node)  # `2025-01-31` is a string to the format, not a Python date

    def construct_yaml_int(self, node):
        if isinstance(node, ScalarNode) and sum(c.isdigit() for c in node.value) > MAX_NUMBER_DIGITS:
            return _LongNumber(node.value)  # Python refuses int() past 4,300 digits; the reader reports it
        return super().construct_yaml_int(node)


for _tag, _method in (("binary", "construct_refused"), ("set", "construct_refused"), ("omap", "construct_refused"),
                     ("pairs", "construct_refused"), ("timestamp", "construct_yaml_timestamp"),
                     ("int", "construct_yaml_int")):
    _StrictConstructor.add_constructor(f"tag:yaml.org,2002:{_tag}", getattr(_StrictConstructor, _method))
_StrictConstructor.add_constructor(None, _StrictConstructor.construct_refused)  # any other tag, e.g. `!foo`


def _tag_name(node) -> str:
    return str(node.tag).replace("tag:yaml.org,2002:", "!!")


class _LongNumber(str):
    """An integer with more than MAX_NUMBER_DIGITS digits, as written."""


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    yaml.Composer = _BoundedComposer
    yaml.Constructor = _StrictConstructor
    return yaml


def _line_of(text: str, needle: str) -> int | None:
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else None


def _read_json(text: str, source: str, keep_numbers: bool = False):
    """`json.loads`, refusing what JSON does not allow (NaN, Infinity) and what Python cannot hold.

    With `keep_numbers` integers stay strings (a syntax check only: the YAML reader reports long ones).
    """

    def refuse(token: str, kind: tuple[str, str, str]):
        raise InputError([_refusal(kind, Location(source, _line_of(text, token)))])

    def constant(name: str):
        refuse(name, (f"'{name}' is not a JSON number", "not-finite", "write a finite number."))

    def integer(digits: str):
        if keep_numbers:
            return digits
        if len(digits.lstrip("-")) > MAX_NUMBER_DIGITS:
            refuse(digits, _too_many_digits(len(digits.lstrip("-"))))
        return int(digits)

    def real(written: str):
        value = float(written)
        if not math.isfinite(value):
            refuse(written, (f"'{_shorten(written)}' is too large to be a number", "not-finite",
                             "write the quantity in the unit its key names."))
        return value

    try:
        return json.loads(text, parse_constant=constant, parse_int=integer, parse_float=str if keep_numbers else real)
    except json.JSONDecodeError as exc:
        raise InputError([Problem(f"JSON syntax error: {exc.msg}", Location(source, exc.lineno, exc.colno),
                                  code="syntax", fix="correct the JSON at that position.")]) from None
    except RecursionError:
        raise InputError([_refusal(_too_deep(), Location(source, _deep_line(text)))]) from None


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _deep_line(text: str) -> int | None:
    """The line where a JSON document first nests deeper than MAX_DEPTH (strings skipped)."""
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(token.group(), 0)
        if depth > MAX_DEPTH:
            return text.count("\n", 0, token.start()) + 1
    return None


def _parse_tree(text: str, source: str, fmt: str):
    if fmt == "json":
        _read_json(text, source, keep_numbers=True)
    elif (long_line := next((i for i, line in enumerate(text.splitlines(), 1) if len(line) > MAX_STRING_CHARS),
                            None)):  # refused before ruamel.yaml spends seconds scanning it
        raise InputError([Problem(f"line {long_line} is longer than {MAX_STRING_CHARS:,} characters",
                                  Location(source, long_line), code="too-long",
                                  fix=f"keep every value under {MAX_STRING_CHARS:,} characters.")])
    try:
        return _yaml().load(io.StringIO(text))
    except _Refused as exc:
        mark = exc.problem_mark
        raise InputError([_refusal(exc.kind, Location(source, mark.line + 1, mark.column + 1))]) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = (exc.problem or exc.context or "syntax error").strip()
        raise InputError([Problem(f"YAML syntax error: {problem}", Location(source, line, column), code="syntax",
                                  fix="correct the YAML at that position (indentation, colons, quotes).")]) from None
    except YAMLError as exc:
        raise InputError([Problem(f"YAML syntax error: {exc}", Location(source), code="syntax")]) from None


def _shorten(text: str, limit: int = 80) -> str:
    """A user's value as quoted in a message: long ones cut in the middle."""
    return text if len(text) <= limit else f"{text[:limit // 2]}…{text[-limit // 4:]} ({len(text):,} characters)"


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
        self.keys = [k for k in self.vocab.terms if k not in self.vocab.prefixes]
        self.did_you_mean = Suggester()

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
                self.problem(f"key {_shorten(str(key))!r} is not a string", key_loc, element_id,
                             code="unknown-key")
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
                hint = self.did_you_mean(key, self.keys)
                key = _shorten(key)
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
                         + f", not the value '{_shorten(str(scalar))}'", where, element_id, key, code="structure",
                         fix="see examples/README.md for its keys.")
            return None
        if term.kind == "enum" and isinstance(scalar, str):
            allowed = [written for written, _ in term.enum]
            if scalar not in allowed:
                self.problem(f"unknown value '{_shorten(scalar)}' for '{key}'", where, element_id, key,
                             fix=(self.did_you_mean(scalar, allowed) or "") + " Allowed: " + ", ".join(allowed) + ".",
                             code="unknown-value", value=scalar)
        elif term.kind == "catalog" and isinstance(scalar, str):
            expected = catalog_range(term.iri)
            names = self.catalog.get(expected, set()) if expected else set().union(*self.catalog.values())
            if scalar not in names:
                kind = _local(expected) if expected else "catalog entry"
                self.problem(f"unknown {kind} '{_shorten(scalar)}' (not in the reference catalog)", where,
                             element_id, key,
                             fix=self.did_you_mean(scalar, names) or f"use one of: {', '.join(sorted(names))}.",
                             code="unknown-catalog-name", value=scalar)
        elif term.kind == "reference" and isinstance(scalar, str):
            scalar = self.check_reference(scalar, where, element_id, key)
        return scalar

    def scalar(self, value, element_id, key, where):
        """The value as JSON-LD will see it; None (and a problem) for one the format cannot hold."""
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, _LongNumber):
            self.problems.append(_refusal(_too_many_digits(sum(c.isdigit() for c in value)), where,
                                          element=element_id, key=key))
            return None
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                self.problem(f"not a finite number (it reads as {value})", where, element_id, key, code="not-finite",
                             fix="write a finite number, or leave the key out if the value is unknown.")
                return None
            return format(Decimal(repr(value)), "f")
        if isinstance(value, str):
            if len(value) > MAX_STRING_CHARS:
                self.problems.append(_refusal(_too_long(len(value)), where, element=element_id, key=key))
                return None
            return str(value)
        self.problem(f"unsupported value of type {type(value).__name__}", where, element_id, key,
                     code="datatype", fix="write a string, a number, true/false, a list or a mapping.")
        return None

    def check_id(self, value, where) -> str:
        text = str(value)
        if not ID_PATTERN.match(text):
            self.problem(f"id '{_shorten(text)}' is not a valid identifier", where, _shorten(text),
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
            self.problem(f"reference '{_shorten(text)}' is not a valid identifier", where, element_id, key,
                         code="invalid-id", fix="refer to elements by their id.")
            return _safe_name(text)
        return text


def _local(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _load_tree(text: str, source: str, fmt: str, stem: str) -> Description:
    tree = _parse_tree(text, source, fmt)
    if tree is None:  # nothing but comments: invalid (no nodes, no pools), like an empty Turtle file
        deployment, base = base_for(stem)
        return _finish(Description(stem, source, fmt, base, deployment, []))
    if not isinstance(tree, CommentedMap):
        raise InputError([Problem("the top level must be a mapping of keys (id, nodes, pools, ...)",
                                  Location(source, 1), code="structure")])
    name, bad_id, written = stem, None, tree.get("id")
    if isinstance(written, (str, int)) and not isinstance(written, bool) and ID_PATTERN.match(str(written)):
        name = _safe_name(str(written))
    elif "id" in tree:
        shown = "no value" if written is None else f"the value '{_shorten(str(written))}'"
        bad_id = Problem(f"the description's id has {shown}; it must be an identifier",
                         Location(source, *(p + 1 for p in tree.lc.key("id"))), element=stem, key="id",
                         code="invalid-id", fix="write e.g. 'id: my-fleet' (letters, digits, '-', '_', '.').")
    deployment, base = base_for(name)
    reader = _TreeReader(source, base)
    if bad_id:
        reader.problems.append(bad_id)
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


def _check_json_limits(document, text: str, source: str) -> None:
    """Nesting, list lengths and string lengths of a JSON-LD document (iteratively: it may be deep)."""
    stack = [(document, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError([_refusal(_too_deep(), Location(source, _deep_line(text)), element=path or None)])
        if isinstance(node, list):
            if len(node) > MAX_LIST_ITEMS:
                raise InputError([_refusal(_too_many_items(len(node)), Location(source), element=path or None)])
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(node))
        elif isinstance(node, dict):
            stack.extend((key, path, depth) for key in node)
            stack.extend((value, f"{path}.{key}" if path else key, depth + 1) for key, value in node.items())
        elif isinstance(node, str) and len(node) > MAX_STRING_CHARS:
            raise InputError([_refusal(_too_long(len(node)), Location(source, _line_of(text, node[:200])),
                                       element=path or None)])


@without_cyclic_gc
def _load_jsonld(text: str, source: str, stem: str) -> Description:
    document = _read_json(text, source)
    _check_json_limits(document, text, source)
    deployment, base = base_for(stem)
    triples = _jsonld_to_triples(_walk_contexts(document, source), source, base)
    return _finish(_named_by_deployment(Description(stem, source, "jsonld", base, _find_deployment(triples, deployment),
                                                    triples)))


@without_cyclic_gc
def _load_rdf(data: bytes, source: str, fmt: str, stem: str) -> Description:
    deployment, base = base_for(stem)
    triples = _parse_rdf(data, source, fmt, base)
    return _finish(_named_by_deployment(Description(stem, source, fmt, base, _find_deployment(triples, deployment),
                                                    triples)))


def _parse_rdf(data: bytes, source: str, fmt: str, base: str) -> list[ox.Triple]:
    if fmt == "rdfxml":
        from . import rdfxml

        rdfxml.check(data, source)  # no DTD, no entities: before any XML parser expands them
    rdf_format = {"turtle": ox.RdfFormat.TURTLE, "rdfxml": ox.RdfFormat.RDF_XML}.get(fmt, ox.RdfFormat.N_TRIPLES)
    try:
        return [q.triple for q in ox.parse(data, format=rdf_format, base_iri=base)]
    except SyntaxError as exc:
        raise InputError([Problem(f"{fmt} syntax error: {_clean(exc)}",
                                  Location(source, exc.lineno, exc.offset), code="syntax",
                                  fix="correct the syntax at that position.")]) from None


@without_cyclic_gc
def load_graph(path: str | Path) -> Description:
    """Any RDF file (Turtle, N-Triples, RDF/XML) as it is, for a foreign rule file: unlike a description, no
    element is typed by where it is listed and nothing is filled in from the catalog."""
    path = Path(path)
    fmt = detect_format(str(path))
    if fmt not in ("turtle", "ntriples", "rdfxml"):
        raise InputError([Problem(f"'{path}' is not an RDF file", Location(str(path)), code="unknown-format",
                                  fix="give Turtle (.ttl), N-Triples (.nt) or RDF/XML (.rdf, .owl).")])
    data = _read(path, fmt)
    stem = _safe_name(path.stem or "data")
    deployment, base = base_for(stem)
    return Description(stem, str(path), fmt, base, deployment, _parse_rdf(data, str(path), fmt, base))


def _named_by_deployment(description: Description) -> Description:
    """A graph that declares its deployment under the data namespace names its elements relative to it, whatever
    the file is called (a changed copy written as `after.ttl` keeps the element ids of the original)."""
    deployment = description.deployment
    if deployment.startswith(resources.DATA) and deployment != description.base[:-1]:
        name = deployment[len(resources.DATA):]
        nested = deployment + "/"
        if name and "/" not in name and any(t.subject.value.startswith(nested) for t in description.triples):
            description.name, description.base = name, nested  # its elements live under the deployment
    return description


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


@without_cyclic_gc
def _finish(description: Description) -> Description:
    ranges = containment_ranges()
    # One pass over the triples (each attribute of a pyoxigraph term is a new Python object: passes add up):
    # typing by containment, the distinct literals, and the sai:/cat: IRIs where each is first met.
    typed = set()
    contained = []  # (object, class) in the order met
    literals = set()
    terms = _TermsMet()
    literal, resource, named = ox.Literal, (ox.NamedNode, ox.BlankNode), ox.NamedNode
    predicates, objects, watched, met = terms.predicates, terms.objects, terms.WATCHED, terms.met
    for t in description.triples:
        subject, predicate, obj = t
        p = predicate.value
        if p not in predicates:
            predicates.add(p)
            if p.startswith(watched):
                met.append((t, "predicate", p))
        if p == RDF_TYPE:
            typed.add((subject, obj.value))
        if isinstance(obj, literal):
            literals.add(obj)
            continue
        if isinstance(obj, named):
            o = obj.value
            if o not in objects:
                objects.add(o)
                if o.startswith(watched):
                    met.append((t, "object", o))
        cls = ranges.get(p)
        if cls and isinstance(obj, resource):
            contained.append((obj, cls))
    extra = []
    rdf_type = ox.NamedNode(RDF_TYPE)
    for obj, cls in contained:
        if (obj, cls) not in typed:
            typed.add((obj, cls))
            extra.append(ox.Triple(obj, rdf_type, ox.NamedNode(cls)))
    description.triples.extend(extra)
    for t in extra:
        terms.add(t)
    _check_not_empty(description, typed)
    _check_literals(description, literals)
    _check_terms(description, terms)
    expand(description)
    return description


class _TermsMet:
    """The sai: and cat: IRIs of a description, each where it is first met as a predicate and as an object,
    in the order of the triples: all that the check of terms needs (an IRI's verdict in a position cannot
    change during the check, so only its first occurrence there matters)."""

    WATCHED = (resources.SAI, resources.CAT)

    def __init__(self):
        self.predicates: set[str] = set()
        self.objects: set[str] = set()
        self.met: list[tuple[ox.Triple, str, str]] = []  # (triple, position, IRI)

    def add(self, t: ox.Triple) -> None:
        p = t.predicate.value
        if p not in self.predicates:
            self.predicates.add(p)
            if p.startswith(self.WATCHED):
                self.met.append((t, "predicate", p))
        if isinstance(t.object, ox.NamedNode):
            o = t.object.value
            if o not in self.objects:
                self.objects.add(o)
                if o.startswith(self.WATCHED):
                    self.met.append((t, "object", o))


def _check_not_empty(description: Description, typed: set) -> None:
    """A description that declares no deployment has nothing to validate: it is invalid, not healthy."""
    if not description.triples:
        description.problems.append(Problem(
            "the description is empty: it declares no deployment, no nodes and no pools",
            Location(description.source, 1), code="empty",
            fix="start from one of the examples/ files (examples/README.md §4 shows each syntax)."))
    elif not any(cls == DEPLOYMENT for _, cls in typed):
        description.problems.append(Problem(
            "nothing in the description is a sai:Deployment, so it has no nodes and no pools to check",
            Location(description.source), code="no-deployment",
            fix=f"declare the fleet: <{description.deployment}> a sai:Deployment ; sai:hasNode … ; "
                "sai:hasPool … (examples/README.md §4)."))


def _check_literals(description: Description, literals: set[ox.Literal]) -> None:
    """Literals RDF syntaxes let through but the format cannot hold: ill-typed, not finite, too long.

    Each distinct literal is judged once (a 1M-triple fleet has a few dozen); only a bad one costs a second
    pass, to find the triples that hold it.
    """
    verdicts = {literal: _literal_problem(literal.value, literal.datatype.value) for literal in literals}
    if not any(verdicts.values()):
        return
    for t in description.triples:
        if verdicts.get(t.object) is not None:
            where = description.location_of(t.subject.value, t.predicate.value) or Location(description.source)
            description.problems.append(_refusal(verdicts[t.object], where, element=description.element_name(
                t.subject.value), key=vocabulary().key_for(t.predicate.value)))


def _literal_problem(value: str, datatype: str) -> tuple[str, str, str] | None:
    """(message, code, fix) when a literal is unusable, else None."""
    if len(value) > MAX_STRING_CHARS:
        return _too_long(len(value))
    if not datatype.startswith(XSD) or datatype == XSD + "string":
        return None
    name = "xsd:" + datatype[len(XSD):]
    digits = sum(c.isdigit() for c in value) if datatype in NUMERIC else 0
    if digits > MAX_NUMBER_DIGITS:
        return _too_many_digits(digits)
    literal = rdflib_literal(value, datatype)
    if literal.ill_typed:
        return (f"'{_shorten(value)}' is not a valid {name}", "ill-typed-literal",
                f"write {LEXICAL_HINTS.get(datatype, 'a value of that type')} "
                f"(https://www.w3.org/TR/xmlschema11-2/#{datatype[len(XSD):]}).")
    number = literal.value
    if (isinstance(number, Decimal) and not number.is_finite()) or (isinstance(number, float)
                                                                    and not math.isfinite(number)):
        return f"'{value}' is not a finite number", "not-finite", "write a finite number."
    return None


def rdflib_literal(value: str, datatype: str | None = None, language: str | None = None) -> rdflib.Literal:
    """An rdflib literal, without rdflib's warnings about its lexical form: the loader reports those."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rdflib.Literal(value, datatype=datatype, lang=language)


@cache
def _term_names() -> tuple[list[str], list[str], list[str]]:
    """What a misspelt term is compared with: (property names, sai: names, catalog names).

    Sorted, so that of two names differing in case only (`ReplicaCount`, `replicaCount`) the same one is
    always suggested: the lower-case one (a property, by the ontology's convention) for a predicate.
    """
    sai = sorted(d[len(resources.SAI):] for d in declared_terms() if d.startswith(resources.SAI))
    catalog = sorted({n for names in catalog_names().values() for n in names})
    properties = list(vocabulary().terms) + sorted(sai, key=lambda name: (name[:1].isupper(), name))
    return properties, sai, catalog


def _check_terms(description: Description, terms: _TermsMet) -> None:
    """Flag sai: and cat: IRIs the ontology and catalog do not define (typos in Turtle/JSON-LD, or types)."""
    known = declared_terms()
    catalog = {resources.CAT + n for names in catalog_names().values() for n in names}
    already = {p.value for p in description.problems if p.value}
    vocab = vocabulary()
    property_names, sai_names, catalog_entries = _term_names()
    did_you_mean = Suggester()
    seen: set[str] = set()

    def judge(t: ox.Triple, position: str, iri: str) -> None:
        if iri.startswith(resources.SAI) and iri not in known:
            name = iri[len(resources.SAI):]
            if name in already:
                return
            seen.add(iri)
            where = description.location_of(t.subject.value, t.predicate.value) or Location(description.source)
            if position == "predicate":
                hint = did_you_mean(name, property_names)
                message = f"unknown property '{_shorten(name)}' (not defined by the SORT-AI ontology)"
            else:
                hint = did_you_mean(name, sai_names)
                message = f"unknown term '{_shorten(name)}' (not defined by the SORT-AI ontology)"
            description.problems.append(Problem(
                message, where, element=description.element_name(t.subject.value),
                key=vocab.key_for(t.predicate.value), fix=hint or "check the spelling against the ontology.",
                code="unknown-term", value=name))
        elif iri.startswith(resources.CAT) and iri not in catalog and position == "object":
            name = iri[len(resources.CAT):]
            if name in already:
                return
            seen.add(iri)
            description.problems.append(Problem(
                f"unknown catalog entry '{_shorten(name)}'",
                description.location_of(t.subject.value, t.predicate.value) or Location(description.source),
                element=description.element_name(t.subject.value), key=vocab.key_for(t.predicate.value),
                fix=did_you_mean(name, catalog_entries) or "see the catalog.",
                code="unknown-catalog-name", value=name))

    for t, position, iri in terms.met:
        if iri not in seen:
            judge(t, position, iri)
