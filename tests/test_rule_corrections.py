"""The rule corrections of issue 7 §3, each with a case where the corrected rule must fire and one where it must not.

Descriptions are small YAML trees built here (or edits of shipped examples). Expected numbers are plain arithmetic on
the catalog's datasheet figures, the models' published configs and the ontology's route weights, or come from the
tests' own re-implementation of the serving model (tests/serving_formulas.py) — never from the rules' output.
"""

from __future__ import annotations

import io
import json
import math
from functools import cache

import pyoxigraph as ox
import pytest
from ruamel.yaml import YAML

from sortai.reasoner import resources
from sortai.reasoner.description import load_bytes
from sortai.reasoner.diagnoses import diagnoses
from sortai.reasoner.engine import infer

from .serving_formulas import Device, Interconnect, Model, Pool
from .test_rules_fire import edited
from .test_serving_model import LLAMA_8B, LLAMA_70B, LLAMA_405B, catalog, whole_memory_gb

SAI = resources.SAI
P = "PREFIX sai: <https://w3id.org/sortai/ontology#> PREFIX sosa: <http://www.w3.org/ns/sosa/> "


# --- building and reasoning descriptions -------------------------------------------------------------------------

def node(ident, accelerator="H100-SXM", *, count=2, per=8, nic="IB-NDR", nics=8, cluster="c1", **extra):
    return {"id": ident, "cluster": cluster, "count": count, "accelerator": accelerator, "acceleratorsPerNode": per,
            "nic": nic, "nicsPerNode": nics, **extra}


def pool(ident, hosts, *, model="llama-8b", role="colocated", tp=1, **extra):
    return {"id": ident, "role": role, "model": model, "hostedOn": list(hosts), "tensorParallel": tp, **extra}


def workload(ident, pools, *, rate=10, slo=None, **extra):
    return {"id": ident, "servedBy": list(pools), "promptTokensP50": 1000, "promptTokensP99": 4000,
            "outputTokensP50": 200, "outputTokensP99": 800, "arrivalRateRps": rate,
            "slo": slo or {"ttftMs": 2000, "tpotMs": 100}, **extra}


def loop(ident, kind, timescale, governs, *, observes=(), actuates=()):
    return {"id": ident, "loopKind": kind, "timescaleMs": timescale, "governs": list(governs),
            "observes": list(observes), "actuates": list(actuates)}


def fleet(nodes, pools, workloads, *, fabric=None, **sections) -> dict:
    """One on-prem data centre, one cluster on a non-blocking fabric, three Llama models; the rest as given."""
    tree = {
        "id": "case",
        "environments": [{"id": "dc", "kind": "on-prem", "storageLocality": "local-nvme"}],
        "clusters": [{"id": "c1", "environment": "dc", "fabric": "net"}],
        "fabrics": [fabric or {"id": "net", "linkType": "IB-NDR", "oversubscription": 1}],
        "nodes": nodes,
        "models": [{"id": "llama-8b", **LLAMA_8B}, {"id": "llama-70b", **LLAMA_70B},
                   {"id": "llama-405b", **LLAMA_405B}],
        "pools": pools,
        "workloads": workloads,
    }
    tree.update(sections)
    return tree


@cache
def _reasoned(text: str):
    description = load_bytes(text.encode(), "case.yaml")
    return description, infer(description)


def reason(tree_or_text):
    """Reason over a tree (dict) or YAML text; equal inputs share one reasoning."""
    if isinstance(tree_or_text, (bytes, str)):
        text = tree_or_text.decode() if isinstance(tree_or_text, bytes) else tree_or_text
    else:
        buffer = io.StringIO()
        YAML().dump(json.loads(json.dumps(tree_or_text)), buffer)
        text = buffer.getvalue()
    return _reasoned(text)


def example(name: str, edits=()):
    return reason(edited(name, list(edits)))


def conditions(reasoned, kind: str) -> dict[str, dict]:
    """Conditions of one kind by the element they concern: {element: {"score": s, "involves": {…}}}."""
    description, reasoning = reasoned
    found: dict[str, dict] = {}
    query = P + f"""SELECT ?on ?score ?involved WHERE {{ ?c a sai:StructuralCondition ; sai:conditionKind sai:{kind} ;
                    sai:concerns ?on ; sai:severityScore ?score . OPTIONAL {{ ?c sai:involves ?involved }} }}"""
    for row in reasoning.query(query):
        entry = found.setdefault(description.element_name(row["on"].value),
                                 {"score": float(row["score"].value), "involves": set()})
        if row["involved"] is not None:
            entry["involves"].add(description.element_name(row["involved"].value))
    return found


def condition_kinds(reasoned) -> set[str]:
    _, reasoning = reasoned
    rows = reasoning.query(P + "SELECT DISTINCT ?k WHERE { ?c a sai:StructuralCondition ; sai:conditionKind ?k }")
    return {row["k"].value.rsplit("#", 1)[-1] for row in rows}


def value(reasoned, subject: str, prop: str):
    description, reasoning = reasoned
    objects = [q.object for q in reasoning.store.quads_for_pattern(
        ox.NamedNode(description.base + subject), ox.NamedNode(SAI + prop), None, None)]
    assert len(objects) <= 1, (subject, prop, objects)
    return float(objects[0].value) if objects else None


def modes(reasoned) -> dict[tuple[str, str], object]:
    """Mode diagnoses by (mode, component)."""
    return {(d.mode, d.component): d for d in diagnoses(reasoned[1]) if d.kind == "mode"}


def findings(reasoned) -> dict[tuple[str, str], object]:
    return {(d.mode, d.component): d for d in diagnoses(reasoned[1]) if d.kind == "finding"}


def indications(reasoned, mode: str, evidence: str) -> list[dict]:
    """Measured indications of a mode with one evidence kind: their component, measurements and numbers."""
    description, reasoning = reasoned
    query = P + f"""SELECT ?i ?on ?score ?m ?ratio ?shift ?eff WHERE {{
                    ?i a sai:ModeIndication ; sai:indicatesMode sai:{mode} ; sai:evidenceKind sai:{evidence} ;
                       sai:concerns ?on ; sai:severityScore ?score ; sai:viaMeasurement ?m .
                    OPTIONAL {{ ?i sai:observedRatio ?ratio }} OPTIONAL {{ ?i sai:distributionShift ?shift }}
                    OPTIONAL {{ ?i sai:scalingEfficiency ?eff }} }}"""
    found: dict[str, dict] = {}
    for row in reasoning.query(query):
        entry = found.setdefault(row["i"].value, {
            "on": description.element_name(row["on"].value), "score": float(row["score"].value), "measurements": set(),
            **{k: float(row[k].value) for k in ("ratio", "shift", "eff") if row[k] is not None}})
        entry["measurements"].add(description.element_name(row["m"].value))
    return list(found.values())


