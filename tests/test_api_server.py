"""The REST API over HTTP against the real server: descriptions, validation, diagnoses, explanations, ontology."""

from __future__ import annotations

import json

import sys
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib

sys.path.insert(0, str(Path(__file__).parent))
from test_api_support import EXAMPLES, SCENARIOS, Server, assert_json_error, upload

DISAGG = EXAMPLES / "disaggregated-h100-l4" / "description.yaml"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("api") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    with server.client() as c:
        yield c


@pytest.fixture(scope="module")
def stored(client):
    """Every shipped scenario uploaded once: id -> response body."""
    out = {}
    for path in SCENARIOS:
        response = upload(client, path)
        assert response.status_code == 201, response.text
        body = response.json()
        assert response.headers["location"] == "/descriptions/" + body["id"]
        out[path.parent.name] = body
    return out


def test_health_and_index(client):
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/").json()["sparql"] == "/sparql"


def test_uploads_are_validated_and_diagnosed(stored):
    for name, body in stored.items():
        assert body["conforms"] is True, (name, body["validation"])
        assert body["diagnosed"] is True
        assert body["version"] == 1
        assert body["diagnosis_count"] == len(body["diagnoses"])
    assert stored["homogeneous-h100"]["diagnoses"] == []
    assert stored["disaggregated-h100-l4"]["diagnosis_count"] > 0


def test_list_fetch_source_is_exact(client, stored):
    listed = {d["id"]: d for d in client.get("/descriptions").json()["descriptions"]}
    for path in SCENARIOS:
        description_id = stored[path.parent.name]["id"]
        assert description_id in listed
        source = client.get(f"/descriptions/{description_id}/source")
        assert source.status_code == 200
        assert source.content == path.read_bytes()
        assert source.headers["content-type"].startswith("application/yaml")
        detail = client.get(f"/descriptions/{description_id}").json()
        assert detail["diagnoses"] == stored[path.parent.name]["diagnoses"]


def test_replace_and_delete(client):
    first = upload(client, DISAGG, "replace-me")
    assert first.status_code == 201 and first.json()["version"] == 1
    second = upload(client, EXAMPLES / "homogeneous-h100" / "description.yaml", "replace-me")
    assert second.status_code == 200 and second.json()["version"] == 2
    assert client.get("/descriptions/replace-me/source").content == \
        (EXAMPLES / "homogeneous-h100" / "description.yaml").read_bytes()
    assert client.get("/descriptions/replace-me/diagnoses").json()["count"] == 0
    taken = client.post("/descriptions", params={"id": "replace-me"}, content=DISAGG.read_bytes(),
                        headers={"Content-Type": "application/yaml"})
    assert_json_error(taken, 409, "conflict")
    assert client.delete("/descriptions/replace-me").status_code == 204
    assert_json_error(client.get("/descriptions/replace-me"), 404, "not-found")
    assert_json_error(client.delete("/descriptions/replace-me"), 404, "not-found")
    ask = client.get("/sparql", params={"query": "ASK { GRAPH <https://w3id.org/sortai/graph/replace-me/asserted> "
                                                   "{ ?s ?p ?o } }"}, headers={"Accept": "application/sparql-results+json"})
    assert ask.json()["boolean"] is False


def test_same_description_twice_gets_two_ids(client):
    a = upload(client, DISAGG).json()
    b = upload(client, DISAGG).json()
    assert a["id"] != b["id"] and b["id"].startswith(a["name"])


