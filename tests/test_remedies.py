"""Remedies: each kind, applied to an example, removes the diagnosis it targets, and what it reports (diagnoses
removed, left and introduced; the numbers that moved; the accelerators and their power) is what a user gets by
writing the changed description to a file and diagnosing that file."""

from __future__ import annotations

import math
from functools import cache

import pytest
from typer.testing import CliRunner

from sortai.reasoner import remedies
from sortai.reasoner.cli import app
from sortai.reasoner.description import load_file
from sortai.reasoner.diagnoses import diagnoses
from sortai.reasoner.engine import infer

from .conftest import EXAMPLES, MINIMAL

SAI = "https://w3id.org/sortai/ontology#"
CHAT = """
workloads:
  - id: chat
    servedBy: [serve]
    model: llama-8b
    promptTokensP50: 1000
    promptTokensP99: 4000
    outputTokensP50: 200
    outputTokensP99: 800
    arrivalRateRps: %s
    slo: {ttftMs: 2000, tpotMs: 50}
"""  # a chat workload on conftest's MINIMAL pool, at an arrival rate in req/s

# (example, remedy kind, the diagnosis it must remove)
CASES = [
    ("disaggregated-h100-l4", "decode-on-prefill-class", "prefill-to-decode-kv/diagnosis/MemoryPathIncoherence"),
    ("disaggregated-h100-l4", "kv-path-400g-per-gpu", "prefill-to-decode-kv/diagnosis/InterconnectCapacityInaccessibility"),
    ("disaggregated-h100-l4", "prefill-tensor-parallel", "document-qa/finding/TTFTTargetUnattainable"),
    ("disaggregated-h100-l4", "separate-inputs", "decode-batch-scheduler/diagnosis/LatencyAsymmetryDrift"),
    ("disaggregated-h100-l4", "fp8-weights", "l4-decode/diagnosis/MemoryPathIncoherence"),
    ("mixed-vendor-pools", "one-accelerator-class", "llama70b-mixed/diagnosis/MemoryPathIncoherence"),
    ("mig-multitenant", "whole-gpus", "lab-research-70b/diagnosis/InterconnectCapacityInaccessibility"),
    ("mig-multitenant", "larger-mig-profile", "insurer-claims-8b/diagnosis/MemoryPathIncoherence"),
    ("mig-multitenant", "fp8-kv-cache", "insurer-claims-8b/diagnosis/VirtualizationControlDistortion"),
    ("hpa-descheduler", "separate-actuators", "descheduler/diagnosis/LatencyAsymmetryDrift"),
    ("over-provisioned-h100", "remove-replicas", "llama70b-serving/finding/OverProvisioning"),
    ("oversubscribed-scaleout", "fp8-weights-in-one-domain", "llama405b-serving/diagnosis/InterconnectCapacityInaccessibility"),
]
# Remedies that remove one line of evidence of a diagnosis that has others: the condition goes, the diagnosis stays.
CONDITION_ONLY = [
    ("migration-onprem-to-cloud", "no-new-control-loop"),
    ("migration-onprem-to-cloud", "target-interconnect-like-source"),
    ("migration-onprem-to-cloud", "target-local-nvme"),
    ("migration-onprem-to-cloud", "target-bare-metal"),
    ("mig-multitenant", "dedicated-nic"),
    ("tp-pcie-ethernet", "tp-inside-scale-up-domain"),  # TP 4 over PCIe still leaves C21: severity 0.68 → 0.25
    ("mixed-vendor-pools", "capacity-weighted-routing"),  # C02 goes; the router's loop conflict stays: 0.94 → 0.35
]


@cache
def recommended(example: str):
    return remedies.recommend(load_file(EXAMPLES / example / "description.yaml"))


def find(recs, kind: str):
    found = [v for vs in recs.results.values() for v in vs if v.remedy.kind == kind]
    assert found, f"no {kind} remedy; got {sorted({v.remedy.kind for vs in recs.results.values() for v in vs})}"
    return found[0]