@cache
def route_weight(kind: str, mode: str) -> float:
    """The ontology's weight of the route from a condition kind to a mode (domain data, not a derived fact)."""
    routes: dict[str, dict[str, str]] = {}
    for t in resources.ontology_triples():
        if t.predicate.value in (SAI + "viaConditionKind", SAI + "reachesMode", SAI + "routeWeight"):
            routes.setdefault(t.subject.value, {})[t.predicate.value[len(SAI):]] = t.object.value
    weights = [float(r["routeWeight"]) for r in routes.values()
               if r.get("viaConditionKind") == SAI + kind and r.get("reachesMode") == SAI + mode]
    assert len(weights) == 1, (kind, mode)
    return weights[0]


def band(score: float) -> str:
    """Our severity bands (critical ≥ 0.75 > high ≥ 0.5 > moderate ≥ 0.25 > low)."""
    return "Critical" if score >= 0.75 else "High" if score >= 0.5 else "Moderate" if score >= 0.25 else "Low"


VIRTUALIZATION_MODE = "VirtualizationControlDistortion"
LAD, MPI, ICI, MRR = ("LatencyAsymmetryDrift", "MemoryPathIncoherence", "InterconnectCapacityInaccessibility",
                      "MigrationReconfigurationRisk")


# --- 1. Virtualization ---------------------------------------------------------------------------------------------

def virtualized(virtualization: dict, tenants=("t1",), *, tp=1) -> dict:
    return fleet([node("gpus", nic="RoCE-400G", virtualization=virtualization)],
                 [pool("serve", ["gpus"], tp=tp)], [workload("chat", ["serve"])],
                 fabric={"id": "net", "linkType": "RoCE-400G", "oversubscription": 1},
                 tenants=[{"id": t} for t in tenants])


def virtualization_conditions(reasoned) -> set[str]:
    _, reasoning = reasoned
    rows = reasoning.query(P + """SELECT DISTINCT ?k WHERE { ?c a sai:StructuralCondition ; sai:conditionKind ?k ;
                                  sai:sourceDomain sai:VirtualizationDistortion }""")
    return {row["k"].value.rsplit("#", 1)[-1] for row in rows}


def test_single_tenant_whole_gpu_passthrough_with_sriov_is_clean():
    case = reason(virtualized({"gpu": "vm-passthrough", "network": "sriov", "hypervisor": "kvm", "sharedBy": ["t1"]}))
    assert virtualization_conditions(case) == set()
    assert not [key for key in modes(case) if key[0] == VIRTUALIZATION_MODE]
    # The shipped disaggregated fleet is the same regime (Nitro passthrough, SR-IOV, one tenant), and so are the p5
    # instances (the catalog's p5.48xlarge: passthrough GPUs, EFA through SR-IOV).
    for name in ("disaggregated-h100-l4", "p5-instance-type"):
        assert virtualization_conditions(example(name)) == set(), name
        assert not [key for key in modes(example(name)) if key[0] == VIRTUALIZATION_MODE], name


@pytest.mark.parametrize("virtualization, tenants, expected", [
    ({"gpu": "vm-passthrough", "network": "sriov", "hypervisor": "kvm", "sharedBy": ["t1", "t2"]}, ("t1", "t2"),
     {"VirtualizedNetworkOnServingPath": 0.4}),  # one physical port, VFs of two tenants
    ({"gpu": "vm-passthrough", "network": "virtio", "hypervisor": "kvm"}, ("t1",),
     {"VirtualizedNetworkOnServingPath": 0.7}),  # every transfer through the hypervisor
    ({"gpu": "time-sliced-vgpu", "sharesPerGPU": 2, "network": "sriov", "hypervisor": "kvm"}, ("t1",),
     {"TimeSlicedTenantSharing": 0.4, "HypervisorMediatedAccelerators": 0.35}),  # mediated by the vGPU manager
], ids=["sriov-shared-by-two-tenants", "virtio", "mediated-vgpu"])
def test_sharing_mediation_or_emulation_is_a_virtualization_condition(virtualization, tenants, expected):
    case = reason(virtualized(virtualization, tenants))
    assert {kind: conditions(case, kind)["gpus"]["score"] for kind in virtualization_conditions(case)} == expected
    diagnosis = modes(case)[(VIRTUALIZATION_MODE, "c1")]  # a node group's finding is its cluster's
    assert "gpus" in diagnosis.involves


@pytest.mark.parametrize("shares, policy, expected", [
    (2, "best-effort", 0.4),      # (0.1 + 0.15 × 2) × 1
    (4, "best-effort", 0.7),      # (0.1 + 0.15 × 4) × 1
    (4, "equal-share", 0.525),    # 0.7 × 0.75
    (4, "fixed-share", 0.35),     # 0.7 × 0.5: a fixed share bounds the interference
    (8, None, 1.0),               # 1.3, capped; no scheduler stated counts as best-effort
])
def test_time_slicing_severity_follows_vms_per_gpu_and_scheduler_policy(shares, policy, expected):
    virtualization = {"gpu": "time-sliced-vgpu", "sharesPerGPU": shares, "hypervisor": "kvm"}
    if policy:
        virtualization["vgpuScheduler"] = policy
    case = reason(virtualized(virtualization))
    assert conditions(case, "TimeSlicedTenantSharing")["gpus"]["score"] == pytest.approx(expected, abs=1e-3)


def test_time_slicing_severity_does_not_count_tenants_per_node():
    one = reason(virtualized({"gpu": "time-sliced-vgpu", "sharesPerGPU": 2, "hypervisor": "kvm", "sharedBy": ["t1"]}))
    three = reason(virtualized({"gpu": "time-sliced-vgpu", "sharesPerGPU": 2, "hypervisor": "kvm",
                                "sharedBy": ["t1", "t2", "t3"]}, ("t1", "t2", "t3")))
    assert conditions(one, "TimeSlicedTenantSharing")["gpus"]["score"] == pytest.approx(0.4, abs=1e-3)
    assert conditions(three, "TimeSlicedTenantSharing")["gpus"]["score"] == pytest.approx(0.4, abs=1e-3)


def test_one_vm_per_gpu_is_not_time_slicing():
    case = reason(virtualized({"gpu": "time-sliced-vgpu", "sharesPerGPU": 1, "hypervisor": "kvm"}))
    assert conditions(case, "TimeSlicedTenantSharing") == {}


