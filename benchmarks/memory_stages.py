"""Where the memory goes: resident memory after each stage of one process, and the peak so far.

    python -m benchmarks.memory_stages                        # the 1M fleet, then its first 2,000 explanations
    python -m benchmarks.memory_stages --size 100000 --explain 0

Stages: the rule base, parse, validate, infer, diagnoses, explanations. `VmRSS` and `VmHWM` come from
/proc/self/status (Linux), in MiB. One run, in this process: the stages share the allocator, as they do in
`sortai diagnose`.
"""

from __future__ import annotations

import argparse
import time

from benchmarks import ROOT


def _memory() -> dict[str, int]:
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, value = line.split(":", 1)
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) // 1024
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000, help="fleet size in triples (default 1M)")
    parser.add_argument("--explain", type=int, default=2_000, help="explanations after the diagnoses")
    args = parser.parse_args()

    from benchmarks.fleet import fleet_file

    results = ROOT / "benchmarks" / "results"
    path = results / f"fleet-{args.size}.ttl"
    if not path.exists():  # the other benchmarks write it; made here, its leftovers would count in every stage
        fleet_file(args.size, results)
    started = time.perf_counter()
    print(f"{'after':<22} {'seconds':>8} {'RSS MB':>8} {'peak MB':>8}")

    def stage(name: str) -> None:
        memory = _memory()
        print(f"{name:<22} {time.perf_counter() - started:8.2f} {memory['VmRSS']:8,} {memory['VmHWM']:8,}",
              flush=True)

    stage("start")
    from sortai.reasoner.description import load_file
    from sortai.reasoner.diagnoses import diagnoses
    from sortai.reasoner.engine import infer
    from sortai.reasoner.explain import Explainer
    from sortai.reasoner.rules import load_rule_base
    from sortai.reasoner.validation import validate

    load_rule_base()
    stage("rule base")
    description = load_file(path)
    stage(f"parse ({len(description.triples):,})")
    validate(description)
    stage("validate")
    reasoning = infer(description)
    stage("infer")
    iris = [d.iri for d in diagnoses(reasoning)]
    stage(f"diagnoses ({len(iris):,})")
    explainer = Explainer(reasoning)
    for iri in iris[:args.explain]:
        explainer.explain_diagnosis(iri)
    stage(f"{min(args.explain, len(iris)):,} explanations")


if __name__ == "__main__":
    main()
