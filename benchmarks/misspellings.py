"""Benchmark: how validation time grows with the number of misspelt terms (the "did you mean" cost).

    python -m benchmarks.misspellings                   # 1k, 5k, 20k unknown terms; 3 runs each; medians
    python -m benchmarks.misspellings --counts 5000 --runs 1

Three hostile shapes of input, each a fresh process per run: a Turtle file with N unknown `sai:`
properties, a YAML file with N unknown keys on one element, and a YAML file with N pools whose
`hostedOn` names a node that does not exist (dangling references, matched against N declared ids).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PREFIX = "@prefix sai: <https://w3id.org/sortai/ontology#> .\n"


def unknown_predicates(n: int) -> tuple[str, str]:
    body = "".join(f"<n1> sai:unknownProperty{i} {i} .\n" for i in range(n))
    return "unknown-predicates.ttl", PREFIX + "<f> a sai:Deployment ; sai:hasNode <n1> .\n" + body


def unknown_keys(n: int) -> tuple[str, str]:
    keys = "".join(f"    acceleratorCount{i}: {i}\n" for i in range(n))
    return "unknown-keys.yaml", f"id: x\nnodes:\n  - id: n1\n    accelerator: H100-SXM\n{keys}"


def dangling_references(n: int) -> tuple[str, str]:
    nodes = "".join(f"  - {{id: node-{i}, accelerator: H100-SXM, acceleratorsPerNode: 8}}\n" for i in range(n))
    pools = "".join(f"  - {{id: pool-{i}, role: colocated, hostedOn: [nod-{i}]}}\n" for i in range(n))
    return "dangling.yaml", f"id: x\nnodes:\n{nodes}pools:\n{pools}"


CASES = {"unknown-predicates": unknown_predicates, "unknown-keys": unknown_keys, "dangling-references": dangling_references}


def run_once(path: Path) -> float:
    code = ("import sys, time; from sortai.reasoner.description import load_file; "
            "from sortai.reasoner.validation import validate; validate(load_file(sys.argv[1])); "
            "t = time.perf_counter(); report = validate(load_file(sys.argv[1])); "
            "print(time.perf_counter() - t, len(report.problems))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return float(done.stdout.split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    print(f"{'case':22} {'count':>7} {'load + validate (median s)':>28}")
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            for n in args.counts:
                name, text = CASES[case](n)
                path = Path(tmp) / name
                path.write_text(text)
                seconds = statistics.median(run_once(path) for _ in range(args.runs))
                print(f"{case:22} {n:>7} {seconds:>28.2f}", flush=True)


if __name__ == "__main__":
    main()
