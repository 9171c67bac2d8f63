"""Liveness of the service (its index, ``/``, is in the ``ui`` router: JSON, or the page for a browser)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from .. import models
from ..errors import error_doc
from ..state import ServiceDep

router = APIRouter(tags=["service"])


@router.get("/health", response_model=models.Health, responses={
    503: {"model": models.Health, "description": "the store cannot write (disk full, read-only, I/O error)"},
    **error_doc(500)})
async def health(svc: ServiceDep):
    """Liveness and readiness: the service answers, and its store can write. Answers without touching a worker
    or the disk, so it stays fast under load."""
    store = svc.repo.health()
    if not store["writable"]:
        svc.probe_store()
    body = {"status": "ok" if store["writable"] else "degraded", "descriptions": len(svc.repo.ids()),
            "writes": "token" if svc.settings.token else "open", "store": store,
            "workers": {name: pool.status() for name, pool in svc.pools.items()}}
    return JSONResponse(body, status_code=200 if store["writable"] else 503, headers={"Cache-Control": "no-store"})
