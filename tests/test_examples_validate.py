"""Shapes: SHACL-SHACL conformance; every shipped example validates; every broken one fails as documented."""

from __future__ import annotations

import json

import pytest
import rdflib
from pyshacl import validate as shacl_validate

from sortai.reasoner import resources
from sortai.reasoner.description import load_file
from sortai.reasoner.problems import InputError
from sortai.reasoner.validation import validate

from .conftest import BROKEN, SCENARIOS

BROKEN_FILES = sorted(p for p in BROKEN.iterdir()
                      if p.suffix in (".yaml", ".json", ".jsonld", ".ttl") and not p.name.endswith(".expected.json"))


def test_shapes_pass_shacl_shacl_meta_validation():
    shapes = rdflib.Graph().parse(resources.shapes_path(), format="turtle")
    conforms, _, text = shacl_validate(shapes, shacl_graph=shapes, meta_shacl=True)
    assert conforms, text


def test_there_are_six_scenarios_and_broken_cases():
    assert len(SCENARIOS) >= 6
    assert len(BROKEN_FILES) >= 8


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_every_example_validates(scenario):
    report = validate(load_file(scenario / "description.yaml"))
    assert report.conforms, "\n".join(p.render() for p in report.problems)
    assert (scenario / "README.md").is_file()


def problems_of(path):
    try:
        return validate(load_file(path)).problems
    except InputError as exc:
        return exc.problems


@pytest.mark.parametrize("path", BROKEN_FILES, ids=lambda p: p.name)
def test_every_broken_example_fails_with_its_expected_messages(path):
    """`<file>.expected.json` lists the problems exactly: code, element, key, line and a message fragment."""
    expected = json.loads(path.with_name(path.name + ".expected.json").read_text())
    found = problems_of(path)
    assert found, f"{path.name} was accepted"
    got = [{"code": p.code, "element": p.element, "key": p.key, "fix": p.fix or "",
             "line": p.location.line if p.location else None, "message": p.message} for p in found]
    assert len(got) == len(expected), json.dumps(got, indent=2)
    for want, have in zip(expected, got):
        for field in ("code", "element", "key", "line"):
            assert have[field] == want.get(field), (field, have, want)
        assert want["message_contains"] in have["message"], (have, want)
        assert want.get("fix_contains", "") in have["fix"], (have, want)
    if path.suffix in (".yaml", ".json"):
        assert all(p.location is not None and p.location.file == str(path) for p in found)


def _pyshacl_results(description):
    import pyoxigraph as ox
    from rdflib.namespace import RDF, SH

    data = rdflib.Graph()
    data.parse(data=ox.serialize([*description.triples, *resources.ontology_triples(), *resources.catalog_triples()],
                                 format=ox.RdfFormat.N_TRIPLES), format="nt")
    shapes = rdflib.Graph().parse(resources.shapes_path(), format="turtle")
    _, report, _ = shacl_validate(data, shacl_graph=shapes, inference="none", advanced=True)
    rows = set()
    for result in report.subjects(RDF.type, SH.ValidationResult):
        value = report.value(result, SH.value)
        rows.add((str(report.value(result, SH.focusNode)), str(report.value(result, SH.resultPath) or ""),
                  str(report.value(result, SH.sourceConstraintComponent)), str(value) if value is not None else ""))
    return rows


def _our_results(description):
    from sortai.reasoner.shacl import validate_triples

    return {(r.focus.value, r.path or "", r.component, r.value.value if r.value is not None else "")
            for r in validate_triples(str(resources.shapes_path()),
                                      [*description.triples, *resources.ontology_triples(),
                                       *resources.catalog_triples()])}


PARITY_FILES = [s / "description.yaml" for s in SCENARIOS] + [
    p for p in BROKEN_FILES if p.name not in ("yaml-syntax.yaml", "json-syntax.json", "remote-context.jsonld")]


@pytest.mark.parametrize("path", PARITY_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fast_validator_agrees_with_pyshacl(path):
    """pySHACL is the reference implementation; the in-memory validator must report exactly the same."""
    description = load_file(path)
    assert _our_results(description) == _pyshacl_results(description)
