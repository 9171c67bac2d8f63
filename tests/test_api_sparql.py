"""The SPARQL 1.1 Protocol endpoint, spoken to by real clients: SPARQLWrapper and rdflib's SPARQLStore."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pyoxigraph as ox
import pytest
import rdflib
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, JSON, JSONLD, N3, POST, TSV, TURTLE, XML, SPARQLWrapper

sys.path.insert(0, str(Path(__file__).parent))
from test_api_support import EXAMPLES, Server, assert_json_error, upload  # noqa: E402

SAI = "https://w3id.org/sortai/ontology#"
GRAPHS = """SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"""
DIAGNOSES = f"""PREFIX sai: <{SAI}>
SELECT ?d ?mode WHERE {{ ?d a sai:Diagnosis ; sai:mode ?mode }} ORDER BY ?d"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("sparql") / "data").start()
    with srv.client() as client:
        for name in ("disaggregated-h100-l4", "homogeneous-h100"):
            assert upload(client, EXAMPLES / name / "description.yaml", name).status_code == 201
    yield srv
    srv.stop()


def wrapper(server, query, fmt, method=None):
    sparql = SPARQLWrapper(server.url + "/sparql")
    sparql.setQuery(query)
    sparql.setReturnFormat(fmt)
    if method:
        sparql.setMethod(method)
    return sparql.query()


def test_select_json_sees_asserted_inferred_ontology_catalog(server):
    result = wrapper(server, GRAPHS, JSON).convert()
    graphs = {b["g"]["value"]: int(b["n"]["value"]) for b in result["results"]["bindings"]}
    assert set(graphs) == {
        "https://w3id.org/sortai/ontology", "https://w3id.org/sortai/ontology/catalog",
        *(f"https://w3id.org/sortai/graph/{n}/{k}" for n in ("disaggregated-h100-l4", "homogeneous-h100")
          for k in ("asserted", "inferred"))}
    assert all(n > 0 for n in graphs.values())
    # the default graph is the union: diagnoses (inferred) are found without GRAPH
    rows = wrapper(server, DIAGNOSES, JSON).convert()["results"]["bindings"]
    assert rows and all(r["mode"]["value"].startswith(SAI) for r in rows)


@pytest.mark.parametrize("method", ["GET", POST])
def test_select_in_every_result_format(server, method):
    expected = len(wrapper(server, DIAGNOSES, JSON).convert()["results"]["bindings"])
    xml = wrapper(server, DIAGNOSES, XML, method).convert()  # SPARQLWrapper gives an xml.dom Document
    assert len(xml.getElementsByTagName("result")) == expected
    rows = list(csv.reader(io.StringIO(wrapper(server, DIAGNOSES, CSV, method).convert().decode("utf-8"))))
    assert rows[0] == ["d", "mode"] and len(rows) == expected + 1
    lines = wrapper(server, DIAGNOSES, TSV, method).convert().decode("utf-8").strip().split("\n")
    assert lines[0].split("\t") == ["?d", "?mode"] and len(lines) == expected + 1


def test_ask(server):
    assert wrapper(server, f"ASK {{ ?d a <{SAI}Diagnosis> }}", JSON).convert()["boolean"] is True
    xml = wrapper(server, "ASK { <urn:x> <urn:y> <urn:z> }", XML).convert()
    assert xml.getElementsByTagName("boolean")[0].firstChild.data == "false"


CONSTRUCT = f"CONSTRUCT {{ ?d a <{SAI}Diagnosis> ; <{SAI}mode> ?m }} WHERE {{ ?d a <{SAI}Diagnosis> ; <{SAI}mode> ?m }}"


@pytest.mark.parametrize("fmt,check", [(TURTLE, "turtle"), (N3, "turtle"), (JSONLD, "json-ld")])
def test_construct_formats(server, fmt, check):
    result = wrapper(server, CONSTRUCT, fmt).convert()
    graph = result if isinstance(result, rdflib.Graph) else rdflib.Graph().parse(data=result, format=check)
    assert len(graph) > 0


@pytest.mark.parametrize("accept,fmt", [("text/turtle", ox.RdfFormat.TURTLE), ("application/n-triples", ox.RdfFormat.N_TRIPLES),
                                        ("application/ld+json", ox.RdfFormat.JSON_LD),
                                        ("application/rdf+xml", ox.RdfFormat.RDF_XML)])
def test_construct_and_describe_by_accept(server, accept, fmt):
    for query in (CONSTRUCT, f"DESCRIBE <{SAI}Diagnosis>"):
        response = httpx.get(server.url + "/sparql", params={"query": query}, headers={"Accept": accept})
        assert response.status_code == 200 and response.headers["content-type"].startswith(accept)
        assert list(ox.parse(response.content, format=fmt))


