"""The web page in a real browser: Debian's chromium, driven by Playwright, against a real `sortai serve`.

Every request the browser makes is watched: anything not on the loopback address is refused and fails the
test (the page must load nothing from the network), and so does any console error (a Content-Security-Policy
violation is one). Screenshots go to build/screenshots/ (or $SORTAI_SCREENSHOT_DIR); look at them.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_api_support import EXAMPLES, ROOT, TOKEN, LoopbackHTTPServer, Server, upload

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install chromium chromium-driver; .ci/run does)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the [test] extras")

# Flags for this machine's closed network (no background fetches by the browser itself) and for root.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
SHOTS = Path(os.environ.get("SORTAI_SCREENSHOT_DIR", ROOT / "build" / "screenshots"))
VENDORED = ROOT / "api" / "ui" / "static" / "vendor" / "yasgui"
DISAGG = EXAMPLES / "disaggregated-h100-l4"
MIXED = EXAMPLES / "mixed-vendor-pools"
SAI = "https://w3id.org/sortai/ontology#"


def expected(example: Path) -> list[dict]:
    return json.loads((example / "expected-diagnoses.json").read_text())


def shot(page, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def explanation_nodes(tree: dict) -> list[dict]:
    out = [tree]
    for child in tree.get("because", []):
        out += explanation_nodes(child)
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("web") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def stored(server):
    """Two descriptions stored through the API (the page's own upload is tested separately)."""
    with server.client() as client:
        for example in (DISAGG, MIXED):
            response = upload(client, example / "description.yaml", "api-" + example.name)
            assert response.status_code == 201, response.text
    return {"before": "api-" + DISAGG.name, "after": "api-" + MIXED.name}


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


class Watched:
    """A page whose requests and console are recorded. The browser resolves no host name but localhost, and
    any request to another host fails the test. (Not ``page.route``: while Playwright intercepts, it answers
    CORS preflights itself, so a refused preflight would never reach the server.)"""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1360, "height": 900})
        self.page = self.context.new_page()
        self.urls: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.urls.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    @property
    def outside(self) -> list[str]:
        return [u for u in self.urls if not u.startswith(("data:", "blob:"))
                and urlsplit(u).hostname not in ("127.0.0.1", "localhost")]

    def allow(self, *fragments: str) -> None:
        """Console errors that the test provoked on purpose (a refused write, a refused preflight)."""
        self.errors[:] = [e for e in self.errors if not any(f in e for f in fragments)]

    def close(self) -> None:
        self.context.close()
        assert not self.outside, f"the page tried to reach the network: {self.outside}"
        assert not self.errors, self.errors


@pytest.fixture
def watched(browser):
    w = Watched(browser)
    yield w
    w.close()


def enter_token(page) -> None:
    page.get_by_label("Write token").fill(TOKEN)
    page.get_by_role("button", name="Use", exact=True).click()
    sync_api.expect(page.locator("#token-status")).to_have_text("set for this tab")


# --- the same-origin page ------------------------------------------------------------------------------


