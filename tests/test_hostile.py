"""Hostile input (issue 10): every input ends as a clear problem — no traceback, no exit 70, no run over its limit.

The named attacks and a sample of the mutated corpus run in the normal suite; the whole corpus
(`tests/hostile.py`, 600 mutations) runs with `pytest -m hostile`, which .ci/run does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from sortai.reasoner.cli import app

from .conftest import EXAMPLES
from .hostile import Case, mutated_cases, named_cases

LIMITS = ["--timeout", "120", "--max-memory", "4G"]
EXITS = {0: "diagnosed", 1: "findings", 2: "invalid", 3: "unreadable"}
NAMED = {case.name: case for case in named_cases()}
runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def warm_caches():
    """Each command runs in a forked child, which inherits what this process has loaded: load it once."""
    from sortai.reasoner.description import load_file
    from sortai.reasoner.engine import infer
    from sortai.reasoner.validation import validate

    description = load_file(EXAMPLES / "homogeneous-h100" / "description.yaml")
    validate(description)
    infer(description)


def diagnose(case: Case, tmp_path, *extra):
    path = tmp_path / case.name
    path.write_bytes(case.data)
    started = time.monotonic()
    result = runner.invoke(app, ["diagnose", str(path), "-f", "json", *LIMITS, *extra])
    return result, time.monotonic() - started


def assert_handled(case: Case, result) -> None:
    """The contract for any input: a documented exit code, and problems instead of a traceback."""
    said = result.stdout + result.stderr
    assert result.exit_code in EXITS, (case.name, result.exit_code, said[-3000:])
    assert result.exception is None or isinstance(result.exception, SystemExit), (case.name, result.exception)
    assert "Traceback" not in said and "internal error" not in said, (case.name, said[-3000:])
    if result.exit_code in (2, 3):
        assert case.name in result.stderr, (case.name, result.stderr[-2000:])  # the problem names the file
    else:
        json.loads(result.stdout)


def problems(case: Case, tmp_path) -> tuple[int, list[dict]]:
    path = tmp_path / case.name
    path.write_bytes(case.data)
    result = runner.invoke(app, ["validate", "-f", "json", str(path)])
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, json.loads(result.stdout)["problems"]


@pytest.mark.parametrize("name", sorted(NAMED))
def test_named_attack_is_a_clear_problem(name, tmp_path):
    result, _ = diagnose(NAMED[name], tmp_path)
    assert_handled(NAMED[name], result)
    if name not in ("bidi.yaml", "date.yaml"):  # odd but legitimate labels on a valid fleet
        assert result.exit_code in (2, 3), result.stdout[-500:]


@pytest.mark.parametrize("name,exit_code,code,line", [
    ("nan.yaml", 2, "not-finite", 16),
    ("inf.yaml", 2, "not-finite", 16),
    ("nan.json", 3, "not-finite", 1),
    ("nan.jsonld", 3, "not-finite", 1),
    ("overflow.jsonld", 3, "not-finite", 1),
    ("nan.ttl", 2, "not-finite", None),
    ("deep-list.yaml", 3, "too-deep", 2),
    ("deep-map.yaml", 3, "too-deep", 2),
    ("deep.json", 3, "too-deep", 1),
    ("deep.jsonld", 3, "too-deep", 1),
    ("very-deep.json", 3, "too-deep", 1),
    ("huge-integer.yaml", 2, "too-long", 16),
    ("huge-integer.json", 2, "too-long", 1),
    ("huge-integer.jsonld", 3, "too-long", 1),
    ("huge-integer.ttl", 2, "too-long", None),
    ("huge-string.yaml", 3, "too-large", None),
    ("long-line.yaml", 3, "too-long", 5),
    ("huge-string.jsonld", 3, "too-long", 1),
    ("long-string.ttl", 2, "too-long", None),
    ("long-list.jsonld", 3, "too-long", None),
    ("alias-bomb.yaml", 3, "yaml-alias", 30),
    ("merge-bomb.yaml", 3, "yaml-alias", 31),
    ("recursive-alias.yaml", 3, "yaml-alias", 28),
    ("binary-tag.yaml", 3, "yaml-tag", 5),
    ("set-tag.yaml", 3, "yaml-tag", 28),
    ("omap-tag.yaml", 3, "yaml-tag", 28),
    ("custom-tag.yaml", 3, "yaml-tag", 4),
    ("python-tag.yaml", 3, "yaml-tag", 28),
    ("mistyped-tag.yaml", 3, "yaml-tag", 25),
    ("ill-typed.ttl", 2, "ill-typed-literal", None),
    ("ill-typed.jsonld", 2, "ill-typed-literal", None),
    ("empty.ttl", 2, "empty", 1),
    ("empty.nt", 2, "empty", 1),
    ("empty.jsonld", 2, "empty", 1),
    ("empty.yaml", 2, "empty", 1),
    ("comments-only.yaml", 2, "empty", 1),
    ("only-id.yaml", 2, "invalid-id", 1),
    ("no-deployment.ttl", 2, "no-deployment", None),
])
def test_named_attack_names_what_to_fix(name, exit_code, code, line, tmp_path):
    status, found = problems(NAMED[name], tmp_path)
    assert status == exit_code, found
    matching = [p for p in found if p["code"] == code]
    assert matching, found
    assert matching[0]["location"]["file"].endswith(name)
    assert matching[0]["location"].get("line") == line, matching[0]
    assert matching[0].get("fix"), matching[0]


def test_an_empty_description_fails_even_the_lowest_bar(tmp_path):
    for name in ("empty.ttl", "empty.jsonld", "only-id-value.yaml"):
        result, _ = diagnose(NAMED[name], tmp_path, "--fail-on", "low")
        assert result.exit_code == 2, (name, result.stdout, result.stderr)


def test_dates_stay_strings_and_tags_never_reach_the_graph(tmp_path):
    from sortai.reasoner.description import load_bytes

    date = load_bytes(NAMED["date.yaml"].data, "date.yaml")
    assert "2001-12-14" in {t.object.value for t in date.triples} and not date.problems


def test_misspellings_are_all_reported_but_only_the_first_get_suggestions():
    from sortai.reasoner.description import load_bytes
    from sortai.reasoner.vocabulary import SUGGESTION_BUDGET

    ttl = "@prefix sai: <https://w3id.org/sortai/ontology#> .\n" + "".join(
        f"<n1> sai:replicaCoun{i} {i} .\n" for i in range(2000))
    unknown = [p for p in load_bytes(ttl.encode(), "typos.ttl").problems if p.code == "unknown-term"]
    assert len(unknown) == 2000 and all(p.fix for p in unknown)  # every one reported, with what to do
    hinted = [p for p in unknown if "did you mean 'replicaCount'" in p.fix]
    assert len(hinted) == SUGGESTION_BUDGET


def test_a_custom_sparql_function_is_refused_not_a_crash():
    result = runner.invoke(app, ["query", str(EXAMPLES / "homogeneous-h100" / "description.yaml"),
                                 "PREFIX ex: <http://example.org/> SELECT * WHERE { ?s ?p ?o FILTER(ex:f(?o)) }"])
    assert result.exit_code == 3, result.stderr
    assert "http://example.org/f" in result.stderr and "built-in functions" in result.stderr


def test_the_real_command_prints_no_traceback(tmp_path):
    """Through the installed entry point, with stderr as a real file: rdflib's logging, Rust's abort."""
    for name in ("ill-typed.ttl", "alias-bomb.yaml", "nan.ttl", "ill-typed.jsonld"):
        (tmp_path / name).write_bytes(NAMED[name].data)
        done = subprocess.run([sys.executable, "-m", "sortai.reasoner.cli", "validate", str(tmp_path / name)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode in (2, 3), (name, done.stderr)
        assert "Traceback" not in done.stderr and "Failed to convert" not in done.stderr, (name, done.stderr)
        assert "Warning" not in done.stderr, (name, done.stderr)


@pytest.mark.parametrize("case", mutated_cases(40), ids=lambda c: c.name)
def test_mutated_example_sample(case, tmp_path):
    result, _ = diagnose(case, tmp_path)
    assert_handled(case, result)


@pytest.mark.hostile
def test_mutated_example_corpus(tmp_path):
    """The whole corpus in one test, so that its report lists every failing case at once."""
    failures, exits, slowest = [], {}, (0.0, "")
    cases = mutated_cases(600)
    for case in cases:
        result, seconds = diagnose(case, tmp_path)
        slowest = max(slowest, (seconds, case.name))
        exits[result.exit_code] = exits.get(result.exit_code, 0) + 1
        try:
            assert_handled(case, result)
        except AssertionError as exc:
            failures.append(f"{case.name}: {str(exc)[:500]}")
    print(f"{len(cases)} cases; exit codes {exits}; slowest {slowest[0]:.1f} s ({slowest[1]})")
    assert not failures, "\n".join(failures)
    assert len(exits) >= 3  # the corpus reaches valid, invalid and unreadable inputs alike