def test_results_by_accept_parsed_back(server):
    for accept, parse in (("application/sparql-results+json", lambda b: json.loads(b)["results"]["bindings"]),
                          ("application/sparql-results+xml", lambda b: ElementTree.fromstring(b).iter(
                              "{http://www.w3.org/2005/sparql-results#}result")),
                          ("text/csv", lambda b: list(csv.reader(io.StringIO(b.decode())))[1:]),
                          ("text/tab-separated-values", lambda b: b.decode().strip().split("\n")[1:])):
        response = httpx.post(server.url + "/sparql", content=GRAPHS.encode(),
                              headers={"Content-Type": "application/sparql-query", "Accept": accept})
        assert response.status_code == 200 and response.headers["content-type"].startswith(accept)
        assert len(list(parse(response.content))) == 6


def test_rdflib_sparqlstore(server):
    store = SPARQLStore(server.url + "/sparql")
    graph = rdflib.Graph(store=store)
    rows = list(graph.query(DIAGNOSES))
    assert rows and all(str(r.mode).startswith(SAI) for r in rows)
    constructed = graph.query(CONSTRUCT)
    assert len(constructed.graph) == 2 * len(rows)
    assert bool(graph.query(f"ASK {{ ?d a <{SAI}Diagnosis> }}").askAnswer) is True


def test_yasgui_style_requests(server):
    """YASGUI posts a form with Accept lists that include */*."""
    response = httpx.post(server.url + "/sparql", data={"query": GRAPHS},
                          headers={"Accept": "application/sparql-results+json,*/*;q=0.9"})
    assert response.status_code == 200 and response.json()["results"]["bindings"]
    construct = httpx.post(server.url + "/sparql", data={"query": CONSTRUCT},
                           headers={"Accept": "text/turtle,*/*;q=0.9"})
    assert construct.headers["content-type"].startswith("text/turtle")


def test_dataset_parameters_and_from(server):
    asserted = "https://w3id.org/sortai/graph/disaggregated-h100-l4/asserted"
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    only = httpx.get(server.url + "/sparql", params={"query": count, "default-graph-uri": asserted},
                     headers={"Accept": "application/sparql-results+json"}).json()
    everything = httpx.get(server.url + "/sparql", params={"query": count},
                           headers={"Accept": "application/sparql-results+json"}).json()
    n_only = int(only["results"]["bindings"][0]["n"]["value"])
    n_all = int(everything["results"]["bindings"][0]["n"]["value"])
    assert 0 < n_only < n_all
    from_query = f"SELECT (COUNT(*) AS ?n) FROM <{asserted}> WHERE {{ ?s ?p ?o }}"
    via_from = wrapper(server, from_query, JSON).convert()
    assert int(via_from["results"]["bindings"][0]["n"]["value"]) == n_only
    named = httpx.get(server.url + "/sparql", params={"query": GRAPHS, "named-graph-uri": asserted},
                      headers={"Accept": "application/sparql-results+json"}).json()
    assert [b["g"]["value"] for b in named["results"]["bindings"]] == [asserted]


def test_system_graphs_are_not_in_the_default_dataset(server):
    rows = wrapper(server, "SELECT ?g WHERE { GRAPH ?g {} }", JSON).convert()["results"]["bindings"]
    assert not any(r["g"]["value"].startswith("urn:sortai:system:") for r in rows)
    count = wrapper(server, "SELECT (COUNT(*) AS ?n) WHERE { ?s <urn:sortai:system:source> ?o }", JSON).convert()
    assert count["results"]["bindings"][0]["n"]["value"] == "0"


@pytest.mark.parametrize("update", [
    "INSERT DATA { <urn:a> <urn:b> <urn:c> }", "DELETE WHERE { ?s ?p ?o }", "DROP ALL",
    "LOAD <http://127.0.0.1:9/x>", "CLEAR DEFAULT"])
def test_updates_are_refused(server, update):
    assert_json_error(httpx.post(server.url + "/sparql", data={"update": update}), 400, "update-refused")
    assert_json_error(httpx.post(server.url + "/sparql", content=update.encode(),
                                 headers={"Content-Type": "application/sparql-update"}), 400, "update-refused")
    body = assert_json_error(httpx.post(server.url + "/sparql", data={"query": update}), 400)
    assert body["error"] == "bad-query"
    assert_json_error(httpx.get(server.url + "/sparql", params={"update": update}), 400, "update-refused")
    # nothing changed
    assert wrapper(server, "ASK { <urn:a> <urn:b> <urn:c> }", JSON).convert()["boolean"] is False
    assert wrapper(server, f"ASK {{ ?d a <{SAI}Diagnosis> }}", JSON).convert()["boolean"] is True


def test_sparqlwrapper_update_is_refused(server):
    sparql = SPARQLWrapper(server.url + "/sparql")
    sparql.setMethod(POST)
    sparql.setQuery("INSERT DATA { <urn:a> <urn:b> <urn:c> }")
    with pytest.raises(Exception) as caught:
        sparql.query()
    assert "update-refused" in str(caught.value) or "400" in str(caught.value)


