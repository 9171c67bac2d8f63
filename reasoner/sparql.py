"""Read-only SPARQL over the store: refuse what could write or reach the network, serialize results.

Oxigraph evaluates queries, and would follow a SERVICE clause to any URL; so every query is first parsed
with rdflib's SPARQL 1.1 parser (parsing only — its evaluator never runs) and refused if it is an update
or contains SERVICE anywhere.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass

from pyparsing import ParseException, ParseResults
from rdflib.plugins.sparql.algebra import translatePrologue
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.parserutils import CompValue

import pyoxigraph as ox

from .problems import Problem

RESULT_FORMATS = {
    "json": (ox.QueryResultsFormat.JSON, "application/sparql-results+json"),
    "xml": (ox.QueryResultsFormat.XML, "application/sparql-results+xml"),
    "csv": (ox.QueryResultsFormat.CSV, "text/csv"),
    "tsv": (ox.QueryResultsFormat.TSV, "text/tab-separated-values"),
}
GRAPH_FORMATS = {
    "ttl": (ox.RdfFormat.TURTLE, "text/turtle"),
    "nt": (ox.RdfFormat.N_TRIPLES, "application/n-triples"),
    "jsonld": (ox.RdfFormat.JSON_LD, "application/ld+json"),
    "rdfxml": (ox.RdfFormat.RDF_XML, "application/rdf+xml"),
}


class QueryRefused(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.render())
        self.problem = problem


@dataclass(frozen=True)
class QueryInfo:
    """What the guard learnt from parsing: the form and the query's own dataset (absolute IRIs)."""

    form: str
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()

    @property
    def has_dataset(self) -> bool:
        return bool(self.default_graphs or self.named_graphs)


def _contains_service(node) -> bool:
    if isinstance(node, CompValue):
        if node.name == "ServiceGraphPattern":
            return True
        return any(_contains_service(v) for v in node.values())
    if isinstance(node, (list, tuple, ParseResults)):
        return any(_contains_service(v) for v in node)
    return False


# rdflib's grammar recurses once per triple pattern and per group: real queries with hundreds of patterns
# need far more than Python's default 1,000 frames, so the parser runs in a thread with a large stack.
PARSER_STACK_BYTES = 1024 * 1024 * 1024  # reserved address space; only the pages used are ever touched
PARSER_RECURSION_LIMIT = 400_000


def _deep(function, *args):
    """``function(*args)`` in a thread with a large stack and a high recursion limit."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc

    previous_stack, previous_limit = threading.stack_size(), sys.getrecursionlimit()
    # Under an address-space limit (`--max-memory`) the large reservation may be refused: fall back to smaller
    # stacks (and a recursion limit they can hold) rather than fail the query.
    for stack, limit in ((PARSER_STACK_BYTES, PARSER_RECURSION_LIMIT), (64 * 1024 * 1024, 20_000)):
        threading.stack_size(stack)
        sys.setrecursionlimit(max(previous_limit, limit))
        try:
            thread = threading.Thread(target=target, name="sparql-parser", daemon=True)
            thread.start()
            break
        except RuntimeError:  # "can't start new thread"
            continue
        finally:
            threading.stack_size(previous_stack)
    else:
        sys.setrecursionlimit(previous_limit)
        return function(*args)
    thread.join()
    sys.setrecursionlimit(previous_limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def inspect(text: str) -> QueryInfo:
    """Check that `text` is one read-only SPARQL query without SERVICE; its form and its own dataset."""
    return _deep(_inspect, text)


def _inspect(text: str) -> QueryInfo:
    try:
        parsed = parseQuery(text)
    except ParseException as exc:
        raise QueryRefused(Problem(
            f"not a SPARQL 1.1 query (line {exc.lineno}, column {exc.col}): {exc.msg}", code="bad-query",
            fix="check the syntax; updates (INSERT, DELETE, LOAD, CLEAR…) are not accepted here.")) from None
    except RecursionError:
        raise QueryRefused(Problem("the query is nested too deeply to check (tens of thousands of patterns)",
                                   code="query-too-deep", fix="split it into several queries.")) from None
    except Exception as exc:  # the parser raises several internal exception types on odd input
        raise QueryRefused(Problem(f"not a SPARQL 1.1 query: {exc}", code="bad-query")) from None
    try:
        service = _contains_service(parsed)
    except RecursionError:
        service = True  # cannot be checked: refused
    if service:
        raise QueryRefused(Problem("SERVICE is refused: queries never make the server fetch a URL",
                                   code="service-refused", fix="query the local graphs only."))
    body = parsed[1]
    default, named = [], []
    clauses = body["datasetClause"] if "datasetClause" in body else []
    if clauses:
        prologue = translatePrologue(parsed[0], None)
        for clause in clauses:
            for kind, iri in clause.items():
                (named if kind == "named" else default).append(str(prologue.absolutize(iri)))
    return QueryInfo(body.name.replace("Query", "").upper(), tuple(default), tuple(named))


def query_form(text: str) -> str:
    """Check that `text` is one read-only SPARQL query and return its form (SELECT, ASK, CONSTRUCT, DESCRIBE)."""
    return inspect(text).form


def run(store: ox.Store, text: str):
    """Run a read-only query over the union of all graphs; returns (form, results)."""
    form = query_form(text)
    try:
        return form, store.query(text, use_default_graph_as_union=True)
    except (SyntaxError, RuntimeError) as exc:  # Oxigraph refuses what it cannot evaluate, e.g. ex:myFunction()
        raise QueryRefused(Problem(
            f"the query cannot be evaluated: {exc}", code="unsupported-query",
            fix="use SPARQL 1.1 built-in functions and XSD casts (xsd:integer, xsd:decimal, xsd:double, "
                "xsd:string, xsd:dateTime…); other functions are not available.")) from None