@pytest.mark.parametrize("regime", ["time-sliced", "mps"])
def test_kubernetes_time_slicing_and_mps_without_a_hypervisor_count_as_sharing(regime):
    shared = reason(virtualized({"gpu": regime, "sharesPerGPU": 4}))
    assert conditions(shared, "TimeSlicedTenantSharing")["gpus"]["score"] == pytest.approx(0.7, abs=1e-3)
    assert conditions(shared, "HypervisorMediatedAccelerators") == {}  # no hypervisor, no vGPU manager
    assert (VIRTUALIZATION_MODE, "c1") in modes(shared)
    alone = reason(virtualized({"gpu": regime, "sharesPerGPU": 1}))
    assert virtualization_conditions(alone) == set()


# --- 2. Control loops ----------------------------------------------------------------------------------------------

def looped(loops, **extra) -> dict:
    return fleet([node("gpus")], [pool("chat", ["gpus"])], [workload("traffic", ["chat"])], controlLoops=loops, **extra)


@pytest.mark.parametrize("ratio, expected", [(1, 0.7), (4.9, 0.7), (5, 0.45), (9.9, 0.45), (10, None), (40, None)])
def test_two_loops_actuating_one_replica_count_by_timescale_ratio(ratio, expected):
    """Below a ratio of 5: high; 5 to 10: moderate; ten times apart or more: a cascade, no conflict."""
    case = reason(looped([loop("hpa", "autoscaler", 15000, ["chat"], observes=["queue-depth"],
                               actuates=["replica-count"]),
                          loop("descheduler", "descheduler", 15000 * ratio, ["c1"], observes=["placement"],
                               actuates=["placement", "replica-count"])]))
    found = conditions(case, "ControlLoopTimescaleConflict")
    if expected is None:
        assert found == {}
        assert modes(case) == {}
        return
    assert found == {"descheduler": {"score": pytest.approx(expected, abs=1e-3), "involves": {"hpa", "chat"}}}
    assert modes(case)[(LAD, "descheduler")].severity.startswith(band(expected))


@pytest.mark.parametrize("ratio, expected", [(3, 0.6), (7, 0.35), (12, None)])
def test_one_loop_moving_the_input_of_another(ratio, expected):
    """The router actuates the queue depth the batch scheduler reads."""
    case = reason(looped([loop("router", "request-router", 50 * ratio, ["chat"], observes=["kv-cache-occupancy"],
                               actuates=["routing-weights", "queue-depth"]),
                          loop("batcher", "batch-scheduler", 50, ["chat"], observes=["queue-depth"],
                               actuates=["batch-composition"])]))
    found = conditions(case, "ControlLoopTimescaleConflict")
    if expected is None:
        assert found == {}
    else:
        assert found == {"router": {"score": pytest.approx(expected, abs=1e-3), "involves": {"batcher", "chat"}}}
        assert modes(case)[(LAD, "router")].severity.startswith(band(expected))


def test_well_separated_cascade_on_a_homogeneous_fleet_is_clean():
    case = example("loop-cascade-control")
    assert conditions(case, "ControlLoopTimescaleConflict") == {}
    assert modes(case) == {}


def test_the_same_cascade_squeezed_together_conflicts():
    """The KV-aware router at 50 ms instead of 500 ms: 3.3× the batch scheduler's 15 ms, and each moves what the
    other reads (queue depth, KV-cache occupancy)."""
    case = example("loop-cascade-control", [("set", "controlLoops[kv-aware-router].timescaleMs", 50)])
    found = conditions(case, "ControlLoopTimescaleConflict")
    assert found["kv-aware-router"]["score"] == pytest.approx(0.6, abs=1e-3)
    assert found["batch-scheduler"]["score"] == pytest.approx(0.6, abs=1e-3)
    assert (LAD, "kv-aware-router") in modes(case)


def test_hpa_and_descheduler_on_one_replica_count_are_found():
    case = example("hpa-descheduler")
    # Both actuate the replica count, 60 s ÷ 15 s = 4 apart: a strong coupling.
    assert conditions(case, "ControlLoopTimescaleConflict") == {
        "descheduler": {"score": pytest.approx(0.7, abs=1e-3), "involves": {"hpa", "chat-8b"}}}
    diagnosis = modes(case)[(LAD, "descheduler")]
    assert diagnosis.severity.startswith("High") and "hpa" in diagnosis.involves


def test_a_descheduler_that_only_moves_pods_does_not_fight_the_hpa():
    case = example("hpa-descheduler", [("set", "controlLoops[descheduler].actuates", ["placement"])])
    assert conditions(case, "ControlLoopTimescaleConflict") == {}


# --- 3. One control model over non-equivalent substrates (LAD) -------------------------------------------------------

def spread(values) -> float:
    return max(values) / min(values)


def test_scheduler_over_non_equivalent_accelerators_is_scored_by_their_difference():
    """H100, MI300X and Gaudi2 under one batch scheduler: the slowest class's step is the largest ratio of memory
    bandwidth or dense compute among them."""
    parts = [catalog(a) for a in ("H100-SXM", "MI300X", "Gaudi2")]
    worst = max(spread([p["memoryBandwidthGBps"] for p in parts]), spread([p["denseBF16TFLOPS"] for p in parts]))
    case = example("mixed-vendor-pools")
    expected = min(1, 0.2 + 0.35 * (round(worst, 2) - 1))
    assert conditions(case, "SchedulerOverNonEquivalentAccelerators")["unified-batch-scheduler"]["score"] == \
        pytest.approx(expected, abs=2e-3)
    # The pool itself (colocated): the larger of the bandwidth and compute spreads.
    assert conditions(case, "MixedAcceleratorPool")["llama70b-mixed"]["score"] == \
        pytest.approx(min(1, 0.3 + 0.35 * (round(worst, 2) - 1)), abs=2e-3)


def test_two_accelerator_models_with_equal_timing_are_not_heterogeneous_for_scheduling():
    """B200 and B300: two models, one memory bandwidth and one dense compute (the B300 only has more memory)."""
    assert catalog("B200")["memoryBandwidthGBps"] == catalog("B300")["memoryBandwidthGBps"]
    assert catalog("B200")["denseBF16TFLOPS"] == catalog("B300")["denseBF16TFLOPS"]
    tree = fleet([node("b200", "B200"), node("b300", "B300")], [pool("serve", ["b200", "b300"])],
                 [workload("chat", ["serve"])],
                 controlLoops=[loop("batcher", "batch-scheduler", 15, ["serve"], observes=["queue-depth"],
                                    actuates=["batch-composition"])])
    case = reason(tree)
    assert value(case, "serve", "acceleratorModelCount") == 2
    assert conditions(case, "MixedAcceleratorPool") == {}
    assert conditions(case, "SchedulerOverNonEquivalentAccelerators") == {}
    assert not [key for key in modes(case) if key[0] == LAD]