def test_bad_requests(server):
    assert_json_error(httpx.post(server.url + "/sparql", data={"format": "json"}), 400, "missing-query")
    assert_json_error(httpx.get(server.url + "/sparql", params={"query": "SELECT WHERE {"}), 400, "bad-query")
    refused = {"Accept": "application/*;q=0, text/*;q=0"}  # every format excluded with q=0
    assert_json_error(httpx.get(server.url + "/sparql", params={"query": GRAPHS}, headers=refused),
                      406, "not-acceptable")
    assert_json_error(httpx.post(server.url + "/sparql", content=b"x", headers={"Content-Type": "image/png"}), 415)
    assert_json_error(httpx.get(server.url + "/sparql", params={"query": GRAPHS, "default-graph-uri": "not an iri"}),
                      400, "bad-graph-uri")
    # a well-formed query that Oxigraph cannot evaluate (an extension function it does not have) is the client's
    custom = 'SELECT ?x WHERE { BIND (<http://example.org/fn>(1) AS ?x) }'
    body = assert_json_error(httpx.get(server.url + "/sparql", params={"query": custom}), 400, "query-failed")
    assert "<http://example.org/fn>" in body["message"]


def test_result_size_limit(tmp_path):
    srv = Server(tmp_path / "data", env={"SORTAI_MAX_RESULT_BYTES": "2000"}).start()
    try:
        big = httpx.get(srv.url + "/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"})
        assert_json_error(big, 400, "result-too-large")
        small = httpx.get(srv.url + "/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 2"})
        assert small.status_code == 200
    finally:
        srv.stop()


SYSTEM_LEAKS = [
    "SELECT * FROM NAMED <urn:sortai:system:current> WHERE { GRAPH ?g { ?s ?p ?o } }",
    "SELECT * FROM <urn:sortai:system:current> WHERE { ?s ?p ?o }",
    "SELECT * FROM <urn:sortai:system:current> FROM NAMED <urn:sortai:system:current> "
    "WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }",
    'SELECT * WHERE { ?s <urn:sortai:system:source> ?o . FILTER(?o != "x"@from) }',  # "@from" is no FROM
    'SELECT * WHERE { GRAPH ?g { ?s <urn:sortai:system:record> ?o } FILTER(?o != "x"@from) }',
    "SELECT * WHERE { GRAPH <urn:sortai:system:current> { ?s ?p ?o } }",
    "SELECT * FROM <https://w3id.org/sortai/ontology> FROM NAMED <urn:sortai:system:current> "
    "WHERE { GRAPH <urn:sortai:system:current> { ?s ?p ?o } }",
]


@pytest.mark.parametrize("query", SYSTEM_LEAKS)
def test_system_graphs_stay_private_under_every_dataset_clause(server, query):
    rows = wrapper(server, query, JSON).convert()["results"]["bindings"]
    assert not any(v["value"].startswith("urn:sortai:system:") for r in rows for v in r.values()), rows[:3]
    for params in ({"named-graph-uri": "urn:sortai:system:current"},
                   {"default-graph-uri": "urn:sortai:system:current"}):
        response = httpx.get(server.url + "/sparql", params={"query": query, **params},
                             headers={"Accept": "application/sparql-results+json"})
        assert response.status_code == 200
        assert "urn:sortai:system:" not in json.dumps(response.json()["results"]), params


def test_from_still_narrows_to_a_public_graph(server):
    asserted = "https://w3id.org/sortai/graph/homogeneous-h100/asserted"
    rows = wrapper(server, f"SELECT (COUNT(*) AS ?n) FROM <{asserted}> FROM <urn:sortai:system:current> "
                           "WHERE { ?s ?p ?o }", JSON).convert()["results"]["bindings"]
    alone = wrapper(server, f"SELECT (COUNT(*) AS ?n) FROM <{asserted}> WHERE {{ ?s ?p ?o }}",
                    JSON).convert()["results"]["bindings"]
    assert rows == alone and int(alone[0]["n"]["value"]) > 0


def patterns(n: int) -> str:
    return "SELECT * WHERE { " + " . ".join(f"?s{i} <urn:p{i}> ?o{i}" for i in range(n)) + " } LIMIT 1"


def nested(depth: int) -> str:
    return "SELECT * WHERE " + "{ ?s <urn:p> ?o . " * depth + "}" * depth + " LIMIT 1"


@pytest.mark.parametrize("query", [
    'SELECT * WHERE { ?s ?p "x"@service }',
    'SELECT * WHERE { ?s ?p "SERVICE <http://127.0.0.1:9/>" }',
    patterns(86), patterns(250), nested(37), nested(100),  # Oxigraph plans 300 patterns in 2.5 s, 200 groups in 19 s
])
def test_valid_queries_are_accepted(server, query):
    response = httpx.post(server.url + "/sparql", content=query.encode(), timeout=60,
                          headers={"Content-Type": "application/sparql-query",
                                   "Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.text[:300]
    assert "results" in response.json()