def test_upload_an_example_see_its_diagnoses_and_open_an_explanation(watched, server):
    page = watched.page
    page.goto(server.url + "/")
    sync_api.expect(page.get_by_role("heading", name="Fleet descriptions")).to_be_visible()
    enter_token(page)
    shot(page, "01-home")
    page.get_by_label("File", exact=True).set_input_files(str(DISAGG / "description.yaml"))
    sync_api.expect(page.get_by_label("Description text")).to_have_value(re.compile("id: disaggregated-h100-l4"))
    page.get_by_role("button", name="Store and diagnose").click()
    page.wait_for_url(re.compile(r"/ui/descriptions/disaggregated-h100-l4$"), timeout=120_000)

    want = {d["id"]: d for d in expected(DISAGG)}
    rows = page.locator("table.diagnoses tbody tr")
    sync_api.expect(rows).to_have_count(len(want))
    links = [rows.nth(i).get_by_role("link", name=re.compile("^Explain")) for i in range(rows.count())]
    shown = [link.get_attribute("href").split("/explanations/", 1)[1] for link in links]
    assert sorted(shown) == sorted(want)
    badges = [rows.nth(i).locator(".badge").first.inner_text().lower() for i in range(rows.count())]
    assert badges == [want[i]["severity"].split()[0].lower() for i in shown]
    ranks = {"critical": 0, "high": 1, "moderate": 2, "low": 3}
    assert [ranks[b] for b in badges] == sorted(ranks[b] for b in badges), "ranked most severe first"
    record = httpx.get(server.url + "/descriptions/disaggregated-h100-l4").json()
    for i, d in enumerate(sorted(record["diagnoses"], key=lambda d: shown.index(d["id"]))):
        headline = d.get("headline") or f"{d['mode_label']} on {d['component']}"
        sync_api.expect(rows.nth(i).locator(".headline")).to_have_text(headline)
    shot(page, "02-description")

    first = shown[0]
    links[0].click()
    page.wait_for_url(re.compile("/explanations/"), timeout=120_000)
    sync_api.expect(page.get_by_role("heading", level=1)).to_have_text(
        record["diagnoses"][0].get("headline") or
        f"{record['diagnoses'][0]['mode_label']} on {record['diagnoses'][0]['component']}")
    api = httpx.get(f"{server.url}/descriptions/disaggregated-h100-l4/diagnoses/{first}/explanation",
                    timeout=120).json()
    nodes = explanation_nodes(api)
    # The tree shows every node of the API's explanation, facts with their file and line.
    assert page.locator("#tree li").count() == len(nodes)
    asserted = [n for n in nodes if n["kind"] == "asserted"]
    assert asserted and page.locator("#tree li.k-asserted").count() == len(asserted)
    fact = asserted[0]
    sync_api.expect(page.locator("#tree li.k-asserted").first).to_contain_text(f"line {fact['source']['line']}")
    rules = {n["rule"]["id"] for n in nodes if n.get("rule")}
    assert {r.text_content() for r in page.locator("#tree .rule-id").all()} == rules
    if shutil.which("dot"):
        # One box per distinct statement, one ellipse per distinct rule application, and the root:
        statements = {(n["statement"]["subject"], n["statement"]["property"], n["statement"]["value"])
                      for n in nodes[1:] if n["kind"] != "omitted"}
        applications = {(n["rule"]["id"], n["statement"]["subject"], n["statement"]["property"],
                         n["statement"]["value"], tuple((c["statement"]["subject"], c["statement"]["property"],
                                                          c["statement"]["value"]) for c in n.get("because", [])
                                                         if c["kind"] != "omitted"))
                        for n in nodes if n.get("rule") and n["kind"] == "derived"}
        graph = page.locator("#graph svg")
        sync_api.expect(graph.locator("g.node")).to_have_count(len(statements) + len(applications) + 1,
                                                             timeout=60_000)
        assert graph.locator("g.node ellipse").count() == len(applications)
        sync_api.expect(graph.locator("g.node").filter(has_text=fact["source"]["file"]).first).to_be_attached()
        assert page.locator("#graph").evaluate("g => g.scrollLeft") > 0, "scrolled to the diagnosis"
    else:
        sync_api.expect(page.locator(".notice")).to_contain_text("Graphviz")
    shot(page, "03-explanation")


def test_problems_are_shown_against_the_source_lines(watched, server):
    page = watched.page
    page.goto(server.url + "/")
    for broken in ("unknown-key.yaml", "yaml-syntax.yaml", "dangling-reference.yaml"):
        path = EXAMPLES / "broken" / broken
        lines = path.read_text().splitlines()
        want = json.loads((path.parent / (broken + ".expected.json")).read_text())
        page.get_by_label("Description text").fill(path.read_text())
        page.get_by_label("Format").select_option("yaml")
        page.get_by_role("button", name="Check (store nothing)").click()
        sync_api.expect(page.locator("#check-heading")).to_be_focused()
        marked = page.locator("#check-result tr.has-problem")
        sync_api.expect(marked).to_have_count(len({p["line"] for p in want}))
        for problem in want:
            row = page.locator(f"#C{problem['line']}")
            assert row.locator("td.ln").inner_text() == str(problem["line"])
            assert row.locator("pre").inner_text() == lines[problem["line"] - 1]
            sync_api.expect(row.locator(".problem")).to_contain_text(problem["message_contains"])
        shot(page, f"04-check-{path.stem}")