def test_invalid_description_is_stored_with_its_report(client):
    path = EXAMPLES / "broken" / "unknown-accelerator.yaml"
    response = upload(client, path)
    assert response.status_code == 201
    body = response.json()
    assert body["conforms"] is False and body["diagnosed"] is False and body["diagnoses"] == []
    report = client.get(f"/descriptions/{body['id']}/validation").json()
    assert report["violations"] >= 1 and report["problems"][0]["location"]["file"] == "unknown-accelerator.yaml"
    ttl = client.get(f"/descriptions/{body['id']}/validation", headers={"Accept": "text/turtle"})
    assert ttl.headers["content-type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=ttl.text, format="turtle")
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    assert (None, sh.conforms, rdflib.Literal(False)) in graph


@pytest.mark.parametrize("name", ["yaml-syntax.yaml", "json-syntax.json"])
def test_unreadable_input_is_400_with_problems(client, name):
    path = EXAMPLES / "broken" / name
    media = "application/json" if name.endswith(".json") else "application/yaml"
    body = assert_json_error(upload(client, path, media=media), 400)
    assert body["problems"] and body["problems"][0]["location"]["line"]


def test_upload_formats(client, stored):
    description_id = stored["mig-multitenant"]["id"]
    for fmt, media in (("ttl", "text/turtle"), ("nt", "application/n-triples"), ("rdfxml", "application/rdf+xml"),
                       ("jsonld", "application/ld+json")):
        graph = client.get(f"/descriptions/{description_id}/graph", params={"format": fmt})
        assert graph.status_code == 200, graph.text
        response = client.post("/descriptions", content=graph.content, headers={"Content-Type": media},
                               params={"id": f"mig-as-{fmt}"})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["format"] == {"ttl": "turtle", "nt": "ntriples"}.get(fmt, fmt)
        assert body["asserted_triples"] == stored["mig-multitenant"]["asserted_triples"]
        assert [d["mode"] for d in body["diagnoses"]] == [d["mode"] for d in stored["mig-multitenant"]["diagnoses"]]
    as_json = client.post("/descriptions", params={"format": "json", "id": "json-upload"},
                          content=json.dumps({"id": "tiny", "nodes": []}).encode())
    assert as_json.status_code == 201 and as_json.json()["format"] == "json"


def test_unknown_upload_format_is_415(client):
    assert_json_error(client.post("/descriptions", content=b"x", headers={"Content-Type": "image/png"}), 415)


def test_diagnose_is_stateless(client):
    before = len(client.get("/descriptions").json()["descriptions"])
    response = client.post("/diagnose", content=DISAGG.read_bytes(), headers={"Content-Type": "application/yaml"})
    assert response.status_code == 200
    assert response.json()["diagnosed"] and response.json()["diagnoses"]
    assert len(client.get("/descriptions").json()["descriptions"]) == before
    # no token needed for a stateless diagnosis
    import httpx

    anonymous = httpx.post(str(client.base_url) + "/diagnose", content=DISAGG.read_bytes(),
                           headers={"Content-Type": "application/yaml"}, timeout=60)
    assert anonymous.status_code == 200


def test_diagnosis_filters(client, stored):
    description_id = stored["disaggregated-h100-l4"]["id"]
    everything = client.get(f"/descriptions/{description_id}/diagnoses").json()["diagnoses"]
    assert everything
    first = everything[0]
    by_mode = client.get(f"/descriptions/{description_id}/diagnoses", params={"mode": first["mode"]}).json()
    assert by_mode["count"] >= 1 and all(d["mode"] == first["mode"] for d in by_mode["diagnoses"])
    by_severity = client.get(f"/descriptions/{description_id}/diagnoses",
                             params={"severity": first["severity"]}).json()["diagnoses"]
    assert all(d["severity"] == first["severity"] for d in by_severity) and first in by_severity
    domain = first["primary_domains"][0].split(" ", 1)[0]
    by_domain = client.get(f"/descriptions/{description_id}/diagnoses", params={"domain": domain}).json()
    assert first in by_domain["diagnoses"]
    by_component = client.get(f"/descriptions/{description_id}/diagnoses",
                              params={"component": first["component"]}).json()["diagnoses"]
    assert by_component and all(d["component"] == first["component"] for d in by_component)
    none = client.get(f"/descriptions/{description_id}/diagnoses", params={"severity": "no-such"}).json()
    assert none["count"] == 0
    one = client.get(f"/descriptions/{description_id}/diagnoses/{first['id']}")
    assert one.status_code == 200 and one.json() == first


def test_explanations_in_four_formats(client, stored):
    description_id = stored["disaggregated-h100-l4"]["id"]
    diagnosis = stored["disaggregated-h100-l4"]["diagnoses"][0]["id"]
    url = f"/descriptions/{description_id}/diagnoses/{diagnosis}/explanation"
    tree = client.get(url)
    assert tree.status_code == 200, tree.text
    assert tree.headers["content-type"].startswith("application/json")
    assert tree.json()["kind"] == "derived" and tree.json()["because"]
    text = client.get(url, headers={"Accept": "text/plain"})
    assert text.headers["content-type"].startswith("text/plain") and text.text.strip()
    ttl = client.get(url, headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=ttl.text, format="turtle")
    prov = rdflib.Namespace("http://www.w3.org/ns/prov#")
    assert list(graph.triples((None, prov.wasGeneratedBy, None)))
    dot = client.get(url, params={"format": "dot"})
    assert dot.headers["content-type"].startswith("text/vnd.graphviz")
    assert dot.text.startswith("digraph explanation {")
    assert_json_error(client.get(f"/descriptions/{description_id}/diagnoses/nope/explanation"), 404)
    fallback = client.get(url, headers={"Accept": "image/png"})  # nothing listed is offered: the default
    assert fallback.status_code == 200 and fallback.headers["content-type"].startswith("application/json")
    assert_json_error(client.get(url, headers={"Accept": "application/json;q=0, text/*;q=0"}), 406)


@pytest.mark.parametrize("accept,fmt", [("text/turtle", ox.RdfFormat.TURTLE), ("application/rdf+xml", ox.RdfFormat.RDF_XML),
                                        ("application/ld+json", ox.RdfFormat.JSON_LD),
                                        ("application/n-triples", ox.RdfFormat.N_TRIPLES)])
def test_ontology_by_content_negotiation(client, accept, fmt):
    response = client.get("/ontology", headers={"Accept": accept})
    assert response.status_code == 200 and response.headers["content-type"].startswith(accept)
    triples = list(ox.parse(response.content, format=fmt))
    assert any(t.object.value == "http://www.w3.org/2002/07/owl#Ontology" for t in triples)
    module = client.get("/ontology/sortai-framework", headers={"Accept": accept})
    assert module.status_code == 200 and list(ox.parse(module.content, format=fmt))


def test_ontology_module_turtle_is_the_shipped_file(client):
    from sortai.reasoner import resources

    shipped = (resources.ontology_dir() / resources.CATALOG_MODULE).read_bytes()
    assert client.get("/ontology/catalog", headers={"Accept": "text/turtle"}).content == shipped
    assert client.get("/ontology/catalog.ttl").content == shipped
    assert client.get("/ontology/sortai-catalog", params={"format": "ttl"}).content == shipped
    assert_json_error(client.get("/ontology/nope"), 404)
    assert client.get("/context.jsonld").json()["@context"]


def test_errors_are_json(client):
    assert_json_error(client.get("/no/such/path"), 404, "not-found")
    assert_json_error(client.patch("/descriptions"), 405, "method-not-allowed")
    assert_json_error(client.get("/descriptions/bad id!"), 422, "invalid-request")
    assert_json_error(client.get("/ontology", headers={"Accept": "application/*;q=0, text/*;q=0"}), 406)
    assert_json_error(client.post("/descriptions", content=b"", headers={"Content-Type": "application/yaml"}), 400)


def test_openapi_lists_every_route(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/descriptions", "/descriptions/{description_id}", "/descriptions/{description_id}/source",
                 "/descriptions/{description_id}/validation", "/descriptions/{description_id}/diagnoses",
                 "/descriptions/{description_id}/diagnoses/{diagnosis_id}/explanation", "/diagnose", "/sparql",
                 "/ontology", "/ontology/{path}"):
        assert path in paths, path
    assert "application/sparql-query" in paths["/sparql"]["post"]["requestBody"]["content"]
    assert "text/turtle" in paths["/descriptions"]["post"]["requestBody"]["content"]
