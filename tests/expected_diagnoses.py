"""The summary of an example's diagnoses that its `expected-diagnoses.json` pins, and the command that rewrites it.

    .venv/bin/python -m tests.expected_diagnoses examples/NAME [...]

Rewrite a file only after reading the change: every diagnosis that appears or disappears gets a sentence in the
example's README saying why.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sortai.reasoner.description import load_file
from sortai.reasoner.diagnoses import diagnoses
from sortai.reasoner.engine import infer


def summary(found) -> list[dict]:
    return sorted(({"id": d.id, "kind": d.kind, "mode": d.mode, "component": d.component, "severity": d.severity,
                    "confidence": d.confidence} for d in found), key=lambda d: d["id"])


def expected_of(example: Path) -> list[dict]:
    return summary(diagnoses(infer(load_file(example / "description.yaml"))))


if __name__ == "__main__":
    for name in sys.argv[1:]:
        example = Path(name)
        before = json.loads((example / "expected-diagnoses.json").read_text()) if (example / "expected-diagnoses.json").exists() else []
        after = expected_of(example)
        (example / "expected-diagnoses.json").write_text(json.dumps(after, indent=2) + "\n")
        gone = {d["id"] for d in before} - {d["id"] for d in after}
        new = {d["id"] for d in after} - {d["id"] for d in before}
        changed = {d["id"] for d in after if d in after and d["id"] in {b["id"] for b in before} and d not in before}
        print(f"{example.name}: {len(after)} diagnoses; appeared {sorted(new)}; disappeared {sorted(gone)}; changed {sorted(changed)}")