def test_writes_need_the_token_and_it_never_enters_a_url(watched, server):
    page = watched.page
    page.goto(server.url + "/")
    page.get_by_label("Description text").fill((EXAMPLES / "homogeneous-h100" / "description.yaml").read_text())
    page.get_by_label("Id to store it under").fill("token-check")
    page.get_by_role("button", name="Store and diagnose").click()
    sync_api.expect(page.locator("#upload-status")).to_have_text(re.compile("Enter the write token"))
    assert httpx.get(server.url + "/descriptions/token-check").status_code == 404
    page.get_by_label("Write token").fill("wrong-token-0123456789")
    page.get_by_role("button", name="Use", exact=True).click()
    page.get_by_role("button", name="Store and diagnose").click()
    sync_api.expect(page.locator("#upload-status")).to_have_text(re.compile("refused the token"))
    enter_token(page)
    page.get_by_role("button", name="Store and diagnose").click()
    page.wait_for_url(re.compile("/ui/descriptions/token-check$"), timeout=120_000)
    # the token was entered once: it is still there on the next pages, to replace and to delete
    page.goto(server.url + "/")
    page.get_by_label("Description text").fill((DISAGG / "description.yaml").read_text())
    page.get_by_label("Id to store it under").fill("token-check")
    page.get_by_role("button", name="Store and diagnose").click()
    sync_api.expect(page.locator("#upload-status")).to_have_text(re.compile("is taken; PUT replaces it"))
    page.get_by_label("Replace if the id exists").check()
    page.get_by_role("button", name="Store and diagnose").click()
    page.wait_for_url(re.compile("/ui/descriptions/token-check$"), timeout=120_000)
    sync_api.expect(page.locator("dl.facts")).to_contain_text(re.compile(r"Version\s*2,"))
    sync_api.expect(page.locator("table.diagnoses tbody tr")).to_have_count(len(expected(DISAGG)))
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete…").click()
    page.wait_for_url(server.url + "/")
    assert httpx.get(server.url + "/descriptions/token-check").status_code == 404
    assert not [u for u in watched.urls if TOKEN in u or "wrong-token" in u]
    assert page.evaluate("() => JSON.stringify(localStorage)").find(TOKEN) < 0  # only this tab's session
    watched.allow("status of 401 (Unauthorized)", "status of 403 (Forbidden)", "status of 409 (Conflict)")


def test_everything_rendered_is_escaped(watched, server):
    """Markup in a description (a label, a key) is shown as text: in the checked fragment (inserted with
    innerHTML) and on the stored description's page."""
    page = watched.page
    page.goto(server.url + "/")
    text = (EXAMPLES / "homogeneous-h100" / "description.yaml").read_text()
    label = "<img src=x onerror=window.pwned=1>"
    key = "<script>window.pwned=2</script>"
    hostile = re.sub(r"(?m)^label: .*$", f'label: "{label}"', text, count=1) + f'\n"{key}": 1\n'
    page.get_by_label("Description text").fill(hostile)
    page.get_by_role("button", name="Check (store nothing)").click()
    sync_api.expect(page.locator("#check-result .problem").first).to_contain_text(f"unknown key '{key}'")
    sync_api.expect(page.locator("#check-result pre").filter(has_text=label)).to_have_count(1)
    enter_token(page)
    page.get_by_label("Id to store it under").fill("hostile")
    page.get_by_role("button", name="Store and diagnose").click()
    page.wait_for_url(re.compile("/ui/descriptions/hostile$"), timeout=120_000)
    sync_api.expect(page.locator(".source pre").filter(has_text=label)).to_have_count(1)
    sync_api.expect(page.locator(".source .problem").first).to_contain_text(key)
    assert page.evaluate("() => window.pwned") is None
    assert page.locator("main img").count() == 0 and page.locator("main script").count() == 0
    shot(page, "08-escaped")


