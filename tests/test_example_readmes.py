"""Each example's README states its key numbers and a sentence for every diagnosis it pins.

The table between `<!-- key-numbers -->` markers must be what the reasoner derives today (regenerate it with
`python -m tests.expected_diagnoses examples/NAME`), so the prose next to it cannot silently go stale; every
diagnosis in `expected-diagnoses.json` must be named in the README.
"""

from __future__ import annotations

import json

import pytest

from sortai.reasoner.description import load_file
from sortai.reasoner.engine import infer

from .conftest import SCENARIOS
from .expected_diagnoses import TABLE, key_numbers_table


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_readme_key_numbers_are_the_derived_ones(scenario):
    readme = (scenario / "README.md").read_text()
    reasoning = infer(load_file(scenario / "description.yaml"))
    table = key_numbers_table(reasoning)
    match = TABLE.search(readme)
    if table.count("\n") <= 2:  # no serving pool with traffic: nothing to tabulate, and no stale table either
        assert not match, f"{scenario.name}/README.md has a key-numbers table but no pool derives the numbers"
        return
    assert match, f"{scenario.name}/README.md has no key-numbers table"
    assert match.group(1) == table, f"stale table: python -m tests.expected_diagnoses examples/{scenario.name}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_readme_names_every_diagnosis(scenario):
    readme = (scenario / "README.md").read_text()
    for d in json.loads((scenario / "expected-diagnoses.json").read_text()):
        tail = d["id"].split("/diagnosis/")[-1].split("/finding/")[-1]
        assert d["id"] in readme or f"{d['component']}/…/{tail}" in readme, (scenario.name, d["id"])