def accelerators_and_watts(reasoning) -> tuple[int, float]:
    """Counted here with one SPARQL query: nodes × accelerators per node, × the catalog's TDP."""
    rows = reasoning.query(f"""PREFIX sai: <{SAI}>
        SELECT ?node ?count ?per ?tdp WHERE {{ GRAPH <{reasoning.asserted_graph.value}> {{ ?node a sai:Node ;
            sai:acceleratorsPerNode ?per ; sai:acceleratorModel ?model . OPTIONAL {{ ?node sai:replicaCount ?count }} }}
            ?model sai:tdpWatts ?tdp }}""")
    total, watts = 0, 0.0
    for row in rows:
        n = int(row["count"].value if row["count"] else 1) * int(row["per"].value)
        total, watts = total + n, watts + n * float(row["tdp"].value)
    return total, watts


def check_against_the_file(verified, tmp_path, name: str):
    """Re-diagnose the changed description from a file and compare every reported figure."""
    path = tmp_path / f"{name}.ttl"
    path.write_bytes(verified.turtle)
    reasoning = infer(load_file(path))
    ids = {d.id for d in diagnoses(reasoning)}
    assert ids == {x["id"] for x in verified.left} | {x["id"] for x in verified.introduced}
    assert not ids & set(verified.removed)
    base = reasoning.description.base
    for moved in verified.numbers:
        rows = list(reasoning.query(f"SELECT ?v WHERE {{ <{base}{moved.element}> <{SAI}{moved.quantity}> ?v }}"))
        assert (float(rows[0]["v"].value) if rows else None) == moved.after, moved
    total, watts = accelerators_and_watts(reasoning)
    assert verified.cost_after.accelerators == total and math.isclose(verified.cost_after.watts, watts)
    scores = {d.id: d.severity_score for d in diagnoses(reasoning)}
    assert all(scores[x["id"]] == x["after"] for x in verified.left)


