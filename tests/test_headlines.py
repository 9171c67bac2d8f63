"""Headlines: every diagnosis of every example leads with a sentence whose numbers are the rules' own.

Each number of a headline is checked three ways: its value is the one in the inferred graph (read here with SPARQL,
not through the headline code) or the one the rule bound when it fired (read from the explanation); the sentence
shows it; and what it shows is that value, rounded.
"""

from __future__ import annotations

import math
import re
from functools import cache

import pytest

from sortai.reasoner import resources
from sortai.reasoner.description import load_file
from sortai.reasoner.diagnoses import diagnoses, short_domain
from sortai.reasoner.engine import infer
from sortai.reasoner.explain import Explainer

from .conftest import EXAMPLES, SCENARIOS

SAI = resources.SAI


@cache
def reasoned(example: str):
    reasoning = infer(load_file(EXAMPLES / example / "description.yaml"))
    return reasoning, diagnoses(reasoning)


def graph_value(reasoning, element: str, quantity: str) -> float:
    """The quantity of an element as the graph holds it (one SPARQL query; any graph: asserted or inferred)."""
    base = reasoning.description.base
    predicate = (f"<{SAI}{quantity}>" if quantity != "hasSimpleResult"
                 else "<http://www.w3.org/ns/sosa/hasSimpleResult>")
    rows = list(reasoning.query(f"SELECT ?v WHERE {{ <{base}{element}> {predicate} ?v }}"))
    assert rows, f"{element} has no {quantity} in the graph"
    return float(rows[0]["v"].value)


def rule_values(reasoning, diagnosis_iri: str, rule: str) -> list[dict]:
    """The values every application of `rule` bound, anywhere in the diagnosis's explanation."""
    found = []

    def walk(node):
        if node.rule and node.rule.get("id") == rule and node.values:
            found.append(node.values)
        for child in node.because:
            walk(child)

    walk(Explainer(reasoning).explain_diagnosis(diagnosis_iri))
    return found


def shows(shown: str, value: float, scale: float) -> bool:
    """'1,917 ms' shows 1916.858; '28 %' shows 0.28 at scale 100; '2.71×' shows 2.71 (three significant figures)."""
    number = float(re.match(r"-?[\d,]*\.?\d+", shown).group(0).replace(",", ""))
    target = value * scale
    return math.isclose(number, target, rel_tol=0.006, abs_tol=0.5 if abs(target) >= 1 else 0.0006)


CASES = [(p.name, d.id) for p in SCENARIOS for d in reasoned(p.name)[1]]


def test_every_example_with_diagnoses_is_covered():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) >= 10


@pytest.mark.parametrize("example,diagnosis_id", CASES, ids=[f"{e}:{d}" for e, d in CASES])
def test_headline_numbers_are_the_rules_numbers(example, diagnosis_id):
    reasoning, found = reasoned(example)
    d = next(x for x in found if x.id == diagnosis_id)
    assert d.headline.endswith(".") and d.effect and d.confirm
    assert 2 <= len(d.figures) <= 8, d.headline  # the few numbers that carry it
    for figure in d.figures:
        assert figure["shown"] in d.headline, (figure, d.headline)
        scale = figure.get("scale", 1)
        assert shows(figure["shown"], figure["value"], scale), figure
        if figure.get("rule"):
            bound = [float(v[figure["quantity"]]) for v in rule_values(reasoning, d.iri, figure["rule"])
                     if figure["quantity"] in v]
            assert any(math.isclose(b, figure["value"]) for b in bound), (figure, bound)
        elif "×" in figure["quantity"]:  # a product of two graph quantities, stated as such
            left, right = (q.strip() for q in figure["quantity"].split("×"))
            path = figure["element"]
            tokens = graph_value(reasoning, path, left)
            model = next(iter(reasoning.query(
                f"SELECT ?m WHERE {{ <{reasoning.description.base}{path}> <{SAI}fromPool> ?p . ?p <{SAI}servesModel> ?m }}")))
            per_token = float(next(iter(reasoning.query(f"SELECT ?v WHERE {{ <{model['m'].value}> <{SAI}{right}> ?v }}")))["v"].value)
            assert math.isclose(figure["value"], tokens * per_token / 1e9)
        else:
            assert math.isclose(figure["value"], graph_value(reasoning, figure["element"], figure["quantity"]))


