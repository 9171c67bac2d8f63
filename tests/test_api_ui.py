"""The web page's server side over HTTP (no browser): negotiation at `/`, headers, the assets, the check guard;
and the pieces behind the pages (source annotation, comparison, proof graph). tests/test_web_page.py drives
the same pages in Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from sortai.api.comparison import compare
from sortai.api.explanation_graph import proof_graph
from sortai.api.routers.ui import annotated_source
from test_api_support import EXAMPLES, ROOT, Server, assert_json_error, upload

DISAGG = EXAMPLES / "disaggregated-h100-l4" / "description.yaml"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("ui") / "data").start()
    with srv.client() as client:
        assert upload(client, DISAGG, "fleet").status_code == 201
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def diagnosis(server):
    return httpx.get(server.url + "/descriptions/fleet").json()["diagnoses"][0]["id"]


def pages(diagnosis: str) -> list[str]:
    return ["/", "/ui/descriptions/fleet", f"/ui/descriptions/fleet/explanations/{diagnosis}", "/ui/compare",
            "/ui/compare?before=fleet&after=fleet", "/ui/sparql"]


def test_index_is_json_for_clients_and_the_page_for_browsers(server):
    for accept in (None, "*/*", "application/json", "text/html;q=0.5, application/json"):
        response = httpx.get(server.url + "/", headers={"Accept": accept} if accept else {})
        assert response.headers["content-type"] == "application/json", accept
        assert response.json()["sparql"] == "/sparql"
        assert "accept" in response.headers["vary"].lower()
    page = httpx.get(server.url + "/", headers={"Accept": BROWSER})
    assert page.headers["content-type"].startswith("text/html") and "accept" in page.headers["vary"].lower()
    assert '<a href="/ui/descriptions/fleet">fleet</a>' in page.text
    assert httpx.get(server.url + "/", headers={"Accept": "application/json;q=0, text/html"}).headers[
        "content-type"].startswith("text/html")


def test_every_page_answers_with_its_policy_head_and_etag(server, diagnosis):
    for path in pages(diagnosis):
        got = httpx.get(server.url + path, headers={"Accept": BROWSER, "Accept-Encoding": "identity"}, timeout=120)
        assert got.status_code == 200 and got.headers["content-type"] == "text/html; charset=utf-8", path
        policy = got.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy and "unsafe-eval" not in policy
        assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
        assert got.headers["x-content-type-options"] == "nosniff"
        head = httpx.head(server.url + path, headers={"Accept": BROWSER, "Accept-Encoding": "identity"}, timeout=120)
        assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(
            len(got.content)), path
        again = httpx.get(server.url + path, headers={"Accept": BROWSER, "If-None-Match": got.headers["etag"]},
                          timeout=120)
        assert again.status_code == 304, path


def test_pages_load_only_their_own_assets(server, diagnosis):
    """Scripts, styles, icons and images come from this origin; only plain links may point elsewhere."""
    for path in pages(diagnosis):
        html = httpx.get(server.url + path, headers={"Accept": BROWSER}, timeout=120).text
        loaded = re.findall(r"<(?:script|img|link|iframe|source)\b[^>]*?(?:src|href)=\"([^\"]+)\"", html)
        assert loaded, path
        for url in loaded:
            assert url.startswith("/") and not url.startswith("//"), (path, url)
            assert httpx.get(server.url + url, timeout=120).status_code == 200, url
        assert "@import" not in html and "url(http" not in html


def test_assets(server):
    css = httpx.get(server.url + "/ui/static/vendor/yasgui/yasgui.min.css")
    js = httpx.get(server.url + "/ui/static/vendor/yasgui/yasgui.min.js")
    assert css.headers["content-type"].startswith("text/css") and js.headers["content-type"].startswith("text/javascript")
    assert "max-age" in js.headers["cache-control"]
    assert not re.search(r"url\((['\"]?)(https?:)?//", css.text), "the editor's CSS loads nothing remote"
    licences = httpx.get(server.url + "/ui/static/vendor/yasgui/THIRD-PARTY-LICENSES.txt").text
    pinned = json.loads((ROOT / "api" / "ui" / "vendor" / "package.json").read_text())["dependencies"]
    [(package, version)] = pinned.items()
    assert f"{package} {version}" in licences and "Permission is hereby granted" in licences
    assert httpx.get(server.url + "/ui/static/vendor/yasgui/VERSION").text.strip() == f"{package} {version}"
    for bad in ("/ui/static/../routers/ui.py", "/ui/static/%2e%2e/routers/ui.py", "/ui/static/nothing.js",
                "/ui/static/vendor"):
        assert_json_error(httpx.get(server.url + bad), 404)


def test_check_has_the_cross_site_guard_of_diagnose(server):
    for media in ("text/plain", "application/x-www-form-urlencoded", ""):
        response = httpx.post(server.url + "/ui/check?format=yaml", content=DISAGG.read_bytes(),
                              headers={"Content-Type": media} if media else {})
        assert_json_error(response, 415)
    ok = httpx.post(server.url + "/ui/check?filename=f.yaml", content=DISAGG.read_bytes(),
                    headers={"Content-Type": "application/yaml"}, timeout=120)
    assert ok.status_code == 200 and "Check of <code>f.yaml</code>" in ok.text
    assert httpx.get(server.url + "/descriptions").json()["descriptions"][0]["id"] == "fleet"  # nothing stored
    # a cross-origin page cannot get past the preflight: POST /ui/check is not a read
    preflight = httpx.options(server.url + "/ui/check", headers={
        "Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert "access-control-allow-origin" not in preflight.headers


def test_missing_things_are_json_errors(server):
    assert_json_error(httpx.get(server.url + "/ui/descriptions/nope"), 404)
    assert_json_error(httpx.get(server.url + "/ui/descriptions/fleet/explanations/no/such/diagnosis"), 404)
    assert_json_error(httpx.get(server.url + "/ui/compare?before=fleet&after=nope"), 404)
    assert_json_error(httpx.get(server.url + "/ui/descriptions/bad%20id"), 422)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed (.ci/run installs graphviz)")
def test_proof_graph_svg(server, diagnosis):
    response = httpx.get(f"{server.url}/ui/descriptions/fleet/explanation-graphs/{diagnosis}", timeout=120)
    assert response.status_code == 200 and response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.text.lstrip().startswith("<?xml") and "<script" not in response.text


# --- the pieces behind the pages ------------------------------------------------------------------------


def problem(line, file="f.yaml", message="m"):
    return {"message": message, "location": {"file": file, "line": line, "column": 1}, "severity": "violation"}


def test_annotated_source_puts_problems_on_their_lines():
    text = "a\nb\nc\n"
    view = annotated_source(text, [problem(2), problem(2, message="again"), problem(9), problem(1, "other.yaml"),
                                   {"message": "no place", "severity": "violation"}], "f.yaml")
    assert [(r["number"], r["text"], [p["message"] for p in r["problems"]]) for r in view["rows"]] == [
        (1, "a", []), (2, "b", ["m", "again"]), (3, "c", [])]
    assert [p["message"] for p in view["apart"]] == ["m", "m", "no place"]  # line 9 of 3, another file, no line
    assert view["lines"] == 3 and not view["excerpt"]


def test_a_long_source_shows_the_lines_around_each_problem():
    text = "\n".join(f"line {n}" for n in range(1, 10_001))
    view = annotated_source(text, [problem(5000)], "f.yaml")
    numbers = [r["number"] for r in view["rows"] if "number" in r]
    assert numbers == list(range(4997, 5004)) and view["excerpt"]
    assert [r["gap"] for r in view["rows"] if "gap" in r] == [4996, 10_000 - 5003]


def diag(id, **fields):
    return {"id": id, "severity": "High severity", "severity_score": 0.6, "confidence": "Structural confidence",
            **fields}


def test_compare_gained_lost_changed():
    before = [diag("a"), diag("b"), diag("c", severity_score=0.3)]
    after = [diag("c", severity_score=0.9, severity="Critical severity"), diag("b"), diag("d")]
    result = compare(before, after)
    assert [d["id"] for d in result["gained"]] == ["d"]
    assert [d["id"] for d in result["lost"]] == ["a"]
    assert [d["id"] for d in result["unchanged"]] == ["b"]
    [changed] = result["changed"]
    assert changed["fields"] == {"severity_score": (0.3, 0.9), "severity": ("High severity", "Critical severity")}
    assert compare(before, before)["changed"] == [] and compare([], after)["gained"] == after


def leaf(subject, prop, value, kind="asserted", line=1):
    return {"statement": {"subject": subject, "property": prop, "value": value}, "kind": kind,
            "text": f"{subject} · {prop} = {value}", "source": {"file": "f.yaml", "line": line}}


def test_proof_graph_folds_repeated_statements_and_escapes_labels():
    odd = 'say "hi" \\N <b>&'
    fact = leaf("x", "label", odd)
    rule = {"id": "Q01", "label": "a rule", "sections": [], "formula": "y = x", "file": "r.ttl"}
    derived = {"statement": {"subject": "x", "property": "y", "value": "2"}, "kind": "derived", "text": "x · y = 2",
               "rule": rule, "values": {"v": "2"}, "because": [fact]}
    again = {"statement": {"subject": "x", "property": "z", "value": "3"}, "kind": "derived", "text": "x · z = 3",
             "rule": dict(rule, id="Q02"), "because": [fact, {**derived, "kind": "repeated", "because": []}]}
    tree = {"statement": {"subject": "d", "property": "diagnosis", "value": "d"}, "kind": "derived",
            "text": "diagnosis d", "because": [derived, again]}
    source = proof_graph(tree)
    # root, 3 statements (x·label once though used twice, x·y, x·z), 2 rule applications
    assert len(re.findall(r"^\s*n\d+ \[", source, re.MULTILINE)) == 6
    if shutil.which("dot"):
        import defusedxml.ElementTree as ET

        svg = subprocess.run(["dot", "-Tsvg"], input=source, capture_output=True, text=True, check=True).stdout
        texts = [t.text for t in ET.fromstring(svg.encode()).iter("{http://www.w3.org/2000/svg}text")]
        assert "label = " + odd in texts, texts  # quotes, backslash and markup drawn as they are
        # label→Q01→y→root, label→Q02, y→Q02 (the repeated premise, drawn once), Q02→z→root
        assert svg.count('class="edge"') == 7
