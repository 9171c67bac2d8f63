"""What the worker processes do: evaluate a SPARQL query on a store snapshot, process an upload, explain.

Every function here runs in a child process (see workers.py) and returns plain picklable data. User errors
are raised as :class:`~sortai.api.workers.JobRefused`; anything else is a bug and is logged by the parent.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import OrderedDict

import pyoxigraph as ox

from .workers import JobRefused

# --- SPARQL ---------------------------------------------------------------------------------------------

SYSTEM_PREFIX = "urn:sortai:system:"
RESULT_FORMATS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "ttl": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
    "rdfxml": ox.RdfFormat.RDF_XML,
}

_snapshot: tuple[str, ox.Store, list[ox.NamedNode]] | None = None


class _TooLarge(Exception):
    pass


class _LimitedBuffer(io.RawIOBase):
    """A write-only buffer that stops the serializer once ``limit`` bytes are exceeded."""

    def __init__(self, limit: int):
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise _TooLarge()
        self.parts.append(bytes(data))
        return len(data)

    def value(self) -> bytes:
        return b"".join(self.parts)


def _open_snapshot(path: str) -> tuple[ox.Store, list[ox.NamedNode]]:
    global _snapshot
    if _snapshot is None or _snapshot[0] != path:
        _snapshot = None  # drop the old handle first
        store = ox.Store.read_only(path)
        visible = sorted((g for g in store.named_graphs()
                          if isinstance(g, ox.NamedNode) and not g.value.startswith(SYSTEM_PREFIX)),
                         key=lambda g: g.value)
        _snapshot = (path, store, visible)
    return _snapshot[1], _snapshot[2]


def _is_iri(text: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^<>\"{}|^`\\\x00-\x20]*$", text))


def _public(iris) -> list[ox.NamedNode]:
    """The graphs a query may see: never a system graph, whichever dataset clause names it."""
    return [ox.NamedNode(i) for i in iris if not i.startswith(SYSTEM_PREFIX)]


def sparql(snapshot: str, max_bytes: int, accept: str | None, format: str | None = None,
           query: str | None = None, form: bytes | None = None, default_graph_uris: tuple = (),
           named_graph_uris: tuple = ()) -> dict:
    """Everything a SPARQL request needs past reading its bytes: the form decoded, the query parsed and checked
    (read-only, no SERVICE), the format negotiated, the dataset fixed, the query evaluated and serialized.

    The default graph is the union of all public graphs (descriptions asserted + inferred, ontology, catalog);
    `default-graph-uri` / `named-graph-uri` narrow it as the SPARQL 1.1 Protocol says, else the query's own
    FROM / FROM NAMED do. The dataset is always passed to Oxigraph explicitly, with system graphs removed.
    """
    from urllib.parse import parse_qs

    from sortai.reasoner.sparql import QueryRefused, inspect

    from .negotiation import GRAPH_MEDIA, RESULT_MEDIA, pick

    default_graph_uris, named_graph_uris = list(default_graph_uris), list(named_graph_uris)
    if form is not None:
        try:
            fields = parse_qs(form.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            raise JobRefused("bad-request", "the form is not UTF-8 URL-encoded") from None
        if fields.get("update"):
            raise JobRefused("update-refused", "SPARQL Update is refused: this endpoint is read-only")
        query = fields.get("query", [None])[-1]
        default_graph_uris += fields.get("default-graph-uri", [])
        named_graph_uris += fields.get("named-graph-uri", [])
        format = format or fields.get("format", [None])[-1]
    if not query or not query.strip():
        raise JobRefused("missing-query", "give a SPARQL query: ?query=… (GET), a form field query=… or an "
                         "application/sparql-query body (POST)")
    try:
        info = inspect(query)
    except QueryRefused as exc:
        raise JobRefused(exc.problem.code, exc.problem.render().removeprefix("violation: ")) from None
    offers = RESULT_MEDIA if info.form in ("SELECT", "ASK") else GRAPH_MEDIA
    chosen = pick(accept, format, offers)
    if chosen is None:
        raise JobRefused("not-acceptable", f"{info.form} results are available as "
                         + ", ".join(m[0] for m in offers.values()))
    fmt, media = chosen
    for uri in default_graph_uris + named_graph_uris:
        if not _is_iri(uri):
            raise JobRefused("bad-graph-uri", f"'{uri}' is not an absolute IRI")
    store, visible = _open_snapshot(snapshot)
    if default_graph_uris or named_graph_uris:
        default, named = _public(default_graph_uris), _public(named_graph_uris)
    elif info.has_dataset:
        default, named = _public(info.default_graphs), _public(info.named_graphs)
    else:
        default, named = visible, visible
    try:
        results = store.query(query, default_graph=default, named_graphs=named)
        out = _LimitedBuffer(max_bytes)
        if info.form in ("SELECT", "ASK"):
            results.serialize(out, format=RESULT_FORMATS[fmt])
        else:
            ox.serialize(results, out, format=GRAPH_FORMATS[fmt], prefixes=PREFIXES if fmt == "ttl" else None)
    except _TooLarge:
        raise JobRefused("result-too-large",
                         f"the result is larger than the limit of {max_bytes} bytes; add LIMIT or narrow the query"
                         ) from None
    except SyntaxError as exc:
        raise JobRefused("bad-query", f"not a SPARQL 1.1 query: {exc}") from None
    except (ValueError, OSError, TypeError) as exc:
        raise JobRefused("query-failed", f"the query could not be evaluated: {exc}") from None
    except RuntimeError as exc:  # Oxigraph's evaluation errors, e.g. "The custom function <…> is not supported"
        raise JobRefused("query-failed", f"the query could not be evaluated: {exc}; use the SPARQL 1.1 built-in "
                         "functions and XSD casts") from None
    body = out.value()
    return {"form": info.form, "format": fmt, "media": media, "body": body, "etag": _etag(body)}


def graph(snapshot: str, iri: str, fmt: str, max_bytes: int) -> dict:
    """One named graph of a snapshot, serialized (for GET /descriptions/{id}/graph)."""
    store, _ = _open_snapshot(snapshot)
    out = _LimitedBuffer(max_bytes)
    try:
        triples = (q.triple for q in store.quads_for_pattern(None, None, None, ox.NamedNode(iri)))
        ox.serialize(triples, out, format=GRAPH_FORMATS[fmt], prefixes=PREFIXES if fmt in ("ttl", "rdfxml") else None)
    except _TooLarge:
        raise JobRefused("result-too-large", f"the graph is larger than the limit of {max_bytes} bytes; query "
                         "parts of it with SPARQL") from None
    body = out.value()
    return {"body": body, "etag": _etag(body)}


def _etag(body: bytes) -> str:
    return 'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


PREFIXES = {
    "sai": "https://w3id.org/sortai/ontology#",
    "cat": "https://w3id.org/sortai/catalog/",
    "aid": "https://w3id.org/sortai/domain/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "prov": "http://www.w3.org/ns/prov#",
}


# --- uploads --------------------------------------------------------------------------------------------


def _load(data: bytes, source: str, fmt: str, name: str | None):
    from sortai.reasoner.description import load_bytes
    from sortai.reasoner.problems import InputError

    try:
        return load_bytes(data, source, fmt, name)
    except InputError as exc:
        problems = [p.to_json() for p in exc.problems]
        raise JobRefused(problems[0].get("code", "invalid") if problems else "invalid",
                         "; ".join(p.render() for p in exc.problems), problems) from None


_reasonings: OrderedDict = OrderedDict()


def _reason(key, description):
    from sortai.reasoner.engine import infer

    if key is not None and key in _reasonings:
        _reasonings.move_to_end(key)
        return _reasonings[key]
    reasoning = infer(description)
    if key is not None:
        _reasonings[key] = reasoning
        while len(_reasonings) > 4:
            _reasonings.popitem(last=False)
    return reasoning


def process(data: bytes, source: str, fmt: str, name: str | None, asserted: str | None = None,
            inferred: str | None = None, key=None) -> dict:
    """Load, validate and (if valid) reason over one description.

    Returns the validation report, the diagnoses and — when graph names are given — the asserted and inferred
    triples as N-Quads in those graphs (one document, so blank nodes stay shared).
    """
    from sortai.reasoner import report as reports
    from sortai.reasoner.diagnoses import diagnoses
    from sortai.reasoner.validation import validate

    description = _load(data, source, fmt, name)
    validation = validate(description)
    result = {
        "name": description.name,
        "base": description.base,
        "deployment": description.deployment,
        "conforms": validation.conforms,
        "validation": validation.to_json(),
        "shacl_report": validation.report_graph.serialize(format="turtle") if validation.report_graph is not None
        else "",
        "diagnosed": False,
        "diagnoses": [],
        "asserted_triples": len(description.triples),
        "inferred_triples": 0,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    inferred_triples: list = []
    if validation.conforms:
        reasoning = _reason(key, description)
        found = diagnoses(reasoning)
        summary = reports.diagnoses_json(reasoning, found)
        result["diagnosed"] = True
        result["diagnoses"] = summary["diagnoses"]
        inferred_triples = reasoning.inferred_triples()
        result["inferred_triples"] = len(inferred_triples)
    if asserted and inferred:
        a, i = ox.NamedNode(asserted), ox.NamedNode(inferred)
        quads = [ox.Quad(t.subject, t.predicate, t.object, a) for t in description.triples]
        quads += [ox.Quad(t.subject, t.predicate, t.object, i) for t in inferred_triples]
        result["nquads"] = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
    return result


def explain(data: bytes, source: str, fmt: str, name: str | None, diagnosis: str, key=None) -> dict:
    """The explanation of one diagnosis in every format (JSON tree, text, Turtle with PROV-O, DOT)."""
    from sortai.reasoner import report as reports
    from sortai.reasoner.diagnoses import diagnoses
    from sortai.reasoner.explain import Explainer, render_text

    description = _load(data, source, fmt, name)
    reasoning = _reason(key, description)
    found = [d for d in diagnoses(reasoning) if d.id == diagnosis]
    if not found:
        raise JobRefused("not-found", f"no diagnosis '{diagnosis}' in this description")
    tree = Explainer(reasoning).explain_diagnosis(found[0].iri)
    return {
        "json": tree.to_json(),
        "text": render_text(tree),
        "ttl": reports.explanation_turtle(reasoning, found[0]),
        "dot": reports.explanation_dot(tree),
    }


def diff(before: dict, after: dict) -> dict:
    """Two stored descriptions compared (see sortai.reasoner.diff): `before` and `after` each hold the keyword
    arguments of one upload (data, source, fmt, name, key)."""
    from sortai.reasoner import diff as diffs
    from sortai.reasoner.diagnoses import diagnoses
    from sortai.reasoner.validation import validate

    reasoned = []
    for side in (before, after):
        description = _load(side["data"], side["source"], side["fmt"], side["name"])
        if not validate(description).conforms:
            raise JobRefused("invalid", f"'{side['name']}' is invalid: nothing was reasoned over; see its validation")
        reasoned.append(_reason(side.get("key"), description))
    result = diffs.diff(*reasoned, diagnoses(reasoned[0]), diagnoses(reasoned[1]))
    return {"json": result.to_json(), "text": diffs.diff_text(result), "md": diffs.diff_markdown(result)}
