"""Manifests + Node labels + metrics + an SLO overlay → `sortai diagnose`, explanations down to the manifest line;
bad input is a message naming the file and line, never a traceback."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sortai.importers import auto, merge
from sortai.reasoner.cli import app

from .conftest import ROOT

EXAMPLE = ROOT / "examples" / "imported-llmd"
MANIFEST = "examples/imported-llmd/artefacts/llmd-pd-vllm-disaggregatedset.yaml"
runner = CliRunner()


def test_merge_binds_nodes_metrics_and_overlay():
    f = auto.import_all([EXAMPLE / "artefacts"], [EXAMPLE / "slo.yaml"])
    nodes = {n.id: n for n in f.elements("nodes")}
    assert nodes["pd-disagg-vllm-decode-nodes"].get("accelerator") == "H100-SXM"  # from the Node labels
    assert nodes["k8s-h100-sxm-nodes"].get("count") == 2
    components = {m.get("metric"): m.get("component") for m in f.elements("measurements")}
    assert components["dram-active"] == components["requests-waiting"] == "pd-disagg-vllm-decode"  # label pod=
    assert f.get("kvTransfers", "pd-disagg-vllm-prefill-to-pd-disagg-vllm-decode-kv").get("via") == ["kv-roce"]
    assert not [p for p in f.problems if p.severity == "violation"], [p.render() for p in f.problems]


def test_overlay_conflict_names_both_origins_and_artefact_conflicts_block(tmp_path):
    overlay = tmp_path / "o.yaml"
    overlay.write_text("pools:\n  - id: pd-disagg-vllm-decode\n    tensorParallel: 8\n")
    f = auto.import_all([EXAMPLE / "artefacts"], [EXAMPLE / "slo.yaml", overlay])
    override = [p for p in f.problems if p.code == "overlay-override"]
    assert override and "o.yaml:3" in override[0].message and "disaggregatedset.yaml:198" in override[0].message
    assert f.get("pools", "pd-disagg-vllm-decode").get("tensorParallel") == 8
    smi = ROOT / "tests" / "artefacts" / "nvidia-smi" / "l40s-nvidia-smi-capture.txt"
    nodes = merge.load_overlay(EXAMPLE / "slo.yaml")
    fragment = auto.import_all([EXAMPLE / "artefacts", smi])
    assert fragment.get("nodes", "l40s-nvidia-smi-capture") is not None and nodes


def test_diagnose_with_overlay_explains_down_to_the_manifest_line(monkeypatch):
    monkeypatch.chdir(ROOT)
    example = EXAMPLE.relative_to(ROOT)
    result = runner.invoke(app, ["diagnose", "-f", "json", "--overlay", str(example / "slo.yaml"),
                                 str(example / "artefacts")])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["diagnoses"]
    assert found
    written = runner.invoke(app, ["import", "all", str(example / "artefacts"), "--overlay", str(example / "slo.yaml"),
                                  "--id", "imported-llmd"])
    assert written.exit_code == 0
    assert written.stdout == (EXAMPLE / "description.yaml").read_text(), "regenerate the example (README there)"
    cited = set()
    for diagnosis in found:
        tree = json.loads(runner.invoke(app, ["explain", "-f", "json", str(example / "description.yaml"),
                                              diagnosis["id"]]).stdout)
        stack = [tree]
        while stack:
            node = stack.pop()
            stack.extend(node.get("because", []))
            source = node.get("source") or {}
            if "imported from" in source:
                cited.add(source["imported from"])
    assert f"{MANIFEST}:59" in cited  # the model id, which names the catalog entry
    assert len({c for c in cited if c.startswith(MANIFEST)}) >= 3
    assert any(c.startswith(MANIFEST) for c in cited) and any("decode-metrics.prom" in c for c in cited)


@pytest.mark.parametrize("command,content,name,line", [
    ("k8s", "just: [a, list\n", "bad.yaml", 2),
    ("k8s", "shopping:\n  - milk\n", "notk8s.yaml", 1),
    ("nvidia-smi", "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\n\n==============NVSMI LOG==============\n\n"
                   "Attached GPUs                 : 2\nGPU 00000000:01:00.0\n    Product Name        : NVIDIA H100 80GB HBM3\n",
     "cut.txt", 5),
    ("metrics", "vllm:num_requests_waiting{model_name=\"m\"} 3\nvllm:x{a=\"b\" 1\n", "m.prom", 2),
    ("metrics", "hello world\n", "words.prom", 1),
    ("nvidia-smi", b"\x00\x01binary\x00", "blob.txt", 1),
    ("k8s", b"\x00\x01binary\x00", "blob.yaml", 1),
])
def test_bad_input_names_file_and_line(tmp_path, command, content, name, line):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = runner.invoke(app, ["import", command, str(path)])
    assert result.exit_code in (2, 3), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{path}:{line}" in result.stderr, result.stderr


def test_metrics_without_type_lines_are_flagged(tmp_path):
    path = tmp_path / "untyped.prom"
    path.write_text('vllm:num_requests_waiting{model_name="m"} 3\nvllm:time_to_first_token_seconds_bucket'
                    '{le="+Inf",model_name="m"} 4\n')
    result = runner.invoke(app, ["import", "metrics", str(path)])
    assert f"{path}:1" in result.stderr and "TYPE" in result.stderr
    assert "time_to_first_token" not in result.stdout.split("measurements:")[-1].split("description")[0]
