"""Reading descriptions: the JSON-LD mapping, locations, and the errors users see for bad input."""

from __future__ import annotations

import pytest

from sortai.reasoner.description import load_bytes, load_file
from sortai.reasoner.problems import InputError
from sortai.reasoner.resources import CAT, SAI

from .conftest import MINIMAL

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def triples_of(description):
    return {(t.subject.value, t.predicate.value, t.object.value) for t in description.triples}


def test_yaml_maps_to_rdf_through_the_context(write):
    d = load_file(write(MINIMAL))
    base = d.base
    facts = triples_of(d)
    assert (base + "gpu-nodes", SAI + "acceleratorModel", CAT + "H100-SXM") in facts
    assert (base + "gpu-nodes", SAI + "replicaCount", "4") in facts
    assert (base + "serve", SAI + "hostedOn", base + "gpu-nodes") in facts
    assert (base + "serve", SAI + "poolRole", SAI + "ColocatedRole") in facts
    # Elements are typed by the list that declares them (rdfs:range of the sai:declares sub-property).
    assert (base + "gpu-nodes", RDF_TYPE, SAI + "Node") in facts
    assert (base + "serve", RDF_TYPE, SAI + "ServingPool") in facts
    assert (d.deployment, RDF_TYPE, SAI + "Deployment") in facts
    assert d.problems == []


def test_numbers_keep_their_decimal_lexical_form(write):
    d = load_file(write(MINIMAL.replace("parametersB: 8", "parametersB: 8.03")))
    values = {t.object.value for t in d.triples if t.predicate.value == SAI + "parametersBillions"}
    datatypes = {t.object.datatype.value for t in d.triples if t.predicate.value == SAI + "parametersBillions"}
    assert values == {"8.03"}
    assert datatypes == {"http://www.w3.org/2001/XMLSchema#decimal"}


def test_every_element_and_key_has_a_line(write):
    d = load_file(write(MINIMAL))
    node = d.base + "gpu-nodes"
    assert d.location_of(node).line == 9
    assert d.location_of(node, SAI + "acceleratorModel").line == 12


def test_nested_blocks_get_deterministic_iris(write):
    text = MINIMAL.replace("    tensorParallel: 1\n", "    tensorParallel: 1\n    virtualization: {gpu: bare-metal}\n")
    first, second = load_file(write(text)), load_file(write(text))
    assert triples_of(first) == triples_of(second)
    assert (first.base + "serve", SAI + "virtualization", first.base + "serve/virtualization") in triples_of(first)


def test_yaml_syntax_error_names_line_and_column(write):
    path = write("id: x\nnodes:\n  - id: a\n   accelerator: H100-SXM\n")
    with pytest.raises(InputError) as info:
        load_file(path)
    problem = info.value.problems[0]
    assert problem.code == "syntax"
    assert problem.location.file == str(path)
    assert problem.location.line == 4 and problem.location.column is not None


def test_json_syntax_error_names_line_and_column(write):
    path = write('{"id": "x",\n "nodes": [\n  {"id": "a",}\n ]}\n', name="fleet.json")
    with pytest.raises(InputError) as info:
        load_file(path)
    assert (info.value.problems[0].location.line, info.value.problems[0].code) == (3, "syntax")


def test_turtle_syntax_error_names_line(write):
    path = write("@prefix sai: <https://w3id.org/sortai/ontology#> .\n<a> a sai:Node ;\n  sai:x \"open .\n",
                 name="fleet.ttl")
    with pytest.raises(InputError) as info:
        load_file(path)
    assert info.value.problems[0].location.line == 3


def test_unknown_catalog_name_suggests_nearest(write):
    d = load_file(write(MINIMAL.replace("H100-SXM", "H100-SMX")))
    [problem] = [p for p in d.problems if p.code == "unknown-catalog-name"]
    assert problem.location.line == 12 and problem.element == "gpu-nodes" and problem.key == "accelerator"
    assert "'H100-SXM'" in problem.fix


def test_unknown_key_suggests_nearest(write):
    d = load_file(write(MINIMAL.replace("acceleratorsPerNode", "acceleratorPerNode")))
    [problem] = [p for p in d.problems if p.code == "unknown-key"]
    assert problem.key == "acceleratorPerNode" and "'acceleratorsPerNode'" in problem.fix
    assert problem.location.line == 13


def test_unknown_enum_value_lists_allowed(write):
    d = load_file(write(MINIMAL.replace("role: colocated", "role: colocate")))
    [problem] = [p for p in d.problems if p.code == "unknown-value"]
    assert "'colocated'" in problem.fix and "prefill" in problem.fix


def test_duplicate_ids_are_reported(write):
    d = load_file(write(MINIMAL.replace("id: c1\n", "id: dc1\n").replace("environment: dc1", "environment: dc1")))
    assert any(p.code == "duplicate-id" for p in d.problems)


def test_list_items_need_an_id(write):
    d = load_file(write(MINIMAL.replace("  - id: llama-8b\n", "  - label: no id\n")))
    assert any(p.code == "missing-id" and p.location.line == 15 for p in d.problems)


def test_remote_jsonld_context_is_never_fetched():
    doc = b'{"@context": "http://127.0.0.1:9/context.jsonld", "@id": "x", "@type": "Node"}'
    with pytest.raises(InputError) as info:
        load_bytes(doc, "remote.jsonld")
    assert info.value.problems[0].code == "remote-context"


def test_jsonld_with_the_shipped_context_reference_works():
    doc = (b'{"@context": "https://w3id.org/sortai/context.jsonld", "@id": "https://w3id.org/sortai/data/j",'
           b' "@type": "Deployment", "nodes": [{"id": "n1", "accelerator": "L4", "acceleratorsPerNode": 4}]}')
    d = load_bytes(doc, "fleet.jsonld")
    assert (d.base + "n1", SAI + "acceleratorModel", CAT + "L4") in triples_of(d)


def test_turtle_typos_in_sortai_terms_are_reported():
    ttl = (b"@prefix sai: <https://w3id.org/sortai/ontology#> .\n"
           b"<n1> a sai:Nod ; sai:acceleratorModle <https://w3id.org/sortai/catalog/H100-SXM> .\n")
    d = load_bytes(ttl, "fleet.ttl")
    codes = sorted((p.code, p.value) for p in d.problems)
    assert ("unknown-term", "Nod") in codes and ("unknown-term", "acceleratorModle") in codes


@pytest.mark.parametrize("payload,name", [
    (b"", "empty.yaml"),
    (b"- just\n- a list\n", "list.yaml"),
    (b"\xff\xfe\x00", "binary.yaml"),
    (b"id: x\nnodes: 3\n", "scalar.yaml"),
    (b"nodes:\n  - 42\n", "items.yaml"),
    (b"id: x\n", "fleet.docx"),
    (b'id: x\nlabel: "\\ud800"\n', "surrogate.yaml"),
    (b'{"@context": {"@vocab": 5}}', "weird.jsonld"),
])
def test_garbage_never_raises_anything_but_input_error(payload, name):
    try:
        d = load_bytes(payload, name)
    except InputError as exc:
        assert exc.problems and exc.problems[0].render()
    else:
        assert d.triples is not None
