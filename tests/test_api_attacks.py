"""Safety: nothing makes the server fetch a URL; limits answer cleanly; writes need the token; startup refusals.

Every attack is refused with a JSON error and the server is healthy (and still answers queries) afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_api_support import EXAMPLES, TOKEN, Listener, Server, assert_json_error, free_port, upload  # noqa: E402

MINI = (EXAMPLES / "homogeneous-h100" / "description.yaml").read_bytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("attacks") / "data",
                 env={"SORTAI_QUERY_TIMEOUT": "2", "SORTAI_MAX_BODY_BYTES": str(256 * 1024)}).start()
    with srv.client() as client:
        assert upload(client, EXAMPLES / "homogeneous-h100" / "description.yaml", "fleet").status_code == 201
    yield srv
    srv.stop()


def still_healthy(server) -> None:
    assert httpx.get(server.url + "/health", timeout=10).json()["status"] == "ok"
    ok = httpx.get(server.url + "/sparql", params={"query": "ASK { ?s ?p ?o }"},
                   headers={"Accept": "application/sparql-results+json"}, timeout=30)
    assert ok.status_code == 200 and ok.json()["boolean"] is True


SERVICE_QUERIES = [
    "SELECT * WHERE {{ SERVICE <{url}/sparql> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ SERVICE SILENT <{url}/sparql> {{ ?s ?p ?o }} }}",
    "select * where {{ ?a ?b ?c . OPTIONAL {{ service <{url}/x> {{ ?s ?p ?o }} }} }}",
    "SELECT * WHERE {{ BIND(<{url}/v> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
    "ASK {{ FILTER EXISTS {{ SERVICE <{url}/a> {{ ?s ?p ?o }} }} }}",
    "CONSTRUCT {{ ?s ?p ?o }} WHERE {{ SERVICE <{url}/c> {{ ?s ?p ?o }} }}",
    "SELECT * FROM <{url}/from> FROM NAMED <{url}/named> WHERE {{ ?s ?p ?o }}",  # FROM never fetches either
]


def test_service_and_from_never_fetch(server):
    with Listener() as listener:
        for template in SERVICE_QUERIES:
            query = template.format(url=listener.url)
            for response in (httpx.get(server.url + "/sparql", params={"query": query}),
                             httpx.post(server.url + "/sparql", data={"query": query}),
                             httpx.post(server.url + "/sparql", content=query.encode(),
                                        headers={"Content-Type": "application/sparql-query"})):
                if "SERVICE" in query.upper():
                    assert_json_error(response, 400, "service-refused")
                else:
                    assert response.status_code == 200
        time.sleep(0.5)
        assert listener.requests == []
    still_healthy(server)


def test_service_keyword_in_strings_names_and_comments_is_fine(server):
    query = """PREFIX ex: <http://example.org/>
    SELECT ?service WHERE { # SERVICE <http://127.0.0.1:9/> in a comment
      ?service ex:service "SERVICE <http://127.0.0.1:9/x>" } LIMIT 1"""
    assert httpx.get(server.url + "/sparql", params={"query": query}).status_code == 200


def test_jsonld_remote_context_is_not_fetched(server):
    with Listener() as listener:
        document = json.dumps({"@context": listener.url + "/context.jsonld", "@id": "http://example.org/x",
                               "name": "x"}).encode()
        nested = json.dumps({"@context": {"@vocab": "http://example.org/"}, "@id": "http://example.org/y",
                             "p": {"@context": [listener.url + "/nested"], "q": 1}}).encode()
        for body in (document, nested):
            for path in ("/descriptions", "/diagnose"):
                response = httpx.post(server.url + path, content=body, headers={
                    "Content-Type": "application/ld+json", "Authorization": f"Bearer {TOKEN}"}, timeout=60)
                error = assert_json_error(response, 400)
                assert error["error"] == "remote-context"
        assert listener.requests == []
    still_healthy(server)


def billion_laughs(levels: int = 9) -> bytes:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, levels + 1))
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [{entities}]>\n'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">'
            f'<rdf:Description rdf:about="http://example.org/a"><ex:p>&lol{levels};</ex:p></rdf:Description>'
            '</rdf:RDF>').encode()


def external_entity(url: str) -> bytes:
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [<!ENTITY ext SYSTEM "{url}/xxe">'
            '<!ENTITY file SYSTEM "file:///etc/passwd">]>\n'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">'
            '<rdf:Description rdf:about="http://example.org/a"><ex:p>&ext;&file;</ex:p></rdf:Description>'
            '</rdf:RDF>').encode()


def test_pyoxigraph_expands_internal_entities_so_the_guard_is_needed():
    """Why DOCTYPE is refused before parsing: pyoxigraph's RDF/XML parser expands internal entities."""
    triples = list(ox.parse(billion_laughs(levels=3), format=ox.RdfFormat.RDF_XML))
    assert len(triples[0].object.value) == 3 * 10 ** 3  # 1000 x "lol": a 9-level document would be 3 GB


def test_pyoxigraph_does_not_resolve_external_entities():
    with Listener() as listener:
        with pytest.raises(SyntaxError):
            list(ox.parse(external_entity(listener.url), format=ox.RdfFormat.RDF_XML))
        assert listener.requests == []


