"""Killable worker processes: the only way to put a deadline and a memory ceiling on pyoxigraph and the reasoner.

pyoxigraph cannot interrupt a running query and the reasoner is CPU-bound Python, so both run in child
processes (``spawn`` start method: no inherited locks, sockets or store handles). Each pool

* kills and replaces a worker whose job misses its deadline (the caller gets :class:`JobTimeout`);
* watches the resident memory of its busy workers a few times a second and kills one that passes the
  ceiling (:class:`JobMemory`) — a watchdog rather than ``RLIMIT_AS``, because RocksDB and thread stacks
  reserve address space they never touch, and an allocation failure inside Rust aborts without a word;
* replaces a worker that dies for any other reason (:class:`JobFailed`).

A worker never outlives its server: the kernel sends it SIGKILL when the server dies (``PR_SET_PDEATHSIG``),
and a watcher thread in the worker exits if its parent changes anyway.

The jobs themselves live in :mod:`sortai.api.jobs`; a worker imports it lazily.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

log = logging.getLogger("sortai.api")
_CTX = multiprocessing.get_context("spawn")
WATCH_INTERVAL = 0.05  # seconds between two memory readings of a busy worker
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class JobTimeout(Exception):
    """The job ran past its deadline; its worker was killed."""


class JobFailed(Exception):
    """The worker died or the job raised something it should not have."""


class JobMemory(JobFailed):
    """The worker passed its memory ceiling; it was killed."""


class JobRefused(Exception):
    """The job ran and refused its input: ``code`` and ``message`` (and ``details``) say why."""

    def __init__(self, code: str, message: str, details=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


def _die_with_parent(parent: int) -> None:
    """SIGKILL when the parent dies (Linux), and a watcher thread as a fallback everywhere."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _worker_main(conn, env: dict, parent: int) -> None:  # runs in the child process
    _die_with_parent(parent)
    os.environ.update(env)
    from . import jobs

    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if request is None:
            return
        name, kwargs = request
        try:
            result = ("ok", getattr(jobs, name)(**kwargs))
        except JobRefused as exc:
            result = ("refused", exc.code, exc.message, exc.details)
        except MemoryError:
            result = ("memory",)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, never to the client verbatim
            import traceback

            result = ("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        try:
            conn.send(result)
        except (OSError, ValueError, KeyboardInterrupt):
            return


def resident_bytes(pid: int) -> int:
    """Resident set size of a process (Linux /proc; 0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


@dataclass(eq=False)
class _Worker:
    process: multiprocessing.Process
    conn: object
    killed_for: str | None = None
    peak: int = field(default=0)

    def alive(self) -> bool:
        return self.process.is_alive()


class WorkerPool:
    """A fixed number of worker processes; each runs one job at a time, under a deadline and a memory ceiling."""

    def __init__(self, name: str, size: int, env: dict | None = None, memory_limit: int | None = None):
        self.name = name
        self.size = max(1, size)
        self.env = dict(env or {})
        self.memory_limit = memory_limit
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: set[_Worker] = set()
        self._busy: set[_Worker] = set()
        self._closed = False
        self._watchdog: asyncio.Task | None = None

    def _spawn(self) -> _Worker:
        # Started from the event loop's thread on purpose: PR_SET_PDEATHSIG fires when the *thread* that
        # forked the child ends, and this thread lives as long as the server.
        parent, child = _CTX.Pipe(duplex=True)
        process = _CTX.Process(target=_worker_main, args=(child, self.env, os.getpid()), name=f"sortai-{self.name}",
                               daemon=True)
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self._all.add(worker)
        return worker

    async def start(self) -> None:
        self._idle = asyncio.Queue()
        for _ in range(self.size):
            self._idle.put_nowait(self._spawn())
        if self.memory_limit and sys.platform.startswith("linux"):
            self._watchdog = asyncio.get_running_loop().create_task(self._watch_memory())

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._all if w.process.pid]

    def status(self) -> dict:
        return {"size": self.size, "idle": self._idle.qsize() if self._idle is not None else 0}

    async def _watch_memory(self) -> None:
        while not self._closed:
            await asyncio.sleep(WATCH_INTERVAL)
            for worker in list(self._busy):
                used = resident_bytes(worker.process.pid)
                worker.peak = max(worker.peak, used)
                if used > self.memory_limit and worker.killed_for is None:
                    worker.killed_for = "memory"
                    log.warning("%s worker %d uses %d MiB, over its ceiling of %d MiB: killed", self.name,
                                worker.process.pid, used >> 20, self.memory_limit >> 20)
                    try:
                        os.kill(worker.process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass

    def _kill(self, worker: _Worker) -> None:
        self._all.discard(worker)
        try:
            worker.process.kill()
            worker.process.join(5)
        except Exception:  # noqa: BLE001
            pass
        try:
            worker.conn.close()
        except Exception:  # noqa: BLE001
            pass

    async def _replace(self, worker: _Worker) -> None:
        await asyncio.to_thread(self._kill, worker)
        if not self._closed:
            self._idle.put_nowait(self._spawn())

    async def run(self, job: str, timeout: float, wait: float | None = None, **kwargs):
        """Run ``job`` in a worker; wait at most ``wait`` seconds for a free one and ``timeout`` for the job."""
        assert self._idle is not None, "pool not started"
        try:
            worker = await asyncio.wait_for(self._idle.get(), timeout=wait if wait is not None else timeout)
        except asyncio.TimeoutError:
            raise JobTimeout(f"no {self.name} worker became free in time") from None
        if not worker.alive():
            await self._replace(worker)
            worker = await self._idle.get()
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = worker.conn.fileno()
        self._busy.add(worker)
        try:
            await asyncio.to_thread(worker.conn.send, (job, kwargs))  # large bodies: not on the event loop
            loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
            try:
                await asyncio.wait_for(ready, timeout=timeout)
            finally:
                loop.remove_reader(fd)
            reply = await asyncio.to_thread(worker.conn.recv)
        except asyncio.TimeoutError:
            log.warning("%s job %s ran past %.1fs: worker killed", self.name, job, timeout)
            self._busy.discard(worker)
            asyncio.ensure_future(self._replace(worker))
            raise JobTimeout(f"{job} ran past {timeout:g} s") from None
        except asyncio.CancelledError:
            self._busy.discard(worker)
            asyncio.ensure_future(self._replace(worker))
            raise
        except (EOFError, OSError, BrokenPipeError) as exc:
            self._busy.discard(worker)
            await self._replace(worker)
            if worker.killed_for == "memory":
                raise JobMemory(f"{job} passed the memory ceiling") from None
            log.error("%s worker died during %s: %s", self.name, job, exc)
            raise JobFailed(f"the {self.name} worker died") from None
        self._busy.discard(worker)
        if worker.killed_for == "memory":  # the reply came in just before the kill
            await self._replace(worker)
            raise JobMemory(f"{job} passed the memory ceiling")
        self._idle.put_nowait(worker)
        if reply[0] == "ok":
            return reply[1]
        if reply[0] == "refused":
            raise JobRefused(reply[1], reply[2], reply[3])
        if reply[0] == "memory":
            raise JobMemory(f"{job} ran out of memory")
        log.error("%s job %s failed: %s\n%s", self.name, job, reply[1], reply[2])
        raise JobFailed(reply[1])

    async def close(self) -> None:
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        for worker in list(self._all):
            try:
                worker.conn.send(None)
            except Exception:  # noqa: BLE001
                pass
        for worker in list(self._all):
            await asyncio.to_thread(worker.process.join, 2)
            self._kill(worker)