def test_a_third_model_between_the_extremes_does_not_raise_the_score():
    two = reason(fleet([node("h100"), node("h200", "H200-SXM")], [pool("serve", ["h100", "h200"])],
                       [workload("chat", ["serve"])]))
    three = reason(fleet([node("h100"), node("nvl", "H100-NVL"), node("h200", "H200-SXM")],
                         [pool("serve", ["h100", "nvl", "h200"])], [workload("chat", ["serve"])]))
    # Colocated: max(bandwidth spread 4800/3350, compute spread 989.5/835.5 with the NVL) decides, not the count.
    bw, tf = 4800 / 3350, 989.5 / 835.5
    assert conditions(two, "MixedAcceleratorPool")["serve"]["score"] == \
        pytest.approx(0.3 + 0.35 * (round(bw, 2) - 1), abs=2e-3)
    assert conditions(three, "MixedAcceleratorPool")["serve"]["score"] == \
        pytest.approx(0.3 + 0.35 * (round(max(bw, tf), 2) - 1), abs=2e-3)


def three_node_types(loops, *, one_workload: bool) -> dict:
    """Three homogeneous pools of one model, each on its own node type, under the given loops; one workload over
    all three, or one workload per pool."""
    nodes = [node("h100"), node("mi300x", "MI300X"), node("gaudi2", "Gaudi2", nics=6)]
    pools = [pool(f"serve-{n['id']}", [n["id"]], model="llama-70b", tp=4) for n in nodes]
    if one_workload:
        workloads = [workload("chat", [p["id"] for p in pools], rate=30)]
    else:
        workloads = [workload(f"chat-{n['id']}", [f"serve-{n['id']}"]) for n in nodes]
    return fleet(nodes, pools, workloads, controlLoops=loops)


def test_an_orchestrator_placing_pods_on_three_node_types_is_not_lad_by_itself():
    case = reason(three_node_types([loop("orchestrator", "cluster-orchestrator", 30000, ["c1"],
                                         observes=["accelerator-utilization"], actuates=["placement"])],
                                 one_workload=False))
    assert conditions(case, "SchedulerOverNonEquivalentAccelerators") == {}
    assert not [d for d in diagnoses(case[1]) if d.component == "orchestrator"]


def test_a_router_deciding_per_request_across_the_three_node_types_is_lad():
    case = reason(three_node_types([loop("router", "request-router", 50, ["serve-h100", "serve-mi300x", "serve-gaudi2"],
                                         observes=["queue-depth"], actuates=["routing-weights"])],
                                 one_workload=True))
    parts = [catalog(a) for a in ("H100-SXM", "MI300X", "Gaudi2")]
    worst = max(spread([p["memoryBandwidthGBps"] for p in parts]), spread([p["denseBF16TFLOPS"] for p in parts]))
    assert conditions(case, "SchedulerOverNonEquivalentAccelerators")["router"]["score"] == \
        pytest.approx(min(1, 0.2 + 0.35 * (round(worst, 2) - 1)), abs=2e-3)
    assert (LAD, "router") in modes(case)


def test_a_prefill_decode_router_sending_each_phase_to_its_class_is_not_lad():
    case = example("disaggregated-h100-l4")
    assert conditions(case, "SchedulerOverNonEquivalentAccelerators") == {}
    assert not [d for d in diagnoses(case[1]) if d.component == "pd-router"]


def test_a_router_choosing_between_two_decode_classes_is_lad():
    """The same router also sends decode work to an H100 decode pool: per-request choice between L4 and H100."""
    extra_node = {"id": "h100-decode-nodes", "cluster": "qa-inference-cluster", "count": 2, "accelerator": "H100-SXM",
                  "acceleratorsPerNode": 8, "nic": "RoCE-400G", "nicsPerNode": 8, "fabric": "cluster-rdma-fabric"}
    extra_pool = {"id": "h100-decode", "role": "decode", "model": "llama-3.1-8b-instruct",
                  "hostedOn": ["h100-decode-nodes"], "tensorParallel": 1}
    case = example("disaggregated-h100-l4", [
        ("add", "nodes", extra_node), ("add", "pools", extra_pool),
        ("set", "controlLoops[pd-router].governs", ["h100-prefill", "l4-decode", "h100-decode"]),
        ("set", "workloads[document-qa].servedBy", ["h100-prefill", "l4-decode", "h100-decode"])])
    h100, l4 = catalog("H100-SXM"), catalog("L4")
    worst = max(h100["memoryBandwidthGBps"] / l4["memoryBandwidthGBps"],
                h100["denseBF16TFLOPS"] / l4["denseBF16TFLOPS"])
    assert worst > 10
    # 0.2 + 0.35 × (11.2 − 1), capped
    assert conditions(case, "SchedulerOverNonEquivalentAccelerators")["pd-router"]["score"] == 1.0


# --- 4. Scope of heterogeneity -------------------------------------------------------------------------------------

L4_FLOOR_MS = 16.06 / catalog("L4")["memoryBandwidthGBps"] * 1000  # Llama-3.1-8B BF16 weights once per token: 53.5 ms


def h100_and_l4(*, one_workload=False, shared_loop=None) -> dict:
    nodes = [node("h100"), node("l4", "L4", nic="RoCE-100G", nics=1)]
    pools = [pool("on-h100", ["h100"]), pool("on-l4", ["l4"])]
    if one_workload:
        workloads = [workload("chat", ["on-h100", "on-l4"])]
    else:
        workloads = [workload("chat-a", ["on-h100"]), workload("chat-b", ["on-l4"])]
    if shared_loop:
        loops = [loop("shared", shared_loop, 20, ["on-h100", "on-l4"], observes=["queue-depth"],
                      actuates=["routing-weights" if shared_loop == "request-router" else "batch-composition"])]
    else:
        loops = [loop(f"own-{p['id']}", "request-router", 20, [p["id"]], observes=["queue-depth"],
                      actuates=["routing-weights"]) for p in pools]
    return fleet(nodes, pools, workloads, controlLoops=loops)


@pytest.mark.parametrize("scope", ["one-serving-path", "one-router", "one-batch-policy"])
def test_memory_path_heterogeneity_spans_what_one_loop_or_serving_path_spans(scope):
    tree = h100_and_l4(one_workload=scope == "one-serving-path",
                       shared_loop={"one-router": "request-router", "one-batch-policy": "batch-scheduler"}.get(scope))
    case = reason(tree)
    # The L4 class's decode floor takes more than half the 100 ms TPOT target while the H100 beside it idles.
    assert conditions(case, "MemoryBoundDecodeOnComputeRichClass") == {
        "on-l4": {"score": pytest.approx(L4_FLOOR_MS / 100, abs=1e-3), "involves": set()}}
    assert (MPI, "on-l4") in modes(case)