def test_rdfxml_entities_are_refused(server):
    with Listener() as listener:
        for body in (billion_laughs(), external_entity(listener.url),
                     b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "' + listener.url.encode() + b'/dtd"><x/>'):
            for path in ("/descriptions", "/diagnose"):
                started = time.monotonic()
                response = httpx.post(server.url + path, content=body, timeout=30, headers={
                    "Content-Type": "application/rdf+xml", "Authorization": f"Bearer {TOKEN}"})
                assert_json_error(response, 400, "xml-declaration-refused")
                assert time.monotonic() - started < 5
        assert listener.requests == []
    still_healthy(server)


def test_oversized_body_is_413(server):
    big = b"# padding\n" * 40_000  # 400 kB > 256 kB limit
    declared = httpx.post(server.url + "/descriptions", content=big,
                          headers={"Content-Type": "application/yaml", "Authorization": f"Bearer {TOKEN}"})
    assert_json_error(declared, 413, "too-large")

    def chunks():
        for _ in range(40):
            yield b"# padding\n" * 1000

    streamed = httpx.post(server.url + "/diagnose", content=chunks(), headers={"Content-Type": "application/yaml"})
    assert_json_error(streamed, 413, "too-large")
    query = httpx.post(server.url + "/sparql", content=b"SELECT * WHERE { ?s ?p ?o } #" + b"x" * 300_000,
                       headers={"Content-Type": "application/sparql-query"})
    assert_json_error(query, 413, "too-large")
    still_healthy(server)


def test_pathological_query_hits_the_timeout(server):
    cross = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    started = time.monotonic()
    response = httpx.get(server.url + "/sparql", params={"query": cross}, timeout=60)
    elapsed = time.monotonic() - started
    assert_json_error(response, 503, "query-timeout")
    assert response.headers.get("retry-after")
    assert elapsed < 15
    still_healthy(server)
    # several at once: every one refused cleanly, the pool recovers
    with httpx.Client(timeout=60) as client:
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: client.get(server.url + "/sparql", params={"query": cross}), range(4)))
    assert all(a.status_code == 503 for a in answers)
    still_healthy(server)


@pytest.mark.parametrize("header,status", [(None, 401), ("Bearer wrong-token-0123456789", 403), ("Basic abc", 401),
                                           (f"bearer {TOKEN}x", 403)])
def test_writes_need_the_right_token(server, header, status):
    headers = {"Content-Type": "application/yaml"}
    if header:
        headers["Authorization"] = header
    for method, path in (("POST", "/descriptions"), ("PUT", "/descriptions/fleet"),
                         ("PUT", "/descriptions/new-one"), ("DELETE", "/descriptions/fleet")):
        response = httpx.request(method, server.url + path, content=MINI, headers=headers)
        body = assert_json_error(response, status)
        assert body["error"] == ("unauthorized" if status == 401 else "forbidden")
        if status == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")
    listed = httpx.get(server.url + "/descriptions").json()["descriptions"]
    assert [d["id"] for d in listed] == ["fleet"] and listed[0]["version"] == 1
    still_healthy(server)


def test_refuses_to_start_with_open_writes(tmp_path):
    srv = Server(tmp_path / "data", token=None)
    result = subprocess.run(srv.command(), env=srv.environment(), capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "refusing to start" in result.stderr and "--allow-open-writes" in result.stderr
    exposed = Server(tmp_path / "data2", token=None, args=["--allow-open-writes"])
    command = exposed.command()
    command[command.index("--host") + 1] = "0.0.0.0"
    result = subprocess.run(command, env=exposed.environment(), capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "loopback" in result.stderr


def test_open_writes_for_local_use(tmp_path):
    srv = Server(tmp_path / "data", token=None, args=["--allow-open-writes"]).start()
    try:
        response = httpx.put(srv.url + "/descriptions/local", content=MINI,
                             headers={"Content-Type": "application/yaml"}, timeout=60)
        assert response.status_code == 201
        assert httpx.get(srv.url + "/health").json()["writes"] == "open"
    finally:
        srv.stop()


def test_no_traceback_on_odd_input(server):
    odd = [
        ("POST", "/descriptions?format=yaml", b"\xff\xfe\x00garbage", {}),
        ("POST", "/diagnose?format=turtle", b"@prefix : <x> . :a :b", {}),
        ("POST", "/diagnose?format=ntriples", b"<a> <b> <c>", {}),
        ("POST", "/diagnose?format=rdfxml", b"<rdf:RDF", {}),
        ("POST", "/diagnose?format=json", b"[1, 2", {}),
        ("POST", "/diagnose?format=jsonld", b'{"@context": 5}', {}),
        ("GET", "/sparql?query=" + "%7B" * 5000, b"", {}),
        ("POST", "/sparql", b"query=%ZZ", {"Content-Type": "application/x-www-form-urlencoded"}),
    ]
    for method, path, body, headers in odd:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/octet-stream", **headers}
        response = httpx.request(method, server.url + path, content=body, headers=headers, timeout=60)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:300])
        assert_json_error(response, response.status_code)
    still_healthy(server)


def test_free_port_helper_is_loopback():
    assert 0 < free_port() < 65536
