"""Two stored descriptions compared: diagnoses gained, lost and changed, the key numbers and facts that differ."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Path as PathParam, Query, Request
from fastapi.responses import JSONResponse, Response

from ..errors import APIError, error_doc
from ..negotiation import negotiate
from ..state import ServiceDep
from ..uploads import ID_PATTERN, IdPath

router = APIRouter(tags=["diagnoses"])
OtherPath = PathParam(..., pattern=ID_PATTERN, description="the description to compare with (after)",
                      examples=["disaggregated-h100-l4-2"])
DIFF_MEDIA = {"json": ["application/json"], "text": ["text/plain"], "md": ["text/markdown"]}
_TYPES = {"text": "text/plain; charset=utf-8", "md": "text/markdown; charset=utf-8"}


async def _side(svc, description_id: str) -> dict:
    record = svc.record_or_404(description_id)
    data = await asyncio.to_thread(svc.repo.source, description_id)
    if data is None:
        raise APIError(404, "not-found", f"no description '{description_id}'")
    return {"data": data, "source": record["filename"], "fmt": record["format"], "name": description_id,
            "key": (description_id, (record["sha256"], record["format"], record["filename"]))}


@router.get("/descriptions/{description_id}/diff/{other_id}",
            responses={200: {"description": "the comparison",
                             "content": {"application/json": {"schema": {"type": "object"}},
                                         "text/plain": {"schema": {"type": "string"}},
                                         "text/markdown": {"schema": {"type": "string"}}}},
                       **error_doc(400, 404, 406, 422, 500, 503)})
async def get_diff(request: Request, svc: ServiceDep, description_id: str = IdPath, other_id: str = OtherPath,
                   format: str | None = Query(None, pattern="^(json|text|md)$")):
    """What changes from `description_id` (before) to `other_id` (after): diagnoses gained, lost and changed in
    severity, key numbers that moved, description facts that differ. The migration-planning view (AI.20): describe
    source and target, compare before moving. JSON, text or Markdown (by Accept or ?format=)."""
    chosen, _ = negotiate(request, format, DIFF_MEDIA, "comparisons are")
    before, after = await _side(svc, description_id), await _side(svc, other_id)
    rendered = await svc.run_job("reasoning", "diff", before=before, after=after)
    if chosen == "json":
        return JSONResponse(rendered["json"], headers={"Vary": "Accept"})
    return Response(rendered[chosen], media_type=_TYPES[chosen], headers={"Vary": "Accept"})
