"""The anchor workload: 14 standard SHACL-AF rules on a synthetic fleet, run unmodified by our engine
(`sortai infer --rules`), beside the hand-indexed Python baseline, interleaved in one run: ratios, not
absolute figures, are what compare on a noisy machine.

    python -m benchmarks.anchor_run                      # 10k, 100k, 1M triples; 3 runs each; medians
    python -m benchmarks.anchor_run --nodes 1800 --runs 1

The workload (generator, rules, baseline) is a copy of the shared anchor benchmark (benchmarks/anchor/).
Derived counts are asserted for both engines: 11,194 / 112,805 / 1,116,647.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import in_a_fresh_process, run_or_measure

HERE = Path(__file__).resolve().parent
ANCHOR = HERE / "anchor"
EXPECTED = {180: 11_194, 1800: 112_805, 18_000: 1_116_647}


def measure(data: Path) -> dict:
    """One run of our engine in this process: load, reasoning (store loading included), peak RSS."""
    from sortai.reasoner.description import load_graph
    from sortai.reasoner.engine import infer
    from sortai.reasoner.rules import load_rule_files

    rule_base = load_rule_files([ANCHOR / "rules.shacl.ttl"])
    started = time.perf_counter()
    graph = load_graph(data)
    loaded = time.perf_counter()
    reasoning = infer(graph, rule_base, background=False)
    return {"load": loaded - started, "reason": time.perf_counter() - loaded, "derived": len(reasoning.derivations),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def anchor_fleet(nodes: int, directory: Path) -> Path:
    """The anchor generator's fleet of `nodes` nodes, as N-Triples in `directory`."""
    prefix = directory / f"fleet_{nodes}"
    subprocess.run([sys.executable, str(ANCHOR / "gen_fleet.py"), "--nodes", str(nodes), "--out", str(prefix)],
                   check=True, capture_output=True)
    return prefix.with_suffix(".nt")


def baseline(data: Path) -> dict:
    done = subprocess.run([sys.executable, str(ANCHOR / "python_baseline.py"), str(data)], capture_output=True,
                          text=True, check=True)
    load, reason, derived = re.search(r"load ([\d.]+)s reason ([\d.]+)s input \d+ derived (\d+)", done.stdout).groups()
    return {"load": float(load), "reason": float(reason), "derived": int(derived)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=sorted(EXPECTED))
    args = run_or_measure(parser, measure)
    if args is None:
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for nodes in args.nodes:
            data = anchor_fleet(nodes, Path(tmp))
            ours, theirs = [], []
            for _ in range(args.runs):  # interleaved: both see the same machine load
                ours.append(in_a_fresh_process("benchmarks.anchor_run", data))
                theirs.append(baseline(data))
            for run in ours + theirs:
                if nodes in EXPECTED:
                    assert run["derived"] == EXPECTED[nodes], (nodes, run["derived"], EXPECTED[nodes])
            row = {"nodes": nodes, "derived": ours[0]["derived"], "runs": args.runs,
                   "ours_reason": statistics.median(r["reason"] for r in ours),
                   "ours_load": statistics.median(r["load"] for r in ours),
                   "ours_peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in ours),
                   "baseline_reason": statistics.median(r["reason"] for r in theirs),
                   "baseline_load": statistics.median(r["load"] for r in theirs)}
            row["ratio"] = row["ours_reason"] / row["baseline_reason"]
            results.append(row)
            print(f"{nodes:>6} nodes  derived {row['derived']:>9,}  reasoning: ours {row['ours_reason']:.2f}s vs "
                  f"hand-indexed {row['baseline_reason']:.2f}s (ratio {row['ratio']:.1f})  load {row['ours_load']:.2f}s"
                  f" / {row['baseline_load']:.2f}s  peak RSS {row['ours_peak_rss_mb']:.0f} MB", flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "anchor.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