def test_the_same_pools_under_their_own_routers_are_each_homogeneous():
    case = reason(h100_and_l4())
    assert conditions(case, "MemoryBoundDecodeOnComputeRichClass") == {}
    assert not [key for key in modes(case) if key[0] == MPI]


def test_memory_bound_decode_on_a_homogeneous_pool_is_an_slo_risk_not_mpi():
    """The control fleet with a 10 ms TPOT target: the 70B TP8 weight floor (141.2 GB ÷ 8 ÷ 3350 GB/s = 5.27 ms) is
    more than half of it — the normal regime of every GPU. And with 5 ms the target is below the floor itself."""
    floor = 141.2 / 8 / catalog("H100-SXM")["memoryBandwidthGBps"] * 1000
    tight = example("homogeneous-h100", [("set", "workloads[assistant-chat].slo.tpotMs", 10)])
    assert floor >= 0.5 * 10
    assert conditions(tight, "MemoryBoundDecodeOnComputeRichClass") == {}
    assert not [key for key in modes(tight) if key[0] == MPI]
    below = example("homogeneous-h100", [("set", "workloads[assistant-chat].slo.tpotMs", 5)])
    assert not [key for key in modes(below) if key[0] == MPI]
    finding = findings(below)[("TPOTTargetUnattainable", "llama70b-serving")]
    ratio = round(floor / 5, 2)
    assert finding.severity_score == pytest.approx(min(1, 0.6 + 0.4 * (ratio - 1)), abs=1e-3)


def test_the_same_tight_target_on_a_pool_spanning_two_classes_is_mpi():
    case = example("homogeneous-h100", [("set", "workloads[assistant-chat].slo.tpotMs", 10),
                                        ("set", "nodes[h100-nodes-rack-d].accelerator", "H200-SXM")])
    floor = 141.2 / 8 / catalog("H100-SXM")["memoryBandwidthGBps"] * 1000  # the slower class sets the floor
    assert conditions(case, "MemoryBoundDecodeOnComputeRichClass")["llama70b-serving"]["score"] == \
        pytest.approx(floor / 10, abs=1e-3)
    assert (MPI, "llama70b-serving") in modes(case)


# --- 5. Model-parallel groups --------------------------------------------------------------------------------------

H100 = catalog("H100-SXM")
LLAMA_405B_MODEL = Model(405, 126, 8, 128, "bf16", "bf16", hidden=16384, heads=128)


def prefill_405b(*, tp: int, pp: int = 1, nic="IB-NDR", nics=8, model="llama-405b") -> dict:
    """A disaggregated prefill pool of Llama-3.1-405B on two 8-GPU H100 servers, p50 prompt 1000 tokens."""
    fabric = {"id": "net", "linkType": nic, "oversubscription": 1}
    return fleet([node("gpus", nic=nic, nics=nics)],
                 [pool("prefill", ["gpus"], model=model, role="prefill", tp=tp, pipelineParallel=pp)],
                 [workload("api", ["prefill"], rate=1, slo={"ttftMs": 5000})], fabric=fabric)


def reference_prefill(*, tp: int, pp: int = 1, scale_out: float, domain: int = 8) -> Pool:
    device = Device(whole_memory_gb("H100-SXM"), H100["memoryBandwidthGBps"], H100["denseBF16TFLOPS"])
    link = Interconnect(domain=domain, peer_gbps=H100["scaleUpBandwidthGBps"], scale_out_gbps=scale_out)
    return Pool(LLAMA_405B_MODEL, device, role="prefill", tp=tp, pp=pp, interconnect=link,
                prompt_p50=1000, prompt_p99=4000, output_p50=200, output_p99=800)


def crossing(nics: int) -> tuple[float, float]:
    """TP 16 of Llama-3.1-405B over two 8-GPU domains with `nics` NDR NICs per node: the all-reduces' extra time as
    placed (over the NICs instead of NVLink) and the placed prefill of the p50 prompt, which includes it."""
    scale_out = nics * catalog("IB-NDR")["bandwidthGBps"] / 8
    placed = reference_prefill(tp=16, scale_out=scale_out)
    inside = reference_prefill(tp=16, scale_out=scale_out, domain=16)
    collectives = lambda p: p.collective_ms_per_step() + 1000 * p.collective_ms_per_token()  # noqa: E731
    return collectives(placed) - collectives(inside), placed.prefill_ms(1000)


@pytest.mark.parametrize("nics", [8, 2])
def test_tp_larger_than_its_scale_up_domain_is_ici_even_on_a_non_blocking_fabric(nics):
    case = reason(prefill_405b(tp=16, nics=nics))
    extra, _ = crossing(nics)
    assert extra > 0
    assert conditions(case, "TensorParallelBeyondScaleUpDomain")["prefill"]["score"] >= 0.3
    assert (ICI, "prefill") in modes(case)


@pytest.mark.parametrize("nics", [8, 2])
def test_tp_crossing_is_scored_by_the_share_of_the_step_it_takes(nics):
    case = reason(prefill_405b(tp=16, nics=nics))
    extra, step = crossing(nics)
    expected = min(1, 0.3 + 0.7 * extra / step)
    found = conditions(case, "TensorParallelBeyondScaleUpDomain")
    assert found["prefill"]["score"] == pytest.approx(expected, abs=5e-3)


def test_capacity_reachability_is_the_share_of_the_placed_step_left_after_the_crossing():
    case = reason(prefill_405b(tp=16, nics=8))
    extra, step = crossing(8)
    assert value(case, "prefill", "capacityReachability") == pytest.approx((step - extra) / step, abs=5e-3)


def test_fewer_nics_make_the_crossing_worse():
    eight, two = (conditions(reason(prefill_405b(tp=16, nics=n)), "TensorParallelBeyondScaleUpDomain")
                  ["prefill"]["score"] for n in (8, 2))
    assert two > eight


def test_tp_inside_its_scale_up_domain_does_not_cross():
    case = reason(prefill_405b(tp=8, model="llama-70b"))  # 405B would not fit in eight H100s
    assert conditions(case, "TensorParallelBeyondScaleUpDomain") == {}


def test_pipeline_parallelism_across_nodes_scores_lower_than_tensor_parallelism():
    """PP 2 hands one activation per token to the next node (1000 × 16384 × 2 bytes = 33 MB per prefill); TP 16 all-
    reduces twice per layer across the nodes."""
    pipelined = reason(prefill_405b(tp=8, pp=2))
    assert conditions(pipelined, "TensorParallelBeyondScaleUpDomain") == {}
    assert conditions(pipelined, "ModelParallelTrafficOverScaleOut") == {}  # 0.66 ms of a ~240 ms prefill: under 5 %
    assert (ICI, "prefill") not in modes(pipelined)


