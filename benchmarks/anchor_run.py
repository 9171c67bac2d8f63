"""The anchor workload: 14 standard SHACL-AF rules on a synthetic fleet, run unmodified by `sortai infer --rules`
on both our substrates (columnar, the default for these rules; and the Oxigraph engine), beside the hand-indexed
Python baseline, interleaved in one run: ratios, not absolute figures, are what compare on a noisy machine.

    python -m benchmarks.anchor_run                      # 10k, 100k, 1M triples; 3 runs each; medians
    python -m benchmarks.anchor_run --nodes 1800 --runs 1

The workload (generator, rules, baseline) is a copy of the shared anchor benchmark (benchmarks/anchor/).
Derived counts are asserted for every engine: 11,194 / 112,805 / 1,116,647.
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
SUBSTRATES = ("columnar", "oxigraph")


def measure(data: Path, substrate: str = "auto") -> dict:
    """One run of `sortai infer --rules` in this process: load, reasoning (the data put into the substrate
    included), peak RSS. "auto" must choose the columnar substrate for these rules."""
    from sortai.reasoner.columnar import infer_rule_files
    from sortai.reasoner.description import load_graph
    from sortai.reasoner.rules import load_rule_files

    rule_base = load_rule_files([ANCHOR / "rules.shacl.ttl"])
    started = time.perf_counter()
    graph = load_graph(data)
    loaded = time.perf_counter()
    reasoning, fallback = infer_rule_files(graph, rule_base, False, substrate)
    reasoned = time.perf_counter()
    if substrate == "auto" and fallback:
        raise SystemExit(f"the anchor rules ran on Oxigraph: {fallback}")
    return {"load": loaded - started, "reason": reasoned - loaded, "derived": reasoning.derived,
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
    parser.add_argument("--substrate", default="auto", choices=["auto", *SUBSTRATES], help=argparse.SUPPRESS)
    parser.add_argument("--substrates", nargs="+", default=list(SUBSTRATES), choices=SUBSTRATES,
                        help="which of our substrates to run beside the baseline")
    args = run_or_measure(parser, measure, options=("substrate",))
    if args is None:
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for nodes in args.nodes:
            data = anchor_fleet(nodes, Path(tmp))
            runs: dict[str, list] = {name: [] for name in [*args.substrates, "baseline"]}
            for _ in range(args.runs):  # interleaved: all see the same machine load
                for name in args.substrates:
                    option = "auto" if name == "columnar" else name  # the default choice, checked to be columnar
                    runs[name].append(in_a_fresh_process("benchmarks.anchor_run", data, "--substrate", option))
                runs["baseline"].append(baseline(data))
            for name, measured in runs.items():
                for run in measured:
                    if nodes in EXPECTED:
                        assert run["derived"] == EXPECTED[nodes], (name, nodes, run["derived"], EXPECTED[nodes])
            row = {"nodes": nodes, "derived": runs["baseline"][0]["derived"], "runs": args.runs}
            base = statistics.median(r["reason"] for r in runs["baseline"])
            line = [f"{nodes:>6} nodes  derived {row['derived']:>9,}"]
            for name, measured in runs.items():
                row[name] = {key: statistics.median(r[key] for r in measured)
                             for key in ("load", "reason", "peak_rss_mb") if key in measured[0]}
                row[name]["ratio_to_baseline"] = row[name]["reason"] / base
                rss = f", {row[name]['peak_rss_mb']:.0f} MB" if "peak_rss_mb" in row[name] else ""
                line.append(f"{name} {row[name]['reason']:.2f}s ({row[name]['ratio_to_baseline']:.2f}×{rss})")
            results.append(row)
            print("  ".join(line), flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "anchor.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
