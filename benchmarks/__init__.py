"""Benchmarks: each measurement runs in a fresh process, so that its peak RSS is its own (see README.md)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_or_measure(parser: argparse.ArgumentParser, measure: Callable[..., dict],
                   options: tuple[str, ...] = ()) -> argparse.Namespace | None:
    """Parse the command line. A child run (the hidden `--measure DATA`) prints `measure(DATA)` as JSON and gets None;
    the parsed `options` are passed to `measure` by name."""
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, **{name: getattr(args, name) for name in options})))
        return None
    return args


def in_a_fresh_process(module: str, data: Path, *options: str) -> dict:
    """One measurement: `python -m MODULE --measure DATA [OPTIONS]`, its JSON line read back."""
    done = subprocess.run([sys.executable, "-m", module, "--measure", str(data), *options], capture_output=True,
                          text=True, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def fleet_runs(doc: str, module: str, sizes: list[int], measure: Callable[[Path], dict]) -> Iterator[tuple[int, list]]:
    """The command line of a fleet benchmark: (size, the measurements of its runs) per fleet size, each run in a
    fresh process; nothing in the child run, which prints its one measurement."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=sizes)
    args = run_or_measure(parser, measure)
    if args is None:
        return
    from benchmarks.fleet import fleet_file

    for size in args.sizes:
        path = fleet_file(size, ROOT / "benchmarks" / "results")
        yield size, [in_a_fresh_process(module, path) for _ in range(args.runs)]

