"""HTTP as clients meet it, against the real server: CORS, HEAD, gzip, Vary, ETag/304, Accept with q-values
(Jena's and Fuseki's headers through curl), the Service Description, cross-site refusals, OpenAPI and offline docs.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import rdflib

sys.path.insert(0, str(Path(__file__).parent))
from test_api_support import EXAMPLES, TOKEN, Server, assert_json_error, upload  # noqa: E402

WRITER = "http://127.0.0.1:9999"
FOREIGN = "https://evil.example"
DISAGG = EXAMPLES / "disaggregated-h100-l4" / "description.yaml"
SELECT = "SELECT ?s WHERE { ?s a <https://w3id.org/sortai/ontology#Diagnosis> } LIMIT 3"
CONSTRUCT = "CONSTRUCT { ?s a ?c } WHERE { ?s a ?c } LIMIT 5"
# Apache Jena's WebContent.defaultSparqlResultsHeader and defaultGraphAcceptHeader (what Fuseki's and Jena's
# clients send), and roqet's/rapper's habit of asking for RDF as text/plain.
JENA_RESULTS = ("application/sparql-results+json, application/sparql-results+xml;q=0.9, "
                "text/tab-separated-values;q=0.7, text/csv;q=0.5, application/json;q=0.2, application/xml;q=0.2, "
                "*/*;q=0.1")
SELECT_URL = "/sparql?" + urlencode({"query": SELECT})
JENA_GRAPH = "text/turtle,application/n-triples;q=0.9,application/ld+json;q=0.8,application/rdf+xml;q=0.7,*/*;q=0.3"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("http") / "data", env={"SORTAI_CORS_WRITE_ORIGINS": WRITER}).start()
    with srv.client() as client:
        assert upload(client, DISAGG, "fleet").status_code == 201
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def diagnosis(server) -> str:
    return httpx.get(server.url + "/descriptions/fleet").json()["diagnoses"][0]["id"]


# --- CORS -----------------------------------------------------------------------------------------------


def preflight(server, path: str, method: str, origin: str, headers: str = "content-type") -> httpx.Response:
    return httpx.options(server.url + path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                                     "Access-Control-Request-Headers": headers})


def test_reads_are_open_to_any_origin(server):
    for path in (SELECT_URL, "/descriptions", "/descriptions/fleet/diagnoses", "/ontology"):
        response = httpx.get(server.url + path, headers={"Origin": FOREIGN})
        assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "*", path
    allowed = preflight(server, "/sparql", "POST", FOREIGN)  # OPTIONS /sparql was a 405
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "*"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    posted = httpx.post(server.url + "/sparql", data={"query": SELECT}, headers={"Origin": FOREIGN})
    assert posted.status_code == 200 and posted.headers["access-control-allow-origin"] == "*"


def test_writes_only_from_configured_origins(server):
    for path, method in (("/descriptions", "POST"), ("/descriptions/fleet", "PUT"), ("/descriptions/fleet", "DELETE"),
                         ("/diagnose", "POST")):
        refused = preflight(server, path, method, FOREIGN, "authorization,content-type")
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers, (path, method)
        allowed = preflight(server, path, method, WRITER, "authorization,content-type")
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == WRITER
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    put = httpx.put(server.url + "/descriptions/from-writer", content=DISAGG.read_bytes(), timeout=120, headers={
        "Origin": WRITER, "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/yaml"})
    assert put.status_code == 201 and put.headers["access-control-allow-origin"] == WRITER


# --- cross-site: what a page on another site can send without a preflight -------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_simple_requests_cannot_reach_heavy_endpoints(server, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    body = assert_json_error(httpx.post(server.url + "/diagnose?format=yaml", content=DISAGG.read_bytes(),
                                        headers=headers), 415, "unsupported-media-type")
    assert "another site" in body["message"]
    if content_type != "application/x-www-form-urlencoded":  # a form is the SPARQL Protocol's own POST
        assert_json_error(httpx.post(server.url + "/sparql", content=SELECT.encode(), headers=headers), 415)


def test_the_token_or_a_real_media_type_passes(server):
    typed = httpx.post(server.url + "/diagnose", content=DISAGG.read_bytes(), timeout=120,
                       headers={"Content-Type": "application/yaml"})
    assert typed.status_code == 200 and typed.json()["diagnoses"]
    # with the token (which no foreign page can add without a preflight) curl's default form type is fine
    curl_style = httpx.put(server.url + "/descriptions/curl-style?filename=f.yaml", content=DISAGG.read_bytes(),
                           timeout=120, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                 "Authorization": f"Bearer {TOKEN}"})
    assert curl_style.status_code == 201, curl_style.text


# --- HEAD, gzip, Vary, ETag -----------------------------------------------------------------------------


def get_routes(server, diagnosis: str) -> list[str]:
    schema = httpx.get(server.url + "/openapi.json").json()
    values = {"description_id": "fleet", "other_id": "fleet", "diagnosis_id": diagnosis, "path": "framework",
              "suffix": "owl"}
    routes = [re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
              for path, operations in schema["paths"].items() if "get" in operations]
    return routes + ["/openapi.json", "/docs", "/redoc", "/docs/assets/swagger-ui-bundle.js"]


def test_head_on_every_get_route(server, diagnosis):
    routes = get_routes(server, diagnosis)
    assert len(routes) >= 18
    for route in routes:
        got = httpx.get(server.url + route, headers={"Accept-Encoding": "identity"}, timeout=60)
        head = httpx.head(server.url + route, headers={"Accept-Encoding": "identity"}, timeout=60)
        assert got.status_code == 200, (route, got.status_code, got.text[:200])
        assert head.status_code == 200 and head.content == b"", route
        assert head.headers["content-type"] == got.headers["content-type"], route
        assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.content)), route
    assert "HEAD" in httpx.patch(server.url + "/descriptions").headers["allow"]


def test_gzip(server):
    plain = httpx.get(server.url + "/ontology", headers={"Accept": "text/turtle", "Accept-Encoding": "identity"})
    raw = httpx.get(server.url + "/ontology", headers={"Accept": "text/turtle", "Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip" and "Accept-Encoding" in raw.headers["vary"]
    assert raw.content == plain.content  # httpx decodes; the wire size is smaller:
    assert int(raw.headers["content-length"]) < len(plain.content) / 3
    with httpx.stream("GET", server.url + "/ontology", headers={"Accept": "text/turtle",
                                                                 "Accept-Encoding": "gzip"}) as streamed:
        assert gzip.decompress(b"".join(streamed.iter_raw())) == plain.content


def test_vary_accept_wherever_content_is_negotiated(server, diagnosis):
    for path in (SELECT_URL, "/ontology", "/ontology/framework", "/descriptions/fleet/graph",
                 "/descriptions/fleet/validation", f"/descriptions/fleet/diagnoses/{diagnosis}/explanation", "/sparql"):
        vary = httpx.get(server.url + path, timeout=60).headers.get("vary", "")
        assert "accept" in [v.strip().lower() for v in vary.split(",")], (path, vary)


def test_etag_and_304(server, diagnosis):
    for path in ("/descriptions/fleet", "/descriptions/fleet/source", "/ontology", SELECT_URL,
                 "/descriptions/fleet/graph", f"/descriptions/fleet/diagnoses/{diagnosis}/explanation",
                 "/openapi.json"):
        first = httpx.get(server.url + path, timeout=60)
        etag = first.headers["etag"]
        again = httpx.get(server.url + path, headers={"If-None-Match": etag}, timeout=60)
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag, path
        other = httpx.get(server.url + path, headers={"If-None-Match": 'W/"something-else"'}, timeout=60)
        assert other.status_code == 200 and other.content == first.content, path
    turtle = httpx.get(server.url + "/ontology", headers={"Accept": "text/turtle"}).headers["etag"]
    xml = httpx.get(server.url + "/ontology", headers={"Accept": "application/rdf+xml"}).headers["etag"]
    assert turtle != xml  # one ETag per representation


def test_etag_changes_when_the_description_does(server):
    with server.client() as client:
        assert upload(client, DISAGG, "changing").status_code == 201
        before = client.get("/descriptions/changing/source").headers["etag"]
        assert upload(client, EXAMPLES / "homogeneous-h100" / "description.yaml", "changing").status_code == 200
        after = client.get("/descriptions/changing/source", headers={"If-None-Match": before})
        assert after.status_code == 200 and after.headers["etag"] != before


# --- Accept with q-values ---------------------------------------------------------------------------------


def content_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


@pytest.mark.parametrize("accept,expected", [
    ("application/sparql-results+json;q=0, */*", "application/sparql-results+xml"),
    ("text/csv;q=0.5, text/tab-separated-values", "text/tab-separated-values"),
    ("application/sparql-results+xml;q=0.1, application/json;q=0.9", "application/sparql-results+json"),
    ("*/*", "application/sparql-results+json"),
    ("text/plain", "application/sparql-results+json"),
    ("image/png", "application/sparql-results+json"),
    (JENA_RESULTS, "application/sparql-results+json"),
])
def test_select_negotiation(server, accept, expected):
    response = httpx.get(server.url + "/sparql", params={"query": SELECT}, headers={"Accept": accept})
    assert response.status_code == 200 and content_type(response) == expected, accept


@pytest.mark.parametrize("accept,expected", [
    ("text/turtle;q=0, */*", "application/n-triples"),
    ("text/plain", "application/n-triples"),
    ("*/*", "text/turtle"),
    (JENA_GRAPH, "text/turtle"),
    ("application/rdf+xml, text/turtle;q=0.5", "application/rdf+xml"),
])
def test_construct_negotiation(server, accept, expected):
    response = httpx.get(server.url + "/sparql", params={"query": CONSTRUCT}, headers={"Accept": accept})
    assert response.status_code == 200 and content_type(response) == expected, accept


def test_q_zero_for_everything_is_406(server):
    response = httpx.get(server.url + "/sparql", params={"query": SELECT},
                         headers={"Accept": "application/sparql-results+json;q=0, application/*;q=0, text/*;q=0"})
    assert_json_error(response, 406, "not-acceptable")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("accept,query,parse", [
    (JENA_RESULTS, SELECT, lambda b: json.loads(b)["results"]["bindings"]),
    (JENA_GRAPH, CONSTRUCT, lambda b: rdflib.Graph().parse(data=b, format="turtle")),
    ("text/plain", CONSTRUCT, lambda b: rdflib.Graph().parse(data=b, format="nt")),
])
def test_curl_with_jena_and_fuseki_accept_headers(server, accept, query, parse):
    result = subprocess.run(["curl", "-sS", "--fail", "--compressed", "-H", f"Accept: {accept}",
                             "--data-urlencode", f"query={query}", server.url + "/sparql"],
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(parse(result.stdout)) > 0


# --- SPARQL 1.1 Service Description --------------------------------------------------------------------


def test_service_description(server):
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    for accept, fmt in (("text/turtle", "turtle"), ("application/rdf+xml", "xml"), (None, "turtle")):
        response = httpx.get(server.url + "/sparql", headers={"Accept": accept} if accept else {})
        assert response.status_code == 200, response.text
        graph = rdflib.Graph().parse(data=response.content, format=fmt)
        service = graph.value(None, rdflib.RDF.type, sd.Service)
        assert graph.value(service, sd.endpoint) == rdflib.URIRef(server.url + "/sparql")
        assert (service, sd.supportedLanguage, sd.SPARQL11Query) in graph
        assert (service, sd.feature, sd.UnionDefaultGraph) in graph
        names = {str(graph.value(n, sd.name)) for n in graph.objects(None, sd.namedGraph)}
        assert "https://w3id.org/sortai/graph/fleet/asserted" in names
        assert "https://w3id.org/sortai/ontology/catalog" in names
        assert not any(n.startswith("urn:sortai:system:") for n in names)
    assert httpx.head(server.url + "/sparql").status_code == 200


# --- OpenAPI and the documentation ------------------------------------------------------------------------


def test_openapi_security_examples_and_operation_ids(server):
    schema = httpx.get(server.url + "/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": schema["components"]["securitySchemes"]["bearer"][
            "description"]}
    operations = {(path, method): op for path, ops in schema["paths"].items() for method, op in ops.items()}
    for (path, method), op in operations.items():
        assert re.fullmatch(r"[a-z][a-z_]+", op["operationId"]), op["operationId"]
        if method in ("put", "delete") or (method == "post" and path == "/descriptions"):
            assert op["security"] == [{"bearer": []}], (path, method)
        if "requestBody" in op:
            for media, body in op["requestBody"]["content"].items():
                assert "example" in body or "examples" in body, (path, method, media)
    ids = [op["operationId"] for op in operations.values()]
    assert len(ids) == len(set(ids))
    assert {"list_descriptions", "upload_description", "sparql_get", "sparql_post", "diagnose",
            "get_explanation", "health"} <= set(ids)
    models = schema["components"]["schemas"]
    for name in ("Health", "Error", "DescriptionDetail", "DescriptionList", "DiagnosisList", "DiagnoseResult"):
        assert models[name].get("examples"), name


def test_docs_are_served_from_local_assets(server):
    for path, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        page = httpx.get(server.url + path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text) + re.findall(r"url: *'([^']+)'", page.text)
        assert urls and all(u.startswith("/") for u in urls), urls  # nothing from another host
        assert any(u.endswith(asset) for u in urls)
        for url in urls:
            assert httpx.get(server.url + url).status_code == 200, url
    assert b"cdn.redoc.ly" not in httpx.get(server.url + "/docs/assets/redoc.standalone.js").content
    assert_json_error(httpx.get(server.url + "/docs/assets/../../etc/passwd"), 404)


def test_openapi_examples_are_real():
    """The YAML upload example is a valid description that the reasoner diagnoses; each response example
    validates against its response model."""
    from sortai.api import examples, models
    from sortai.reasoner.description import load_bytes
    from sortai.reasoner.diagnoses import diagnoses
    from sortai.reasoner.engine import infer
    from sortai.reasoner.validation import validate

    modes = {}

    for media, fmt in (("application/yaml", "yaml"), ("text/turtle", "turtle"), ("application/n-triples", "ntriples"),
                       ("application/rdf+xml", "rdfxml"), ("application/json", "json"),
                       ("application/ld+json", "jsonld")):
        example = examples.UPLOAD_BODY["requestBody"]["content"][media]["example"]
        data = (json.dumps(example) if isinstance(example, dict) else example).encode()
        description = load_bytes(data, "mixed-pool." + fmt, fmt, "mixed-pool")
        assert validate(description).conforms, media
        modes[media] = sorted(d.mode for d in diagnoses(infer(description)))
    assert len(set(map(tuple, modes.values()))) == 1 and modes["application/yaml"] == [
        "LatencyAsymmetryDrift", "MemoryPathIncoherence"], modes
    for model, example in ((models.Health, examples.HEALTH), (models.Error, examples.ERROR),
                           (models.DescriptionDetail, examples.DESCRIPTION_DETAIL),
                           (models.DescriptionList, examples.DESCRIPTION_LIST),
                           (models.DiagnosisList, examples.DIAGNOSIS_LIST),
                           (models.DiagnoseResult, examples.DIAGNOSE_RESULT)):
        model.model_validate(example)
