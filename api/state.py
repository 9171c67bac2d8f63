"""What every router shares: the settings, the store, the worker pools, and the write guard.

One :class:`Service` lives on ``app.state.service`` for the life of the app (made in ``create_app``, opened
by its lifespan). Routers reach it through the :data:`ServiceDep` dependency and protect writes with
:func:`require_writer`, which FastAPI runs before the handler reads the body.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections import OrderedDict
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import APIError, scrub
from .settings import Settings
from .workers import JobFailed, JobMemory, JobRefused, JobTimeout, WorkerPool

log = logging.getLogger("sortai.api")


class Service:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.repo = None
        self.pools: dict[str, WorkerPool] = {}
        self.explanations: OrderedDict = OrderedDict()
        self._probe: asyncio.Future | None = None
        self._probed_at = 0.0

    async def open(self) -> None:
        from .repository import Repository

        self.repo = Repository(self.settings.data_dir)
        removed = await asyncio.to_thread(self.repo.recover)
        if removed:
            log.warning("recovered from an interrupted write: removed %d orphaned graph(s)", len(removed))
        limit = self.settings.worker_memory_mb * 1024 * 1024
        self.pools = {"sparql": WorkerPool("sparql", self.settings.sparql_workers, memory_limit=limit),
                      "reasoning": WorkerPool("reasoning", self.settings.reasoning_workers, memory_limit=limit)}
        await asyncio.gather(*(p.start() for p in self.pools.values()))

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self.pools.values()))
        if self.repo is not None:
            self.repo.close()

    @asynccontextmanager
    async def snapshot(self):
        """A read-only checkpoint of the store for a SPARQL worker, released when the block ends."""
        path = await asyncio.to_thread(self.repo.acquire_snapshot)
        try:
            yield path
        finally:
            await asyncio.to_thread(self.repo.release_snapshot, path)

    def forget_explanations(self, description_id: str) -> None:
        """Drop the cached explanations of an id (on replace and delete; the keys hold the content hash too)."""
        for key in [k for k in self.explanations if k[0] == description_id]:
            del self.explanations[key]

    def probe_store(self) -> None:
        """In the background, at most every 2 s: try to make a store that failed to write writable again."""
        loop = asyncio.get_running_loop()
        if (self._probe is None or self._probe.done()) and loop.time() - self._probed_at > 2:
            self._probed_at = loop.time()
            self._probe = asyncio.ensure_future(asyncio.to_thread(self.repo.probe))

    def record_or_404(self, description_id: str) -> dict:
        record = self.repo.record(description_id)
        if record is None:
            raise APIError(404, "not-found", f"no description '{description_id}'")
        return record

    async def run_job(self, pool: str, job: str, **kwargs):
        """Run a job in a worker process under its deadline and memory ceiling; failures become JSON errors."""
        timeout = self.settings.reasoning_timeout if pool == "reasoning" else self.settings.query_timeout
        try:
            return scrub(await self.pools[pool].run(job, timeout=timeout, **kwargs))
        except JobRefused as exc:
            status = {"not-found": 404, "not-acceptable": 406}.get(exc.code, 400)
            raise APIError(status, exc.code, exc.message, exc.details if isinstance(exc.details, list) else None
                           ) from None
        except JobTimeout as exc:
            code = "query-timeout" if pool == "sparql" else "timeout"
            raise APIError(503, code, f"the work did not finish in time ({exc}) and was stopped; narrow it or "
                           "try again later", headers={"Retry-After": "5"}) from None
        except JobMemory:
            raise APIError(503, "memory-limit", f"the work needed more than the {self.settings.worker_memory_mb} "
                           "MiB a worker may use and was stopped; narrow it (fewer patterns, LIMIT, a smaller "
                           "description)", headers={"Retry-After": "5"}) from None
        except JobFailed:
            raise APIError(500, "internal", "internal error; the server log has the details") from None


def service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(service)]
bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="The write token the server was started with (SORTAI_TOKEN or --token-file).")


async def require_writer(svc: ServiceDep,
                         credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """Writes need the bearer token; checked from the headers alone, before anything reads the body."""
    settings = svc.settings
    if settings.token is None:
        if settings.allow_open_writes:
            return
        raise APIError(403, "forbidden", "writes are disabled: no token is configured")
    given = credentials.credentials.strip() if credentials is not None else ""
    if not given:
        raise APIError(401, "unauthorized", "writes need 'Authorization: Bearer <token>'",
                       headers={"WWW-Authenticate": 'Bearer realm="sortai"'})
    if not hmac.compare_digest(given.encode("utf-8"), settings.token.encode("utf-8")):
        raise APIError(403, "forbidden", "the bearer token is not valid",
                       headers={"WWW-Authenticate": 'Bearer realm="sortai", error="invalid_token"'})


Writer = Depends(require_writer)
