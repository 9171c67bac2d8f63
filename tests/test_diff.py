"""`sortai diff` and GET /descriptions/{a}/diff/{b}: the migration example's two placements, an identical pair, and
a changed copy written by `sortai recommend`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sortai.reasoner.cli import app
from sortai.reasoner.description import load_file
from sortai.reasoner.diagnoses import diagnoses
from sortai.reasoner.engine import infer

sys.path.insert(0, str(Path(__file__).parent))
from test_api_support import Server, upload  # noqa: E402

HERE = Path(__file__).parent
ONPREM = HERE / "artefacts" / "migration-diff" / "onprem.yaml"
CLOUD = HERE / "artefacts" / "migration-diff" / "cloud.yaml"
DISAGG = HERE.parent / "examples" / "disaggregated-h100-l4" / "description.yaml"
SAI = "https://w3id.org/sortai/ontology#"
runner = CliRunner()


def number(path: Path, element: str, quantity: str) -> float:
    reasoning = infer(load_file(path))
    rows = list(reasoning.query(f"SELECT ?v WHERE {{ <{reasoning.description.base}{element}> <{SAI}{quantity}> ?v }}"))
    return float(rows[0]["v"].value)


def test_migration_before_and_after():
    result = runner.invoke(app, ["diff", "-f", "json", str(ONPREM), str(CLOUD)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    before = {d.id for d in diagnoses(infer(load_file(ONPREM)))}
    after = {d.id for d in diagnoses(infer(load_file(CLOUD)))}
    assert {d["id"] for d in data["gained"]} == after - before and {d["id"] for d in data["lost"]} == before - after
    assert {d["id"] for d in data["gained"]} == {"qwen72b-serving/finding/SLOBreach/TimeToFirstToken",
                                                 "qwen72b-serving/finding/SLOBreach/TimePerOutputToken"}
    # The coupling that changes with the move: 8 × 400G IB per node (50 GB/s a GPU) → 8 × 200G RoCE (25 GB/s).
    moved = {(n["element"], n["quantity"]): (n["before"], n["after"]) for n in data["numbers"]}
    key = ("qwen72b-serving", "scaleOutBandwidthPerAcceleratorGBps")
    assert moved[key] == (number(ONPREM, *key), number(CLOUD, *key)) == (50, 25)
    facts = {(f["element"], f["key"]): (f["before"], f["after"]) for f in data["facts"]}
    assert facts[("qwen72b-serving", "hostedOn")] == (["onprem-h100-nodes"], ["cloud-h100-nodes"])
    assert facts[("cloud-autoscaler", "(element)")] == ([], ["present"])
    text = runner.invoke(app, ["diff", str(ONPREM), str(CLOUD)]).stdout
    assert "2 gained, 0 lost" in text and "scaleOutBandwidthPerAcceleratorGBps: 50 → 25" in text
    markdown = runner.invoke(app, ["diff", "-f", "md", str(ONPREM), str(CLOUD)]).stdout
    assert "| gained | `qwen72b-serving/finding/SLOBreach/TimeToFirstToken` |" in markdown
    assert runner.invoke(app, ["diff", "--fail-on", "moderate", str(ONPREM), str(CLOUD)]).exit_code == 1
    assert runner.invoke(app, ["diff", "--fail-on", "high", str(ONPREM), str(CLOUD)]).exit_code == 0


def test_identical_pair_is_an_empty_diff():
    data = json.loads(runner.invoke(app, ["diff", "-f", "json", str(DISAGG), str(DISAGG)]).stdout)
    assert data["identical"] is True and not (data["gained"] or data["lost"] or data["changed"] or data["numbers"]
                                              or data["facts"])
    assert len(data["unchanged"]) == len(diagnoses(infer(load_file(DISAGG))))
    assert "identical" in runner.invoke(app, ["diff", str(DISAGG), str(DISAGG)]).stdout


def test_a_changed_copy_keeps_its_element_ids(tmp_path):
    """A Turtle copy under another file name still names its elements as the original does, so they match."""
    runner.invoke(app, ["recommend", str(ONPREM.parent.parent.parent.parent / "examples" / "hpa-descheduler" /
                                         "description.yaml"), "--write", str(tmp_path)])
    changed = next(tmp_path.glob("*/*.ttl"))
    renamed = tmp_path / "after.ttl"
    renamed.write_bytes(changed.read_bytes())
    example = HERE.parent / "examples" / "hpa-descheduler" / "description.yaml"
    data = json.loads(runner.invoke(app, ["diff", "-f", "json", str(example), str(renamed)]).stdout)
    assert [d["id"] for d in data["lost"]] == ["descheduler/diagnosis/LatencyAsymmetryDrift"] and not data["gained"]
    assert {"element": "descheduler", "key": "actuates", "before": ["placement", "replica-count"],
            "after": ["placement"]} in data["facts"]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("api") / "data").start()
    try:
        with server.client() as c:
            yield c
    finally:
        server.stop()


def test_api_diff_endpoint(client):
    ids = []
    for path in (ONPREM, CLOUD):
        response = upload(client, path)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
        assert all(d["headline"] and d["figures"] for d in response.json()["diagnoses"])
    data = client.get(f"/descriptions/{ids[0]}/diff/{ids[1]}").json()
    cli = json.loads(runner.invoke(app, ["diff", "-f", "json", str(ONPREM), str(CLOUD)]).stdout)
    assert [d["id"] for d in data["gained"]] == [d["id"] for d in cli["gained"]]
    assert data["numbers"] == cli["numbers"] and data["facts"] == cli["facts"]
    text = client.get(f"/descriptions/{ids[0]}/diff/{ids[1]}", headers={"Accept": "text/plain"})
    assert text.headers["content-type"].startswith("text/plain") and "2 gained, 0 lost" in text.text
    assert "| gained |" in client.get(f"/descriptions/{ids[0]}/diff/{ids[1]}?format=md").text
    assert client.get(f"/descriptions/{ids[0]}/diff/{ids[0]}").json()["identical"] is True
    missing = client.get(f"/descriptions/{ids[0]}/diff/no-such-description")
    assert missing.status_code == 404 and missing.json()["error"] == "not-found"
