"""Incremental re-diagnosis against a full run, on the benchmark fleets: one changed measurement and one applied
remedy, each re-diagnosed by updating the reasoning in place (reasoner/incremental.py).

    python -m benchmarks.incremental_run                  # 10k and 100k triples; 3 runs each; medians
    python -m benchmarks.incremental_run --sizes 100000 --runs 1

The full run is parse + validate + infer + diagnoses, as in `benchmarks.run`. A re-diagnosis is the update plus
the diagnoses read again. After each edit the updated inferred graph and provenance are compared with a full
inference over the edited description (outside the timings), and the run fails if they differ.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

from benchmarks import fleet_runs

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
EDITS = ("measurement", "remedy")


def _edits(description, reasoning):
    """(name, what it is, the edited description) for a changed measurement and for the first applicable remedy."""
    import pyoxigraph as ox

    from sortai.reasoner import remedies
    from sortai.reasoner.diagnoses import diagnoses

    result = "http://www.w3.org/ns/sosa/hasSimpleResult"
    i = next(i for i, t in enumerate(description.triples) if t.predicate.value == result)
    old = description.triples[i]
    triples = list(description.triples)
    triples[i] = ox.Triple(old.subject, old.predicate,
                           ox.Literal(repr(float(old.object.value) * 1.5), datatype=old.object.datatype))
    yield "measurement", f"{description.element_name(old.subject.value)}: {old.object.value} → " \
                         f"{float(old.object.value) * 1.5:g}", replace(description, triples=triples)
    facts = remedies.Facts(reasoning)
    for diagnosis in diagnoses(reasoning):
        for remedy in remedies.remedies_for(facts, diagnosis):
            editor = remedies.Editor(description)
            remedy.apply(editor, facts)
            if editor.changes:
                what = f"{remedy.kind}: " + "; ".join(c.text() for c in editor.changes)
                yield "remedy", what, replace(description, triples=editor.triples)
                return


def measure(path: Path) -> dict:
    from sortai.reasoner.description import load_file
    from sortai.reasoner.diagnoses import diagnoses
    from sortai.reasoner.engine import infer
    from sortai.reasoner.incremental import update
    from sortai.reasoner.validation import validate

    out: dict = {}
    t = time.perf_counter()
    description = load_file(path)
    assert validate(description).conforms
    reasoning = infer(description)
    diagnoses(reasoning)
    out["full"] = time.perf_counter() - t
    for name, what, edited in list(_edits(description, reasoning)):
        t = time.perf_counter()
        result = update(reasoning, edited)
        updated = time.perf_counter() - t
        diagnoses(reasoning)
        out[name] = {"what": what, "update": updated, "rediagnose": time.perf_counter() - t,
                     "rules_rerun": len(result.rerun), "rules_focused": len(result.focused),
                     "rules": len(reasoning.rule_base.rules), "full_inference": result.full}
        full = infer(edited)
        inferred = lambda r: {q.triple for q in r.store.quads_for_pattern(None, None, None, r.inferred_graph)}
        assert inferred(reasoning) == inferred(full), f"{name}: the update differs from a full inference"
        derivations = lambda r: {t: [(d.rule.rule_id, d.names, d.rows, d.omitted_rows) for d in known]  # noqa: E731
                                 for t, known in r.derivations.items()}
        assert derivations(reasoning) == derivations(full), f"{name}: the provenance differs from a full inference"
        update(reasoning, description)  # back, so that each edit starts from the original fleet
    out["triples"] = len(description.triples)
    return out


def main() -> None:
    summary = []
    for size, runs in fleet_runs(__doc__, "benchmarks.incremental_run", [10_000, 100_000], measure):
        row = {"size": size, "triples": runs[0]["triples"], "runs": len(runs),
               "full": statistics.median(r["full"] for r in runs)}
        for edit in EDITS:
            row[edit] = {**{k: runs[0][edit][k] for k in ("what", "rules_rerun", "rules_focused", "rules",
                                                             "full_inference")},
                         **{k: statistics.median(r[edit][k] for r in runs) for k in ("update", "rediagnose")}}
            row[edit]["share_of_full"] = row[edit]["rediagnose"] / row["full"]
        summary.append(row)
        print(f"{row['triples']:>9} triples  full run {row['full']:.2f}s", flush=True)
        for edit in EDITS:
            e = row[edit]
            print(f"    {edit:<12} update {e['update']:.2f}s, re-diagnosed {e['rediagnose']:.2f}s = "
                  f"{e['share_of_full']:.0%} of the full run; {e['rules_rerun']} of {e['rules']} rules re-run, "
                  f"{e['rules_focused']} of them for the focus nodes reached"
                  f"{' (a full inference)' if e['full_inference'] else ''} ({e['what']})", flush=True)
    if summary:
        (RESULTS / "incremental.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