def test_compare_two_stored_descriptions(watched, server, stored):
    page = watched.page

    def compare(before_id: str, after_id: str) -> None:
        page.goto(server.url + "/ui/compare")
        page.get_by_label("Before").select_option(before_id)
        page.get_by_label("After").select_option(after_id)
        page.get_by_role("button", name="Compare").click()
        page.wait_for_url(re.compile(r"/ui/compare\?before="))

    def ids(section: str, selector: str = "table.diagnoses a") -> set[str]:
        hrefs = page.locator(f"section[aria-labelledby={section}] {selector}").all()
        return {h.get_attribute("href").split("/explanations/", 1)[1] for h in hrefs}

    # two different fleets: what each expected-diagnoses.json has and the other has not
    compare(stored["before"], stored["after"])
    before, after = {d["id"] for d in expected(DISAGG)}, {d["id"] for d in expected(MIXED)}
    assert ids("gained") == after - before
    assert ids("lost") == before - after
    shot(page, "05-compare")

    # the same fleet with half the p99 prompt: the same diagnoses, some with other numbers
    variant = (DISAGG / "description.yaml").read_text().replace("promptTokensP99: 32000", "promptTokensP99: 16000")
    assert "16000" in variant
    with server.client() as client:
        assert upload(client, DISAGG / "description.yaml", "api-shorter-prompts", data=variant.encode()
                      ).status_code == 201
        old = {d["id"]: d for d in client.get(f"/descriptions/{stored['before']}").json()["diagnoses"]}
        new = {d["id"]: d for d in client.get("/descriptions/api-shorter-prompts").json()["diagnoses"]}
    compare(stored["before"], "api-shorter-prompts")
    assert ids("gained") == set(new) - set(old) and ids("lost") == set(old) - set(new)
    changed = {i for i in set(old) & set(new) if old[i] != new[i]}
    assert changed, "halving the prompt changes some figure"
    assert ids("changed", "table.changes a:text-is('after')") == changed
    for i in changed:
        if old[i]["severity_score"] != new[i]["severity_score"]:
            row = page.locator("table.changes tr").filter(has_text=f"{old[i]['severity_score']}")
            sync_api.expect(row.filter(has_text="severity score").first).to_contain_text(str(new[i]["severity_score"]))
    shot(page, "05-compare-changed")


def test_keyboard_labels_and_contrast(watched, server, stored):
    page = watched.page
    page.goto(server.url + "/")
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
        .map(e => e.outerHTML)""")
    assert unlabelled == []
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    # from the list of descriptions to an explanation with the keyboard alone
    page.goto(f"{server.url}/ui/descriptions/{stored['before']}")
    for _ in range(60):
        page.keyboard.press("Tab")
        if (page.evaluate("() => document.activeElement.textContent") or "").strip() == "Explain":
            break
    else:
        pytest.fail("no Explain link reached with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("/explanations/"), timeout=120_000)
    summary = page.locator("#tree details summary").nth(2)
    summary.focus()
    was_open = page.locator("#tree details").nth(2).evaluate("d => d.open")
    page.keyboard.press("Enter")
    assert page.locator("#tree details").nth(2).evaluate("d => d.open") != was_open
    # WCAG AA: text against the colour behind it, on every kind of page
    for path in ("/", f"/ui/descriptions/{stored['before']}", "/ui/compare", "/ui/sparql"):
        page.goto(server.url + path)
        pairs = page.evaluate(CONTRAST_PAIRS)
        assert pairs, path
        low = [(text, fg, bg, round(contrast(fg, bg), 2)) for text, fg, bg in pairs if contrast(fg, bg) < 4.5]
        assert not low, (path, low[:10])


CONTRAST_PAIRS = """() => {
  const opaque = (el) => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c;
    }
    return 'rgb(255, 255, 255)';
  };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest('#yasgui, .sr-only, .skip, noscript, script, style')) continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
    out.push([node.textContent.trim().slice(0, 40), getComputedStyle(el).color, opaque(el)]);
  }
  return out;
}"""


def _luminance(css: str) -> float:
    r, g, b = (int(x) / 255 for x in re.findall(r"[\d.]+", css)[:3])
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(fg: str, bg: str) -> float:
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


# --- SPARQL in YASGUI, from the same origin and from another one ---------------------------------------

QUERY = f"""PREFIX sai: <{SAI}>
SELECT DISTINCT ?diagnosis WHERE {{
  ?diagnosis a sai:Diagnosis .
  FILTER(STRSTARTS(STR(?diagnosis), "DEPLOYMENT/"))
}}"""


def run_in_yasgui(page, query: str) -> set[str]:
    """Type the query into the editor, run it with Ctrl+Enter, and read the IRIs in the result table."""
    editor = page.locator(".yasqe .CodeMirror").first
    sync_api.expect(editor).to_be_visible(timeout=30_000)
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(query)
    page.keyboard.press("Control+Enter")
    table = page.locator(".yasr table.dataTable tbody")
    sync_api.expect(table.locator("tr").first).to_be_visible(timeout=60_000)
    return {a.get_attribute("href") for a in table.locator("a").all()}


def expected_iris(server, description_id: str, example: Path) -> tuple[str, set[str]]:
    deployment = httpx.get(f"{server.url}/descriptions/{description_id}").json()["deployment"]
    return deployment, {f"{deployment}/{d['id']}" for d in expected(example)}


def test_sparql_in_the_editor_on_the_same_origin(watched, server, stored):
    page = watched.page
    page.goto(server.url + "/ui/sparql")
    sync_api.expect(page.locator(".yasgui")).to_be_visible(timeout=30_000)
    sync_api.expect(page.locator(".yasqe .CodeMirror")).to_contain_text("SELECT ?diagnosis ?what")
    deployment, want = expected_iris(server, stored["before"], DISAGG)
    assert run_in_yasgui(page, QUERY.replace("DEPLOYMENT", deployment)) == want
    shot(page, "06-sparql")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class ForeignSite(LoopbackHTTPServer):
    """Another origin (another port): a plain HTTP server with a YASGUI page pointed at the service, and a
    script that tries a read and a write with fetch."""

    def __init__(self, root: Path, endpoint: str, service: str):
        for name in ("yasgui.min.js", "yasgui.min.css"):
            shutil.copy(VENDORED / name, root / name)
        (root / "index.html").write_text(FOREIGN_PAGE.replace("ENDPOINT", endpoint).replace("SERVICE", service)
                                         .replace("TOKEN", TOKEN))
        super().__init__(functools.partial(_Quiet, directory=str(root)), "/index.html")


FOREIGN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Another site's YASGUI</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="yasgui.min.css"><script src="yasgui.min.js"></script></head>
<body><h1>Another site</h1><p id="read">…</p><p id="write">…</p><div id="yasgui"></div>
<script>
window.yasgui = new Yasgui(document.getElementById("yasgui"), {
  requestConfig: {endpoint: "ENDPOINT", method: "POST"}, yasqe: {autocompleters: ["prefixes", "variables"]},
  persistenceId: null});
fetch("SERVICE/descriptions").then(r => r.json())
  .then(b => { document.getElementById("read").textContent = "read " + b.descriptions.length; })
  .catch(e => { document.getElementById("read").textContent = "read failed: " + e; });
fetch("SERVICE/descriptions?id=from-elsewhere", {method: "POST", body: "id: x",
      headers: {"Content-Type": "application/yaml", "Authorization": "Bearer TOKEN"}})
  .then(r => { document.getElementById("write").textContent = "write answered " + r.status; })
  .catch(e => { document.getElementById("write").textContent = "write blocked: " + e; });
</script></body></html>"""


