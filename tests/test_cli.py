"""The command line: every command, every output format, the documented exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rdflib
from typer.testing import CliRunner

from sortai.reasoner.cli import app

from .conftest import BROKEN, EXAMPLES

DISAGG = str(EXAMPLES / "disaggregated-h100-l4" / "description.yaml")
CONTROL = str(EXAMPLES / "homogeneous-h100" / "description.yaml")
runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def test_validate_exit_codes():
    assert run("validate", DISAGG).exit_code == 0
    assert run("validate", str(BROKEN / "negative-bandwidth.yaml")).exit_code == 2
    assert run("validate", str(BROKEN / "yaml-syntax.yaml")).exit_code == 3
    assert run("validate", "no/such/file.yaml").exit_code == 3


def test_validate_json_and_turtle_reports():
    report = json.loads(run("validate", "-f", "json", str(BROKEN / "negative-bandwidth.yaml")).stdout)
    assert report["conforms"] is False and report["violations"] == 1
    assert report["problems"][0]["location"]["line"] == 14
    graph = rdflib.Graph().parse(data=run("validate", "-f", "ttl", str(BROKEN / "negative-bandwidth.yaml")).stdout,
                                 format="turtle")
    assert (None, rdflib.SH.conforms, rdflib.Literal(False)) in graph


def test_diagnose_formats():
    expected = json.loads((Path(DISAGG).parent / "expected-diagnoses.json").read_text())
    text = run("diagnose", DISAGG)
    assert text.exit_code == 0 and "prefill-to-decode-kv/diagnosis/LatencyAsymmetryDrift" in text.stdout
    data = json.loads(run("diagnose", "-f", "json", DISAGG).stdout)
    assert len(data["diagnoses"]) == len(expected)
    assert data["diagnoses"][0]["severity_score"] >= data["diagnoses"][-1]["severity_score"]
    graph = rdflib.Graph().parse(data=run("diagnose", "-f", "ttl", DISAGG).stdout, format="turtle")
    assert len(set(graph.subjects(rdflib.RDF.type, rdflib.URIRef("http://www.w3.org/ns/prov#Activity")))) > 10
    assert "| 1 |" in run("diagnose", "-f", "md", DISAGG).stdout
    assert "no instability mode found" in run("diagnose", CONTROL).stdout


def test_diagnose_fail_on_and_invalid_input():
    assert run("diagnose", "--fail-on", "high", DISAGG).exit_code == 1
    assert run("diagnose", "--fail-on", "low", CONTROL).exit_code == 0
    assert run("diagnose", str(BROKEN / "dangling-reference.yaml")).exit_code == 2


@pytest.mark.parametrize("fmt,marker", [("text", "formula:"), ("json", '"because"'), ("ttl", "prov:used"),
                                        ("dot", "digraph explanation")])
def test_explain_formats(fmt, marker):
    result = run("explain", "-f", fmt, DISAGG, "prefill-to-decode-kv/diagnosis/InterconnectCapacityInaccessibility")
    assert result.exit_code == 0 and marker in result.stdout


def test_explain_unknown_or_ambiguous_id_lists_the_diagnoses():
    result = run("explain", DISAGG, "NoSuchMode")
    assert result.exit_code == 4 and "l4-decode/diagnosis/MemoryPathIncoherence" in result.stderr
    assert run("explain", DISAGG, "MemoryPathIncoherence").exit_code == 4  # two match: ambiguous


def test_query_select_ask_construct_and_refusals():
    select = run("query", "-f", "json", DISAGG,
                 "PREFIX sai: <https://w3id.org/sortai/ontology#> SELECT ?b WHERE { ?m sai:kvBytesPerToken ?b }")
    assert json.loads(select.stdout)["results"]["bindings"][0]["b"]["value"] == "131072"
    assert run("query", DISAGG, "ASK { ?s ?p ?o }").stdout.strip() == "true"
    construct = run("query", DISAGG, "CONSTRUCT WHERE { ?s <https://w3id.org/sortai/ontology#decodeStepFloorMs> ?o }")
    assert len(rdflib.Graph().parse(data=construct.stdout, format="turtle")) == 1
    refused = run("query", DISAGG, "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }")
    assert refused.exit_code == 3 and "SERVICE" in refused.stderr
    assert run("query", DISAGG, "INSERT DATA { <a> <b> <c> }").exit_code == 3


def test_rules_lists_every_rule_with_sections():
    rules = json.loads(run("rules", "-f", "json").stdout)
    assert {r["id"] for r in rules} >= {"Q01", "C01", "M01", "S01", "D01"}
    assert all(r["sections"] for r in rules)


def test_the_readme_main_command_names_a_shipped_example():
    from .conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "sortai diagnose" in line)
    example = command.rsplit(" ", 1)[-1]
    assert (ROOT / example).is_file(), example
    assert run("diagnose", str(ROOT / example)).exit_code == 0


def test_rdfxml_is_read_like_yaml(tmp_path):
    """The CLI reads RDF/XML (.rdf, .owl), as the API does, with DTDs and entities refused before parsing."""
    import pyoxigraph as ox

    from sortai.reasoner.description import load_file

    triples = load_file(DISAGG).triples
    for suffix in (".rdf", ".owl"):
        path = tmp_path / f"fleet{suffix}"
        path.write_bytes(ox.serialize(triples, format=ox.RdfFormat.RDF_XML))
        as_xml = json.loads(run("diagnose", "-f", "json", str(path)).stdout)
        as_yaml = json.loads(run("diagnose", "-f", "json", DISAGG).stdout)
        assert [d["mode"] for d in as_xml["diagnoses"]] == [d["mode"] for d in as_yaml["diagnoses"]]
    bomb = tmp_path / "bomb.rdf"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
                    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>')
    refused = run("validate", str(bomb))
    assert refused.exit_code == 3 and "DOCTYPE or ENTITY" in refused.output
    broken = tmp_path / "broken.owl"
    broken.write_text("<rdf:RDF")
    result = run("validate", str(broken))
    assert result.exit_code == 3 and "RDF/XML syntax error" in result.output and "Traceback" not in result.output


def test_usage_errors_exit_4_never_the_invalid_description_code():
    assert run("valdate", CONTROL).exit_code == 4
    assert run("validate", "--bogus", CONTROL).exit_code == 4
    assert run("diagnose", "--fail-on", "nope", CONTROL).exit_code == 4
    result = run("diagnose", "--max-memory", "lots", CONTROL)
    assert result.exit_code == 4 and "8G" in result.stderr


CROSS = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?a ?c ?f ?i LIMIT 1"


def test_query_time_limit_stops_a_cross_product():
    result = run("query", "--timeout", "2", CONTROL, CROSS)
    assert result.exit_code == 5, result.stderr
    assert "time limit of 2 s (--timeout)" in result.stderr


def test_query_memory_limit_stops_a_cross_product_cleanly():
    """Oxigraph aborts the process when an allocation fails: the limit turns that into a message, exit 5."""
    from pathlib import Path

    status = Path("/proc/self/status").read_text()
    in_use = int(status.split("VmSize:")[1].split()[0]) * 1024  # the child starts as a copy of this process
    result = run("query", "--timeout", "300", "--max-memory", str(in_use + 400 * 2**20), CONTROL, CROSS)
    assert result.exit_code == 5, result.stderr
    assert "memory limit of" in result.stderr and "(--max-memory)" in result.stderr


def test_sizes_for_max_memory():
    from sortai.reasoner.limits import parse_size

    assert parse_size("8G") == 8 * 2**30 and parse_size("512M") == 512 * 2**20 and parse_size("1.5GiB") == 3 * 2**29
    assert parse_size("0") == 0 and parse_size("1000") == 1000
    with pytest.raises(ValueError):
        parse_size("-1G")


def test_problem_text_is_printed_literally():
    """Rich would turn `sai:label:` into an emoji; problems quote keys like that."""
    result = run("validate", str(BROKEN / "unknown-key.yaml"))
    assert result.exit_code == 2 and "🏷" not in result.stdout