def test_kv_handoff_headline_carries_the_transfer_the_rules_computed():
    reasoning, found = reasoned("disaggregated-h100-l4")
    d = next(x for x in found if x.id == "prefill-to-decode-kv/diagnosis/InterconnectCapacityInaccessibility")
    transfer = graph_value(reasoning, "prefill-to-decode-kv", "kvTransferTimeP99Ms")
    bandwidth = graph_value(reasoning, "prefill-to-decode-kv", "bottleneckBandwidthGBps")
    share = graph_value(reasoning, "prefill-to-decode-kv", "kvTransferShareOfTTFT")
    measured = graph_value(reasoning, "prefill-to-decode-kv", "kvTransferTimeP99UsedMs")
    assert f"{round(transfer)} ms" in d.headline and f"{bandwidth:g} GB/s" in d.headline
    assert f"{round(share * 100)} %" in d.headline and f"{round(measured)} ms" in d.headline
    # The bytes: 32,000 tokens × 131,072 B = 4.19 GB, and 4.19 GB over 12.5 GB/s is the 336 ms.
    assert "4.19 GB" in d.headline and math.isclose(4.194304 / bandwidth * 1000, transfer, rel_tol=1e-4)


def test_finding_headlines_lead_with_the_comparison_against_the_target():
    reasoning, found = reasoned("disaggregated-h100-l4")
    ttft = next(x for x in found if x.id == "document-qa/finding/TTFTTargetUnattainable")
    prefill = graph_value(reasoning, "h100-prefill", "prefillTimeP99Ms")
    predicted = graph_value(reasoning, "document-qa", "predictedTTFTP99Ms")
    assert f"{round(prefill):,} ms" in ttft.headline and f"{round(predicted):,} ms" in ttft.headline
    assert "1,200 ms" in ttft.headline
    over = next(iter(reasoned("over-provisioned-h100")[1]))
    needed = graph_value(reasoned("over-provisioned-h100")[0], "llama70b-serving", "replicasNeeded")
    assert over.mode == "OverProvisioning" and f"needs {needed:g}" in over.headline


def test_confirmation_names_the_papers_signature_and_the_exporter_series():
    labels = {}
    for t in resources.ontology_triples():
        if t.predicate.value == "http://www.w3.org/2000/01/rdf-schema#label":
            labels[t.subject.value] = t.object.value
    for example in ("disaggregated-h100-l4", "mixed-vendor-pools", "mig-multitenant", "oversubscribed-scaleout"):
        for d in reasoned(example)[1]:
            if d.kind != "mode":
                continue
            assert d.signature and labels[SAI + d.signature] in d.confirm, d.confirm
            assert "§8.3" in d.confirm and re.search(r"(vllm:|DCGM_FI_)\w+", d.confirm), d.confirm
    memory = next(d for d in reasoned("disaggregated-h100-l4")[1] if d.id == "l4-decode/diagnosis/MemoryPathIncoherence")
    assert "DCGM_FI_PROF_SM_ACTIVE" in memory.confirm and "DCGM_FI_PROF_DRAM_ACTIVE" in memory.confirm


def test_headline_is_in_every_output_format(tmp_path):
    from typer.testing import CliRunner

    from sortai.reasoner.cli import app

    path = str(EXAMPLES / "disaggregated-h100-l4" / "description.yaml")
    runner = CliRunner()
    _, found = reasoned("disaggregated-h100-l4")
    import json

    data = json.loads(runner.invoke(app, ["diagnose", "-f", "json", path]).stdout)
    assert [d["headline"] for d in data["diagnoses"]] == [d.headline for d in found]
    assert all(d["figures"] and d["effect"] and d["confirm"] for d in data["diagnoses"])
    markdown = runner.invoke(app, ["diagnose", "-f", "md", path]).stdout
    text = runner.invoke(app, ["diagnose", path]).stdout
    for d in found:
        assert d.headline in markdown and d.effect in markdown
        assert all(f["shown"] in " ".join(text.split()) for f in d.figures)


