"""Killable worker processes: the only way to put a deadline on pyoxigraph and on the reasoner.

pyoxigraph cannot interrupt a running query and the reasoner is CPU-bound Python, so both run in child
processes (``spawn`` start method: no inherited locks, sockets or store handles). A job that misses its
deadline gets its process killed and replaced; the caller receives :class:`JobTimeout`. A process that
dies (crash, out of memory) is replaced as well and the caller receives :class:`JobFailed`.

The jobs themselves live in :mod:`sortai.api.jobs`; a worker imports it lazily.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from dataclasses import dataclass

log = logging.getLogger("sortai.api")
_CTX = multiprocessing.get_context("spawn")


class JobTimeout(Exception):
    """The job ran past its deadline; its worker was killed."""


class JobFailed(Exception):
    """The worker died or the job raised something it should not have."""


class JobRefused(Exception):
    """The job ran and refused its input: ``code`` and ``message`` (and ``details``) say why."""

    def __init__(self, code: str, message: str, details=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


def _worker_main(conn, env: dict) -> None:  # runs in the child process
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
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, never to the client verbatim
            import traceback

            result = ("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        try:
            conn.send(result)
        except (OSError, ValueError, KeyboardInterrupt):
            return


@dataclass(eq=False)
class _Worker:
    process: multiprocessing.Process
    conn: object

    def alive(self) -> bool:
        return self.process.is_alive()


class WorkerPool:
    """A fixed number of worker processes; each runs one job at a time."""

    def __init__(self, name: str, size: int, env: dict | None = None):
        self.name = name
        self.size = max(1, size)
        self.env = dict(env or {})
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: set[_Worker] = set()
        self._closed = False

    def _spawn(self) -> _Worker:
        parent, child = _CTX.Pipe(duplex=True)
        process = _CTX.Process(target=_worker_main, args=(child, self.env), name=f"sortai-{self.name}",
                               daemon=True)
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self._all.add(worker)
        return worker

    async def start(self) -> None:
        self._idle = asyncio.Queue()
        for _ in range(self.size):
            self._idle.put_nowait(await asyncio.to_thread(self._spawn))

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
            self._idle.put_nowait(await asyncio.to_thread(self._spawn))

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
        try:
            worker.conn.send((job, kwargs))
            loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
            try:
                await asyncio.wait_for(ready, timeout=timeout)
            finally:
                loop.remove_reader(fd)
            reply = await asyncio.to_thread(worker.conn.recv)
        except asyncio.TimeoutError:
            log.warning("%s job %s ran past %.1fs: worker killed", self.name, job, timeout)
            asyncio.ensure_future(self._replace(worker))
            raise JobTimeout(f"{job} ran past {timeout:g} s") from None
        except asyncio.CancelledError:
            asyncio.ensure_future(self._replace(worker))
            raise
        except (EOFError, OSError, BrokenPipeError) as exc:
            log.error("%s worker died during %s: %s", self.name, job, exc)
            await self._replace(worker)
            raise JobFailed(f"the {self.name} worker died") from None
        self._idle.put_nowait(worker)
        if reply[0] == "ok":
            return reply[1]
        if reply[0] == "refused":
            raise JobRefused(reply[1], reply[2], reply[3])
        log.error("%s job %s failed: %s\n%s", self.name, job, reply[1], reply[2])
        raise JobFailed(reply[1])

    async def close(self) -> None:
        self._closed = True
        for worker in list(self._all):
            try:
                worker.conn.send(None)
            except Exception:  # noqa: BLE001
                pass
        for worker in list(self._all):
            await asyncio.to_thread(worker.process.join, 2)
            self._kill(worker)