def test_sparql_in_yasgui_on_another_origin(watched, server, stored, tmp_path):
    with ForeignSite(tmp_path, server.url + "/sparql", server.url) as site:
        page = watched.page
        page.goto(site.url)
        assert urlsplit(site.url).port != urlsplit(server.url).port
        count = len(httpx.get(server.url + "/descriptions").json()["descriptions"])
        sync_api.expect(page.locator("#read")).to_have_text(f"read {count}", timeout=30_000)
        # writes are open only to configured origins (none here): the preflight fails, nothing is stored
        sync_api.expect(page.locator("#write")).to_have_text(re.compile("^write blocked"), timeout=30_000)
        assert httpx.get(server.url + "/descriptions/from-elsewhere").status_code == 404
        deployment, want = expected_iris(server, stored["after"], MIXED)
        assert run_in_yasgui(page, QUERY.replace("DEPLOYMENT", deployment)) == want
        shot(page, "07-sparql-other-origin")
    # Chromium reports the refused preflight on the console; that one is expected here.
    watched.allow("CORS policy", "net::ERR_FAILED")


# --- the API documentation, offline ----------------------------------------------------------------------


def test_docs_render_with_the_network_off(watched, server):
    """Swagger UI and ReDoc render from local assets; the watcher fails the test on any non-loopback request."""
    page = watched.page
    page.goto(server.url + "/docs")
    operations = page.locator(".swagger-ui .opblock")
    sync_api.expect(operations.first).to_be_visible(timeout=30_000)
    paths = set(httpx.get(server.url + "/openapi.json").json()["paths"])
    assert operations.count() >= len(paths)  # one block per operation; a path may have several
    sync_api.expect(page.locator(".swagger-ui button.authorize")).to_be_visible()  # the bearer scheme
    shot(page, "08-docs")
    page.goto(server.url + "/redoc")
    sync_api.expect(page.locator("redoc [role=menuitem]").first).to_be_visible(timeout=30_000)
    sync_api.expect(page.locator("redoc h1").first).to_be_visible()
    shot(page, "09-redoc", full_page=False)  # the whole reference is ~20,000 px tall