def _in_terminal(columns: int, *args: str) -> str:
    """Run the CLI in a real pseudo-terminal of `columns` columns (rich sizes itself from the tty) and return the
    screen text without its escape sequences."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")} | {"TERM": "xterm-256color"}
    process = subprocess.Popen([sys.executable, "-m", "sortai.reasoner.cli", *args], stdin=slave, stdout=slave,
                               stderr=slave, close_fds=True, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert process.wait(timeout=120) == 0
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode("utf-8")).replace("\r", "")


@pytest.mark.parametrize("example", ["disaggregated-h100-l4", "mig-multitenant"])
def test_diagnose_table_reads_in_an_80_column_terminal(example):
    screen = _in_terminal(80, "diagnose", str(EXAMPLES / example / "description.yaml"))
    lines = screen.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    flat = " ".join(screen.split())
    _, found = reasoned(example)
    for index, d in enumerate(found, 1):
        # The headline's words survive the wrapping, with its numbers, and each diagnosis keeps its id to explain.
        words = [w for w in d.headline.split() if len(w) > 3][:6]
        assert all(w in flat for w in words), (d.headline, words)
        assert all(f["shown"].split()[0] in flat for f in d.figures)
        assert f"{index}. {d.id}" in flat
        # Domains by their titles, not bare codes.
        for domain in d.primary_domains:
            assert " ".join(short_domain(domain).split()[:2]) in flat, domain


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_evidence_read_for_all_diagnoses_at_once_is_the_evidence_read_one_by_one(scenario):
    from sortai.reasoner.headlines import Facts, all_evidence, evidence_of

    reasoning = infer(load_file(scenario / "description.yaml"))
    found = diagnoses(reasoning)
    one_by_one = {d.iri: evidence_of(Facts(reasoning), d.iri) for d in found}
    facts = Facts(reasoning)
    facts.evidence = all_evidence(facts)
    assert {d.iri: evidence_of(facts, d.iri) for d in found} == one_by_one
    assert all(one_by_one[d.iri] for d in found if d.kind == "mode")  # a mode's diagnosis rests on evidence


def test_evidence_read_at_once_takes_each_property_as_a_lookup_does():
    """Odd values on an indication (a second kind, a literal where an IRI belongs, a score that is no number) are
    read alike by the scan and by the lookups."""
    import pyoxigraph as ox

    from sortai.reasoner.headlines import Facts, all_evidence, evidence_of

    scenario = next(s for s in SCENARIOS if s.name == "disaggregated-h100-l4")
    reasoning = infer(load_file(scenario / "description.yaml"))
    found = diagnoses(reasoning)
    diagnosis = found[0].iri
    facts = Facts(reasoning)
    indications = facts.iris(diagnosis, "http://www.w3.org/ns/prov#wasDerivedFrom")
    assert len(indications) >= 2
    graph = reasoning.inferred_graph
    first, second = (ox.NamedNode(i) for i in indications[:2])
    reasoning.store.extend([
        ox.Quad(first, ox.NamedNode(SAI + "evidenceKind"), ox.NamedNode(SAI + "AAAEarlierKind"), graph),
        ox.Quad(first, ox.NamedNode(SAI + "concerns"), ox.Literal("a literal"), graph),
        ox.Quad(second, ox.NamedNode(SAI + "severityScore"), ox.Literal("0.0001-not-a-number"), graph),
        ox.Quad(second, ox.NamedNode(SAI + "viaMeasurement"), ox.Literal("not a measurement"), graph),
        ox.Quad(ox.NamedNode(diagnosis), ox.NamedNode("http://www.w3.org/ns/prov#wasDerivedFrom"),
                ox.Literal("not an indication"), reasoning.asserted_graph),
    ])
    one_by_one = evidence_of(Facts(reasoning), diagnosis)
    facts = Facts(reasoning)
    facts.evidence = all_evidence(facts)
    assert evidence_of(facts, diagnosis) == one_by_one
    assert "AAAEarlierKind" in {e.kind for e in one_by_one}


@pytest.mark.parametrize("few_read_again", [0.0, 1.0], ids=["evidence-at-once", "evidence-one-by-one"])
def test_reading_the_diagnoses_leaves_no_cycle_for_the_collector_it_runs_without(
        few_read_again, cyclic_garbage, monkeypatch):
    """`diagnoses` runs without the cyclic collector and freezes what it made: a reference cycle made there
    would never be freed. Both ways of reading the evidence are covered: all at once, one by one."""
    from sortai.reasoner import diagnoses as reading
    from sortai.reasoner import headlines

    monkeypatch.setattr(reading, "FEW_READ_AGAIN", few_read_again)
    scans = []
    read_at_once = headlines.all_evidence
    monkeypatch.setattr(headlines, "all_evidence", lambda facts: scans.append(1) or read_at_once(facts))
    scenario = next(s for s in SCENARIOS if s.name == "disaggregated-h100-l4")
    reasoning = infer(load_file(scenario / "description.yaml"))
    found = []
    assert cyclic_garbage(lambda: found.extend(diagnoses(reasoning))) == []
    assert len(found) >= 3
    assert len(scans) == (1 if few_read_again == 0.0 else 0)