def test_pipeline_over_a_thin_scale_out_link_fires_but_still_below_tensor_parallelism():
    """One 100 GbE NIC per 8 GPUs: 1.56 GB/s per accelerator."""
    scale_out = catalog("Ethernet-100G")["bandwidthGBps"] / 8
    reference = reference_prefill(tp=8, pp=2, scale_out=scale_out)
    transfer = 1000 * 16384 * 2 / 1e9 / scale_out * 1000
    share = transfer / (reference.prefill_ms(1000) + transfer)
    assert share >= 0.05
    pipelined = conditions(reason(prefill_405b(tp=8, pp=2, nic="Ethernet-100G", nics=1)),
                           "ModelParallelTrafficOverScaleOut")
    assert pipelined["prefill"]["score"] == pytest.approx(0.7 * share + 0.1, abs=5e-3)
    tensor = conditions(reason(prefill_405b(tp=16, nic="Ethernet-100G", nics=1)), "TensorParallelBeyondScaleUpDomain")
    assert tensor["prefill"]["score"] > pipelined["prefill"]["score"]


def pcie_tp4() -> tuple[dict, Pool]:
    """Llama-3.1-70B FP8 at TP 4 inside one 4 × L40S server (bare metal): every all-reduce crosses PCIe."""
    l40s = catalog("L40S")
    tree = fleet([node("gpus", "L40S", per=4, nic="Ethernet-100G", nics=1)],
                 [pool("prefill", ["gpus"], model="llama-70b-fp8", role="prefill", tp=4)],
                 [workload("api", ["prefill"], rate=1, slo={"ttftMs": 5000})])
    tree["models"].append({"id": "llama-70b-fp8", **LLAMA_70B, "weightDtype": "fp8", "kvDtype": "fp8"})
    reference = Pool(Model(70.6, 80, 8, 128, "fp8", "fp8", hidden=8192, heads=64),
                     Device(l40s["hbmCapacityGB"], l40s["memoryBandwidthGBps"], l40s["denseFP8TFLOPS"]),
                     role="prefill", tp=4, interconnect=Interconnect(domain=4, peer_gbps=l40s["scaleUpBandwidthGBps"]),
                     prompt_p50=1000, prompt_p99=4000)
    return tree, reference


def test_tp_over_pcie_only_cards_counts():
    tree, _ = pcie_tp4()
    case = reason(tree)
    assert conditions(case, "TensorParallelWithoutPeerToPeer")["prefill"]["score"] >= 0.2
    assert conditions(case, "TensorParallelBeyondScaleUpDomain") == {}
    assert (ICI, "prefill") in modes(case)


def test_tp_without_peer_to_peer_is_scored_by_the_share_of_the_step_its_all_reduces_take():
    tree, reference = pcie_tp4()
    collectives = reference.collective_ms_per_step() + 1000 * reference.collective_ms_per_token()
    expected = 0.2 + 0.7 * collectives / reference.prefill_ms(1000)
    found = conditions(reason(tree), "TensorParallelWithoutPeerToPeer")
    assert found["prefill"]["score"] == pytest.approx(expected, abs=5e-3)


def test_tp_over_time_sliced_vgpus_counts_and_over_nvlink_does_not():
    vgpu = reason(virtualized({"gpu": "time-sliced-vgpu", "sharesPerGPU": 2, "hypervisor": "kvm"}, tp=2))
    assert conditions(vgpu, "TensorParallelWithoutPeerToPeer")["serve"]["score"] >= 0.3  # no P2P at all
    assert (ICI, "serve") in modes(vgpu)
    alone = reason(virtualized({"gpu": "time-sliced-vgpu", "sharesPerGPU": 2, "hypervisor": "kvm"}, tp=1))
    assert conditions(alone, "TensorParallelWithoutPeerToPeer") == {}
    nvlink = reason(fleet([node("gpus")], [pool("serve", ["gpus"], tp=4)], [workload("chat", ["serve"])]))
    assert conditions(nvlink, "TensorParallelWithoutPeerToPeer") == {}


# --- 6. Signatures ---------------------------------------------------------------------------------------------------

def test_a_migration_that_improved_latency_is_not_a_risk():
    case = example("migration-equal-or-better")  # TTFT p99 1450 → 1180 ms, TPOT p99 34 → 31 ms
    assert indications(case, MRR, "PostMigrationDistributionShiftSignature") == []
    assert not [key for key in modes(case) if key[0] == MRR]


def test_the_same_migration_in_reverse_degrades():
    case = example("migration-equal-or-better", [("set", "measurements[ttft-p99-before].value", 1180),
                                                 ("set", "measurements[ttft-p99-after].value", 1450)])
    shifts = indications(case, MRR, "PostMigrationDistributionShiftSignature")
    assert [(i["on"], i["measurements"]) for i in shifts] == [("colo-exit", {"ttft-p99-before", "ttft-p99-after"})]
    assert shifts[0]["shift"] == pytest.approx((1450 - 1180) / 1180, abs=1e-3)  # 0.229 ≥ 0.2; TPOT moved 10 %: no


def widening(ttft_p50: float, ttft_p99: float):
    """The mixed-vendor pool's workload (prompts p50 1800, p99 12000) with measured TTFT p50 and p99."""
    return example("mixed-vendor-pools", [
        ("add", "measurements", {"id": "ttft-p50", "metric": "ttft", "component": "assistant-traffic",
                                 "value": ttft_p50, "unit": "ms", "percentile": 50}),
        ("add", "measurements", {"id": "ttft-p99", "metric": "ttft", "component": "assistant-traffic",
                                 "value": ttft_p99, "unit": "ms", "percentile": 99})])


def widening_ttft(case) -> list[dict]:
    return [i for i in indications(case, LAD, "WideningTimingDistributionSignature") if "ttft-p99" in i["measurements"]]


def test_ttft_spread_is_read_per_input_token():
    """p99 ÷ p50 = 6, but the p99 prompt is 6.7 times the p50 one: per input token the tail is no wider."""
    case = widening(400, 2400)
    assert widening_ttft(case) == []


def test_ttft_widening_per_input_token_is_the_signature():
    case = widening(400, 6000)
    per_token = (6000 / 12000) / (400 / 1800)  # 2.25
    found = widening_ttft(case)
    assert len(found) == 1
    assert found[0]["ratio"] == pytest.approx(per_token, abs=0.01)
    assert found[0]["score"] == pytest.approx((per_token - 1) / 4, abs=2e-3)