@pytest.mark.parametrize("example,kind,target", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_remedy_removes_its_diagnosis_and_reports_what_the_file_gives(example, kind, target, tmp_path):
    recs = recommended(example)
    assert target in {d.id for d in recs.baseline}
    verified = next(v for v in recs.results[target] if v.remedy.kind == kind)
    assert verified.valid and verified.changes, verified.problems
    assert verified.removes_target and target in verified.removed
    check_against_the_file(verified, tmp_path, load_file(EXAMPLES / example / "description.yaml").name)


@pytest.mark.parametrize("example,kind", CONDITION_ONLY, ids=[f"{c[0]}:{c[1]}" for c in CONDITION_ONLY])
def test_remedy_removes_its_condition(example, kind, tmp_path):
    verified = find(recommended(example), kind)
    assert verified.valid and verified.removes_target
    check_against_the_file(verified, tmp_path, load_file(EXAMPLES / example / "description.yaml").name)


def test_moved_numbers_and_costs_are_the_expected_ones():
    decode = find(recommended("disaggregated-h100-l4"), "decode-on-prefill-class")
    floor = next(m for m in decode.numbers if m.quantity == "decodeStepFloorMs")
    # 8.03 GB of bf16 weights per device (TP 2) over the part's memory bandwidth: 300 GB/s on L4, 3,350 on H100.
    assert math.isclose(floor.before, 8.03 / 300 * 1000, rel_tol=2e-3)
    assert math.isclose(floor.after, 8.03 / 3350 * 1000, rel_tol=2e-3)
    assert [c.text() for c in decode.changes][0] == "l4-decode-nodes › accelerator: L4 → H100-SXM"
    # Before: 4 × 8 H100 (700 W) + 16 × 8 L4 (72 W); after, the decode nodes are H100s sized to the load.
    assert decode.cost_before.accelerators == 160 and math.isclose(decode.cost_before.watts, 32 * 700 + 128 * 72)
    count = next(c for c in decode.changes if c.key == "count").after[0]
    assert decode.cost_after.accelerators == 32 + 8 * count
    over = find(recommended("over-provisioned-h100"), "remove-replicas")
    assert over.cost_before.accelerators == 256 and over.cost_after.accelerators < 256
    headroom = next(m for m in over.numbers if m.quantity == "capacityHeadroom")
    assert 1 <= headroom.after < 3 <= headroom.before  # sized between shortfall (F04) and surplus (F05)


def test_add_replicas_for_a_shortfall(write, tmp_path):
    short = MINIMAL + CHAT % 900
    recs = remedies.recommend(load_file(write(short)))
    target = "serve/finding/CapacityShortfall"
    assert target in {d.id for d in recs.baseline}
    verified = next(v for v in recs.results[target] if v.remedy.kind == "add-replicas")
    assert verified.removes_target and target in verified.removed
    assert verified.cost_after.accelerators > verified.cost_before.accelerators == 32
    check_against_the_file(verified, tmp_path, "mini")


def test_recommend_command_formats_and_written_descriptions(tmp_path):
    runner = CliRunner()
    path = str(EXAMPLES / "hpa-descheduler" / "description.yaml")
    text = runner.invoke(app, ["recommend", path, "--write", str(tmp_path)])
    assert text.exit_code == 0, text.output
    assert "descheduler › actuates: [placement, replica-count] → placement" in text.stdout
    assert "verified: removes the targeted condition" in text.stdout
    written = sorted(tmp_path.glob("*/*.ttl"))
    assert len(written) == 1
    after = runner.invoke(app, ["diagnose", str(written[0])])
    assert after.exit_code == 0 and "no instability mode found" in after.stdout
    import json

    data = json.loads(runner.invoke(app, ["recommend", "-f", "json", path]).stdout)
    assert data["diagnoses"][0]["remedies"][0]["removes"] == ["descheduler/diagnosis/LatencyAsymmetryDrift"]
    assert "## `descheduler/diagnosis/LatencyAsymmetryDrift`" in runner.invoke(app, ["recommend", "-f", "md", path]).stdout
    assert runner.invoke(app, ["recommend", path, "-d", "no-such"]).exit_code == 4


def test_tensor_parallel_one_where_the_weights_fit_one_device(write, tmp_path):
    pcie = MINIMAL.replace("accelerator: H100-SXM", "accelerator: L40S").replace(
        "    headDim: 128\n", "    headDim: 128\n    hiddenSize: 4096\n    attentionHeads: 32\n").replace(
        "    tensorParallel: 1", "    tensorParallel: 2") + CHAT % 20
    recs = remedies.recommend(load_file(write(pcie)))
    target = "serve/diagnosis/InterconnectCapacityInaccessibility"  # TP 2 over PCIe-only L40S (C21)
    verified = next(v for v in recs.results[target] if v.remedy.kind == "no-tensor-parallelism")
    assert verified.removes_target and target in verified.removed
    collective = next(m for m in verified.numbers if m.quantity == "tensorCollectiveMs")
    assert collective.before > 0 and collective.after == 0
    check_against_the_file(verified, tmp_path, "mini")


EXAMPLE_NAMES = sorted(p.parent.name for p in EXAMPLES.glob("*/description.yaml"))


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_verification_by_updates_is_verification_by_full_inference(example, monkeypatch):
    """`recommend` carries one reasoning from remedy to remedy by incremental updates (remedies.CarriedReasoning): every
    verified remedy reports what a full inference over its changed description reports."""
    by_updates = recommended(example)
    monkeypatch.setattr(remedies, "CarriedReasoning", lambda: infer)
    by_inference = remedies.recommend(load_file(EXAMPLES / example / "description.yaml"))
    as_json = lambda recs: remedies.recommendations_json(example, recs)  # noqa: E731
    assert as_json(by_updates) == as_json(by_inference)


def test_most_verifies_the_remedies_of_the_most_severe_as_diagnose_ranks_them():
    path = EXAMPLES / "disaggregated-h100-l4" / "description.yaml"
    # `diagnose` ranks (measured severity): LatencyAsymmetryDrift on the KV path 0.96, its SLO breach 0.87 (no
    # remedy: measured), the KV path's InterconnectCapacityInaccessibility 0.80, TTFTTargetUnattainable 0.76,
    # then the decode scheduler's LatencyAsymmetryDrift and the KV path's MemoryPathIncoherence at 0.60.
    ranked = [d.id for d in diagnoses(infer(load_file(path)))]
    assert ranked[:4] == ["prefill-to-decode-kv/diagnosis/LatencyAsymmetryDrift",
                          "document-qa/finding/SLOBreach/TimeToFirstToken",
                          "prefill-to-decode-kv/diagnosis/InterconnectCapacityInaccessibility",
                          "document-qa/finding/TTFTTargetUnattainable"]
    two = remedies.recommend(load_file(path), most=2)
    # The two with remedies of their own: the KV path's drift (decode on H100, a 400G NIC per GPU) and the TTFT
    # finding (FP8 weights, prefill TP). Between them, the KV path's interconnect finding has only the NIC, already
    # verified: it comes free. After them the rest with remedies are left out, the two MemoryPathIncoherence
    # diagnoses too (their remedies are verified, but they are not looked at); l4-decode's interconnect finding
    # has none.
    assert two.not_verified == ["decode-batch-scheduler/diagnosis/LatencyAsymmetryDrift",
                                "prefill-to-decode-kv/diagnosis/MemoryPathIncoherence",
                                "l4-decode/diagnosis/MemoryPathIncoherence"]
    assert two.results["l4-decode/diagnosis/InterconnectCapacityInaccessibility"] == []
    assert [v.remedy.kind for v in two.results[
        "prefill-to-decode-kv/diagnosis/InterconnectCapacityInaccessibility"]] == ["kv-path-400g-per-gpu"]
    assert {v.remedy.kind for vs in two.results.values() for v in vs} == {
        "decode-on-prefill-class", "kv-path-400g-per-gpu", "fp8-weights", "prefill-tensor-parallel"}
    everything = recommended("disaggregated-h100-l4")
    assert set(two.results) | set(two.not_verified) == set(everything.results) and not everything.not_verified
    assert remedies.recommendations_json("x", two)["not_verified"] == two.not_verified
    # A diagnosis without remedies takes no place: imported-llmd's most severe (TTFT unattainable) has none.
    llmd = remedies.recommend(load_file(EXAMPLES / "imported-llmd" / "description.yaml"), most=1)
    assert llmd.results["chat/finding/TTFTTargetUnattainable"] == []
    assert [v.remedy.kind for v in llmd.results[
        "pd-disagg-vllm-prefill-to-pd-disagg-vllm-decode-kv/diagnosis/InterconnectCapacityInaccessibility"]] == [
        "kv-path-400g-per-gpu"]
    assert llmd.not_verified == ["pd-disagg-vllm-prefill-to-pd-disagg-vllm-decode-kv/diagnosis/LatencyAsymmetryDrift",
                                 "pd-disagg-vllm-prefill/finding/CapacityShortfall",
                                 "pd-disagg-vllm-decode/finding/OverProvisioning"]  # the last: design only
    runner = CliRunner()
    text = runner.invoke(app, ["recommend", str(path), "--most", "2"])
    assert text.exit_code == 0, text.output
    assert ("The remedies of 3 more diagnoses are not verified: those of the 2 most severe with remedies of their "
            "own are" in text.stdout)
    assert "decode-batch-scheduler/diagnosis/LatencyAsymmetryDrift  (" not in text.stdout
    one = runner.invoke(app, ["recommend", str(EXAMPLES / "imported-llmd" / "description.yaml"), "--most", "2"])
    assert "The remedies of 1 more diagnosis are not verified" in one.stdout
    md = runner.invoke(app, ["recommend", str(path), "--most", "2", "-f", "md"]).stdout
    assert "Ask for one with `--diagnosis ID`, or for all with `--most 0`." in md
    import json

    every = json.loads(runner.invoke(app, ["recommend", str(path), "--most", "0", "-f", "json"]).stdout)
    assert {d["id"] for d in every["diagnoses"]} == set(everything.results) and every["not_verified"] == []
    negative = runner.invoke(app, ["recommend", str(path), "--most", "-1"])
    assert negative.exit_code == 4 and "Invalid value for '--most'" in negative.output


def test_verification_by_updates_on_a_synthetic_fleet(tmp_path, monkeypatch):
    """Two cells of the benchmark fleet: dozens of remedies, each verified by an update from the previous one."""
    from benchmarks.fleet import fleet

    path = tmp_path / "two-cells.ttl"
    path.write_text(fleet("two-cells", 2))
    by_updates = remedies.recommend(load_file(path))
    assert len({id(v) for vs in by_updates.results.values() for v in vs}) >= 20
    monkeypatch.setattr(remedies, "CarriedReasoning", lambda: infer)
    by_inference = remedies.recommend(load_file(path))
    assert remedies.recommendations_json("f", by_updates) == remedies.recommendations_json("f", by_inference)
