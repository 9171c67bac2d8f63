"""`recommend` on the benchmark fleets: each remedy verified by an incremental update of one carried reasoning
(remedies.CarriedReasoning, the default) against a full inference per remedy, in turn, each run in a fresh process.

    python -m benchmarks.recommend_run                     # 5k fleet, every remedy, both ways; 100k, --most 20
    python -m benchmarks.recommend_run --runs 1

Both ways must give the same recommendations (their JSON is compared) or the run fails. At 100k only the
updates run: a full inference per remedy there takes about 7 s, for some 3,000 remedies.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from pathlib import Path

from benchmarks import ROOT, in_a_fresh_process, run_or_measure

RESULTS = ROOT / "benchmarks" / "results"
# (fleet size, --most, the ways of verifying measured)
PLAN = [(5_000, 0, ("updates", "inference")), (100_000, 20, ("updates",))]


def measure(path: Path, verify: str, most: int) -> dict:
    import resource

    from sortai.reasoner import remedies
    from sortai.reasoner.description import load_file
    from sortai.reasoner.engine import infer

    if verify == "inference":
        remedies.CarriedReasoning = lambda: infer
    description = load_file(path)
    started = time.perf_counter()
    recs = remedies.recommend(description, most=most)
    seconds = time.perf_counter() - started
    text = json.dumps(remedies.recommendations_json(path.name, recs), sort_keys=True)
    return {"seconds": seconds, "verified": len({id(v) for vs in recs.results.values() for v in vs}),
            "diagnoses": sum(1 for vs in recs.results.values() if vs), "not_verified": len(recs.not_verified),
            "digest": hashlib.sha256(text.encode()).hexdigest(), "triples": len(description.triples),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verify", default="updates", help=argparse.SUPPRESS)
    parser.add_argument("--most", type=int, default=0, help=argparse.SUPPRESS)
    args = run_or_measure(parser, measure, options=("verify", "most"))
    if args is None:
        return
    from benchmarks.fleet import fleet_file

    summary = []
    for size, most, ways in PLAN:
        path = fleet_file(size, RESULTS)
        runs: dict[str, list[dict]] = {way: [] for way in ways}
        for _ in range(args.runs):
            for way in ways:  # interleaved
                runs[way].append(in_a_fresh_process("benchmarks.recommend_run", path, "--verify", way,
                                                    "--most", str(most)))
        digests = {r["digest"] for rs in runs.values() for r in rs}
        assert len(digests) == 1, f"{path.name}: the ways of verifying disagree"
        first = runs[ways[0]][0]
        row = {"size": size, "triples": first["triples"], "most": most, "diagnoses_verified": first["diagnoses"],
               "not_verified": first["not_verified"], "remedies": first["verified"], "runs": args.runs,
               **{way: statistics.median(r["seconds"] for r in rs) for way, rs in runs.items()},
               "rss_mb": statistics.median(r["rss_mb"] for r in runs[ways[0]])}
        summary.append(row)
        ratio = f", {row['inference'] / row['updates']:.1f}× faster than a full inference per remedy " \
                f"({row['inference']:.1f} s)" if "inference" in row else ""
        print(f"{row['triples']:>9} triples  --most {most}: {row['remedies']} remedies of "
              f"{row['diagnoses_verified']} diagnoses (those with remedies) verified in {row['updates']:.1f} s"
              f"{ratio}; peak RSS {row['rss_mb']:.0f} MB", flush=True)
    (RESULTS / "recommend.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