def saturated_memory(tpot_ms: float):
    """The homogeneous control fleet with SM activity 40 % and DRAM activity 90 %, and one measured TPOT."""
    return example("homogeneous-h100", [
        ("drop", "measurements[tpot-p50]"), ("drop", "measurements[tpot-p99]"),
        ("add", "measurements", {"id": "sm", "metric": "sm-active", "component": "llama70b-serving", "value": 40,
                                 "unit": "percent"}),
        ("add", "measurements", {"id": "dram", "metric": "dram-active", "component": "llama70b-serving", "value": 90,
                                 "unit": "percent"}),
        ("add", "measurements", {"id": "tpot", "metric": "tpot", "component": "llama70b-serving", "value": tpot_ms,
                                 "unit": "ms", "percentile": 50})])


def test_idle_compute_with_busy_memory_on_a_homogeneous_pool_is_normal_decode():
    """A TPOT of 1.2 × the weight floor is below 1.5 × any prediction (which is at least the floor ÷ 0.8)."""
    floor = 141.2 / 8 / H100["memoryBandwidthGBps"] * 1000
    case = saturated_memory(round(1.2 * floor, 2))
    assert indications(case, MPI, "ComputeServingDivergenceSignature") == []


def test_idle_compute_with_busy_memory_and_a_tpot_far_above_prediction_is_the_signature():
    case = saturated_memory(1000)
    found = indications(case, MPI, "ComputeServingDivergenceSignature")
    assert [(i["on"], i["score"]) for i in found] == [("llama70b-serving", pytest.approx((90 - 40) / 100))]


def test_non_proportional_scaling_needs_saturation_at_both_scales():
    case = example("oversubscribed-scaleout", [("del", "measurements[throughput-at-512].saturated")])
    assert indications(case, ICI, "NonProportionalScalingSignature") == []


def test_non_proportional_scaling_at_saturation_is_the_signature():
    case = example("oversubscribed-scaleout")
    efficiency = (52000 / 40000) / (1024 / 512)  # 0.65
    found = indications(case, ICI, "NonProportionalScalingSignature")
    assert [(i["eff"], i["score"]) for i in found] == [(pytest.approx(efficiency), pytest.approx(1 - efficiency))]


# Llama-3.1-8B's KV cache of a 32k-token prompt over the 12.5 GB/s hand-off link: 335.5 ms
KV_IDLE_P99_MS = 2 * 32 * 8 * 128 * 2 * 32000 / 12.5e9 * 1000


@pytest.mark.parametrize("measured", [910, 500])
def test_a_measured_kv_transfer_replaces_the_idle_link_estimate(measured):
    case = example("disaggregated-h100-l4", [("set", "measurements[kv-transfer-p99].value", measured)])
    assert value(case, "prefill-to-decode-kv", "kvTransferTimeP99Ms") == pytest.approx(KV_IDLE_P99_MS, abs=1e-3)
    assert value(case, "prefill-to-decode-kv", "kvTransferTimeP99UsedMs") == measured
    found = conditions(case, "KVTransferEatsTTFT")
    assert found["prefill-to-decode-kv"]["score"] == pytest.approx(measured / 1200, abs=1e-3)


def test_a_measured_kv_transfer_below_the_line_rate_floor_is_a_data_warning_not_a_replacement():
    """200 ms for 4.19 GB over 12.5 GB/s is faster than the link can move it (335.5 ms): W01 flags it, Q37 keeps the
    estimate, so C07 still scores the idle-link share of the TTFT budget."""
    case = example("disaggregated-h100-l4", [("set", "measurements[kv-transfer-p99].value", 200)])
    assert value(case, "prefill-to-decode-kv", "kvTransferTimeP99UsedMs") == pytest.approx(KV_IDLE_P99_MS, abs=1e-3)
    assert conditions(case, "KVTransferEatsTTFT")["prefill-to-decode-kv"]["score"] == pytest.approx(
        KV_IDLE_P99_MS / 1200, abs=1e-3)
    from sortai.reasoner.data_warnings import data_warnings
    warned = [w for w in data_warnings(case[1]) if w.code == "below-physical-floor"]
    assert [w.element for w in warned] == ["kv-transfer-p99"]
    assert "335.5" in warned[0].message


# --- 7. Migration --------------------------------------------------------------------------------------------------

def migration(*, before: dict, after: dict, pool_hosts=("new",), loops=(), introduces=(), target_storage="local-nvme",
              measurements=()) -> dict:
    nodes = [{**before, "id": "old", "cluster": "old-cluster"}, {**after, "id": "new", "cluster": "new-cluster"}]
    tree = fleet(nodes, [pool("serve", pool_hosts, model="llama-70b", tp=8)], [workload("chat", ["serve"])],
                 environments=[{"id": "old-dc", "kind": "on-prem", "storageLocality": "local-nvme"},
                               {"id": "new-dc", "kind": "on-prem", "storageLocality": target_storage}],
                 clusters=[{"id": "old-cluster", "environment": "old-dc", "fabric": "old-net"},
                           {"id": "new-cluster", "environment": "new-dc", "fabric": "new-net"}],
                 fabrics=[{"id": "old-net", "linkType": before["nic"], "oversubscription": 1},
                          {"id": "new-net", "linkType": after["nic"], "oversubscription": 1}],
                 migrations=[{"id": "move", "source": "old-dc", "target": "new-dc", "moves": ["serve"],
                              "before": ["old"], "after": ["new"], "codeChange": False}])
    if introduces:
        tree["migrations"][0]["introduces"] = list(introduces)
    if loops:
        tree["controlLoops"] = list(loops)
    if measurements:
        tree["measurements"] = list(measurements)
    return tree


def h100s(nic: str, nics: int, accelerator="H100-SXM") -> dict:
    return {"count": 4, "accelerator": accelerator, "acceleratorsPerNode": 8, "nic": nic, "nicsPerNode": nics,
            "virtualization": {"gpu": "bare-metal", "network": "direct"}}


@pytest.mark.parametrize("before, after, expected", [
    (("RoCE-200G", 8), ("RoCE-400G", 2), 0.5),   # faster ports, half the aggregate: 200 → 100 GB/s per node
    (("RoCE-200G", 8), ("RoCE-400G", 4), None),  # faster ports, same aggregate (200 GB/s)
    (("RoCE-400G", 4), ("RoCE-200G", 8), None),  # slower ports, same aggregate: not a downgrade
])
def test_migration_compares_aggregate_scale_out_bandwidth_per_node(before, after, expected):
    case = reason(migration(before=h100s(*before), after=h100s(*after)))
    per_accelerator = [catalog(nic)["bandwidthGBps"] * n / 8 for nic, n in (before, after)]
    found = conditions(case, "MigrationInterconnectDowngrade")
    if expected is None:
        assert per_accelerator[1] >= per_accelerator[0]
        assert found == {}
    else:
        assert 1 - per_accelerator[1] / per_accelerator[0] == pytest.approx(expected)
        assert found["move"]["score"] == pytest.approx(expected, abs=1e-3)


