"""What an example pins: the summary of its diagnoses (`expected-diagnoses.json`) and the key-numbers table of its
README (between `<!-- key-numbers -->` and `<!-- /key-numbers -->`), and the command that rewrites both.

    .venv/bin/python -m tests.expected_diagnoses examples/NAME [...]

Rewrite only after reading the change: every diagnosis that appears or disappears gets a sentence in the example's
README saying why, and the README's prose quotes the table's numbers.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pyoxigraph as ox

from sortai.reasoner.description import load_file
from sortai.reasoner.diagnoses import diagnoses
from sortai.reasoner.engine import infer
from sortai.reasoner.resources import SAI

# (derived property, label, unit) of the README table, in order.
KEY_NUMBERS = (
    ("poolArrivalRateRps", "offered load", "req/s"), ("modelReplicasPresent", "replicas present", ""),
    ("prefillTimeP50Ms", "prefill, p50 prompt", "ms"), ("prefillTimeP99Ms", "prefill, p99 prompt", "ms"),
    ("decodeStepFloorMs", "decode floor (weights ÷ bandwidth)", "ms"),
    ("decodeStepBatch1Ms", "decode step at batch 1", "ms"),
    ("designDecodeBatch", "decode batch at the offered load", ""),
    ("predictedTPOTMs", "predicted TPOT at the offered load", "ms"),
    ("kvCapacityTokens", "KV capacity per replica", "tokens"), ("kvCapacitySequencesP50", "… in p50 requests", "seq."),
    ("kvCapacitySequencesP99", "… in p99 requests", "seq."),
    ("replicaCapacityRps", "requests one replica serves (decode: within TPOT; prefill: at 50 % busy)", "req/s"),
    ("replicasNeeded", "replicas needed", ""), ("capacityHeadroom", "headroom (present × capacity ÷ load)", "×"),
)
TABLE = re.compile(r"<!-- key-numbers -->\n(.*?)<!-- /key-numbers -->", re.S)


def summary(found) -> list[dict]:
    return sorted(({"id": d.id, "kind": d.kind, "mode": d.mode, "component": d.component, "severity": d.severity,
                    "confidence": d.confidence} for d in found), key=lambda d: d["id"])


def expected_of(example: Path) -> list[dict]:
    return summary(diagnoses(infer(load_file(example / "description.yaml"))))


def key_numbers(reasoning) -> dict[str, dict[str, float]]:
    """Derived key numbers of every pool that serves traffic: {pool id: {property: value}}."""
    base = reasoning.description.base
    values: dict[str, dict[str, float]] = {}
    for q in reasoning.store.quads_for_pattern(None, None, None, reasoning.inferred_graph):
        name = q.predicate.value[len(SAI):] if q.predicate.value.startswith(SAI) else None
        if name in dict((k, 0) for k, _, _ in KEY_NUMBERS) and isinstance(q.object, ox.Literal):
            values.setdefault(q.subject.value.replace(base, ""), {})[name] = float(q.object.value)
    return {pool: v for pool, v in sorted(values.items()) if "poolArrivalRateRps" in v or "prefillTimeP50Ms" in v}


def shown(value: float) -> str:
    """A figure as the README shows it: three significant digits at most, thousands separated."""
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def key_numbers_table(reasoning) -> str:
    numbers = key_numbers(reasoning)
    pools = list(numbers)
    lines = ["| Quantity | " + " | ".join(f"`{p}`" for p in pools) + " |", "|---|" + "---:|" * len(pools)]
    for key, label, unit in KEY_NUMBERS:
        if not any(key in numbers[p] for p in pools):
            continue
        cells = []
        for p in pools:
            if key not in numbers[p]:
                cells.append("—")
            else:
                cells.append(shown(numbers[p][key]) + ("×" if unit == "×" else f" {unit}" if unit else ""))
        lines.append(f"| {label} (`{key}`) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    for name in sys.argv[1:]:
        example = Path(name)
        before = json.loads((example / "expected-diagnoses.json").read_text()) if (example / "expected-diagnoses.json").exists() else []
        reasoning = infer(load_file(example / "description.yaml"))
        after = summary(diagnoses(reasoning))
        (example / "expected-diagnoses.json").write_text(json.dumps(after, indent=2) + "\n")
        readme = example / "README.md"
        if readme.exists() and TABLE.search(readme.read_text()):
            readme.write_text(TABLE.sub(lambda m: "<!-- key-numbers -->\n" + key_numbers_table(reasoning)
                                        + "<!-- /key-numbers -->", readme.read_text()))
        gone = {d["id"] for d in before} - {d["id"] for d in after}
        new = {d["id"] for d in after} - {d["id"] for d in before}
        changed = {d["id"] for d in after if d in after and d["id"] in {b["id"] for b in before} and d not in before}
        print(f"{example.name}: {len(after)} diagnoses; appeared {sorted(new)}; disappeared {sorted(gone)}; changed {sorted(changed)}")
