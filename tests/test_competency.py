"""Competency questions: SPARQL files over the ontology whose answers must equal the paper's Table 1."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
from ruamel.yaml import YAML

from sortai.reasoner import resources

HERE = Path(__file__).parent / "competency"
EXPECTED = YAML(typ="safe").load((HERE / "expectations.yaml").read_text())


@pytest.fixture(scope="module")
def store():
    store = ox.Store()
    store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object) for t in resources.ontology_triples())
    return store


def local(term):
    if term is None:
        return None
    return term.value.rsplit("#", 1)[-1].rsplit("/", 1)[-1] if isinstance(term, ox.NamedNode) else term.value


def test_every_question_has_an_expectation():
    assert sorted(p.stem for p in HERE.glob("*.rq")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_competency_question(store, name):
    results = store.query((HERE / f"{name}.rq").read_text())
    rows = [[local(row[v]) for v in results.variables] for row in results]
    assert rows == EXPECTED[name]
