"""Read-only SPARQL over the store: refuse what could write or reach the network, serialize results.

Oxigraph evaluates queries, and would follow a SERVICE clause to any URL; so every query is first parsed
with rdflib's SPARQL 1.1 parser (parsing only — its evaluator never runs) and refused if it is an update
or contains SERVICE anywhere.
"""

from __future__ import annotations

from pyparsing import ParseException, ParseResults
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


def _contains_service(node) -> bool:
    if isinstance(node, CompValue):
        if node.name == "ServiceGraphPattern":
            return True
        return any(_contains_service(v) for v in node.values())
    if isinstance(node, (list, tuple, ParseResults)):
        return any(_contains_service(v) for v in node)
    return False


def query_form(text: str) -> str:
    """Check that `text` is one read-only SPARQL query and return its form (SELECT, ASK, CONSTRUCT, DESCRIBE)."""
    try:
        parsed = parseQuery(text)
    except ParseException as exc:
        raise QueryRefused(Problem(
            f"not a SPARQL 1.1 query (line {exc.lineno}, column {exc.col}): {exc.msg}", code="bad-query",
            fix="check the syntax; updates (INSERT, DELETE, LOAD, CLEAR…) are not accepted here.")) from None
    except Exception as exc:  # the parser raises several internal exception types on odd input
        raise QueryRefused(Problem(f"not a SPARQL 1.1 query: {exc}", code="bad-query")) from None
    if _contains_service(parsed):
        raise QueryRefused(Problem("SERVICE is refused: queries never make the server fetch a URL",
                                   code="service-refused", fix="query the local graphs only."))
    body = parsed[1]
    return body.name.replace("Query", "").upper()


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
