"""Run one command's work under a time and a memory limit, in a child process that can be stopped.

A heavy SPARQL query or an enormous fleet must not take the machine down with it: Oxigraph aborts the
whole process when an allocation fails (exit 134, no message), and a cross product can run for hours.
So the work runs in a forked child with `RLIMIT_AS` set to the memory limit; the parent waits on it
with the time limit and kills it when that passes. A Python `MemoryError` in the child, a Rust
allocation abort or a kill by the kernel's OOM killer all end as `LimitExceeded("memory")`.

Output: the child writes to the parent's terminal or files directly (so progress displays stay live);
streams without a file descriptor (a test runner's capture) are collected in the child and written by
the parent when the child is done.
"""

from __future__ import annotations

import faulthandler
import io
import multiprocessing
import os
import re
import resource
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import wait

SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class LimitExceeded(Exception):
    def __init__(self, kind: str, limit: float):
        super().__init__(f"{kind} limit {limit} exceeded")
        self.kind, self.limit = kind, limit


def parse_size(text: str) -> int:
    """`8G`, `512M`, `1.5GiB`, `1000000` (bytes) → bytes; `0` means no limit."""
    match = SIZE.match(str(text))
    if not match:
        raise ValueError(f"'{text}' is not a size: write e.g. 8G, 512M or 0 for no limit")
    return min(int(float(match.group(1)) * UNITS[match.group(2).upper()]), 1 << 62)  # more is no limit


def default_memory() -> int:
    """Half the machine's physical memory: one runaway query cannot take all of it."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def show_size(size: int) -> str:
    for unit in ("T", "G", "M", "K"):
        if size >= UNITS[unit]:
            return f"{size / UNITS[unit]:g} {unit}iB"
    return f"{size} bytes"


def run_limited(work: Callable[[], int], timeout: float, max_memory: int) -> int:
    """Run `work` (which returns an exit code) in a child process; return its exit code.

    `timeout` in seconds and `max_memory` in bytes, 0 for no limit. Raises LimitExceeded.
    """
    context = multiprocessing.get_context("fork")  # the child shares the loaded modules: no second start-up
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(work, sender, max_memory), daemon=True)
    sys.stdout.flush()
    sys.stderr.flush()
    child.start()
    sender.close()
    try:
        if not wait([receiver, child.sentinel], timeout or None):
            raise LimitExceeded("time", timeout)
        try:
            outcome, value, out, err = receiver.recv()
        except EOFError:  # the child died without a word: killed, or aborted by a failed allocation
            child.join()
            if max_memory and child.exitcode in (-signal.SIGABRT, -signal.SIGKILL):
                raise LimitExceeded("memory", max_memory) from None
            raise RuntimeError(f"the worker process ended with status {child.exitcode}") from None
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
    sys.stdout.write(out)
    sys.stderr.write(err)
    if outcome == "memory":
        raise LimitExceeded("memory", max_memory)
    if outcome == "failed":
        raise RuntimeError(value)
    return value


def _child(work: Callable[[], int], sender, max_memory: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the child
    os.environ["RUST_BACKTRACE"] = "0"  # a failed allocation in Oxigraph: one line, not a backtrace
    faulthandler.disable()  # nor a Python stack dump, where PYTHONFAULTHANDLER or pytest enabled one
    captured = {name: io.StringIO() for name in ("stdout", "stderr") if not _has_fd(getattr(sys, name))}
    for name, buffer in captured.items():
        setattr(sys, name, buffer)
    try:
        if max_memory:
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            resource.setrlimit(resource.RLIMIT_AS, (min(max_memory, hard) if hard != resource.RLIM_INFINITY
                                                    else max_memory, hard))
        outcome, value = "done", work()
    except MemoryError:
        outcome, value = "memory", None
    except BaseException as exc:  # noqa: BLE001 — `work` words its own errors; this is the machinery failing
        outcome, value = "failed", f"{type(exc).__name__}: {exc}"
    sys.stdout.flush()
    sys.stderr.flush()
    sender.send((outcome, value, *(captured[n].getvalue() if n in captured else "" for n in ("stdout", "stderr"))))
    sender.close()


def _has_fd(stream) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True