SCALER = loop("managed-autoscaler", "autoscaler", 60000, ["new"], observes=["accelerator-utilization"],
              actuates=["replica-count"])


@pytest.mark.parametrize("scaler, expected", [
    (SCALER, 0.6),  # scales replicas on GPU utilisation
    ({**SCALER, "observes": ["queue-depth"]}, 0.4),
], ids=["on-gpu-utilization", "on-queue-depth"])
def test_a_migration_that_introduces_a_control_loop_is_a_route(scaler, expected):
    case = reason(migration(before=h100s("IB-NDR", 8), after=h100s("IB-NDR", 8), loops=[scaler],
                            introduces=["managed-autoscaler"]))
    assert conditions(case, "MigrationControlLoopChange") == {
        "move": {"score": pytest.approx(expected, abs=1e-3), "involves": {"managed-autoscaler"}}}
    assert (MRR, "move") in modes(case)


def test_a_migration_that_keeps_its_control_loops_is_clean():
    case = reason(migration(before=h100s("IB-NDR", 8), after=h100s("IB-NDR", 8), loops=[SCALER]))
    assert conditions(case, "MigrationControlLoopChange") == {}
    assert not [key for key in modes(case) if key[0] == MRR]


@pytest.mark.parametrize("storage, scaler, expected", [
    ("network-attached", False, 0.4), ("network-attached", True, 0.6), ("object-store", True, 0.7),
    ("local-nvme", True, None)])
def test_cold_starts_from_network_storage_are_a_route(storage, scaler, expected):
    case = reason(migration(before=h100s("IB-NDR", 8), after=h100s("IB-NDR", 8), target_storage=storage,
                            loops=[SCALER] if scaler else ()))
    found = conditions(case, "MigrationStorageLocalityDowngrade")
    assert (found["move"]["score"] if found else None) == (pytest.approx(expected, abs=1e-3) if expected else None)


def test_hosts_before_and_after_are_compared_even_when_the_pool_lists_only_the_new_ones():
    changed = reason(migration(before=h100s("IB-NDR", 8), after=h100s("IB-NDR", 8, "H200-SXM")))
    assert conditions(changed, "MigrationAcceleratorChange") == {"move": {"score": 0.4, "involves": {"old-dc", "new-dc"}}}
    same = reason(migration(before=h100s("IB-NDR", 8), after=h100s("IB-NDR", 8)))
    assert conditions(same, "MigrationAcceleratorChange") == {}


def test_a_cut_over_compares_the_sides_the_plan_names():
    case = reason(migration(before=h100s("IB-NDR", 8), after=h100s("IB-NDR", 8, "H200-SXM"), pool_hosts=("old", "new")))
    assert conditions(case, "MigrationAcceleratorChange") == {"move": {"score": 0.4, "involves": {"old-dc", "new-dc"}}}


def test_a_cut_over_hosted_on_both_sides_is_not_one_mixed_pool():
    case = reason(migration(before=h100s("IB-NDR", 8), after=h100s("IB-NDR", 8, "H200-SXM"), pool_hosts=("old", "new")))
    assert conditions(case, "MixedAcceleratorPool") == {}
    assert (LAD, "serve") not in modes(case)


# --- 8. Severity: compositional combination, one finding per root cause -------------------------------------------

def test_lines_of_evidence_combine_by_noisy_or():
    """A time-sliced vGPU (2 per GPU) through a hypervisor, with a virtio NIC: three kinds of evidence for VCD."""
    case = reason(virtualized({"gpu": "time-sliced-vgpu", "sharesPerGPU": 2, "hypervisor": "kvm", "network": "virtio"}))
    lines = [0.4 * route_weight("TimeSlicedTenantSharing", VIRTUALIZATION_MODE),
             0.7 * route_weight("VirtualizedNetworkOnServingPath", VIRTUALIZATION_MODE),
             0.35 * route_weight("HypervisorMediatedAccelerators", VIRTUALIZATION_MODE)]
    expected = 1 - math.prod(1 - s for s in lines)
    diagnosis = modes(case)[(VIRTUALIZATION_MODE, "c1")]
    assert diagnosis.severity_score == pytest.approx(expected, abs=2e-3)
    assert diagnosis.severity_score > max(lines) + 0.1  # not the strongest line alone
    assert diagnosis.severity.startswith(band(expected))


def test_a_single_line_of_evidence_is_its_own_severity():
    case = reason(virtualized({"gpu": "vm-passthrough", "hypervisor": "kvm", "network": "virtio"}))
    expected = 0.7 * route_weight("VirtualizedNetworkOnServingPath", VIRTUALIZATION_MODE)
    assert modes(case)[(VIRTUALIZATION_MODE, "c1")].severity_score == pytest.approx(expected, abs=1e-3)


RACKS = ("h100-nodes-rack-a", "h100-nodes-rack-b", "h100-nodes-rack-c", "h100-nodes-rack-d")


@pytest.mark.parametrize("racks", [RACKS, RACKS[:1]], ids=["four-node-groups", "one-node-group"])
def test_one_condition_on_several_node_groups_is_one_diagnosis(racks):
    virtio = {"gpu": "vm-passthrough", "network": "virtio", "hypervisor": "kvm"}
    edits = [("set", f"nodes[{rack}].virtualization", virtio) for rack in racks]
    case = example("homogeneous-h100", edits)
    assert set(conditions(case, "VirtualizedNetworkOnServingPath")) == set(racks)
    found = [d for d in diagnoses(case[1]) if d.mode == VIRTUALIZATION_MODE]
    assert [(d.component, set(racks) <= set(d.involves)) for d in found] == [("h100-cluster", True)]
    # One root cause is one line of evidence: 0.7 × its route weight, not 1 − (1 − s)⁴.
    line = 0.7 * route_weight("VirtualizedNetworkOnServingPath", VIRTUALIZATION_MODE)
    assert found[0].severity_score == pytest.approx(line, abs=1e-3)


# --- Found while testing ---------------------------------------------------------------------------------------------

def test_every_capacity_shortfall_has_a_severity():
    case = example("mig-multitenant")
    shortfalls = [d for d in diagnoses(case[1]) if d.mode == "CapacityShortfall"]
    assert shortfalls
    for finding in shortfalls:
        headroom = value(case, finding.component + "/finding/CapacityShortfall", "observedRatio")
        assert finding.severity_score == pytest.approx(min(1, 0.4 + 0.6 * (1 / headroom - 1)), abs=1e-3)
        assert finding.severity.startswith(band(finding.severity_score))
