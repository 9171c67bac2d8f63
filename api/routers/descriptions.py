"""Stored descriptions: upload, replace, delete, list; a description's record, exact source and graphs."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from .. import examples, models
from ..errors import COMMON_ERRORS, WRITE_ERRORS, APIError, error_doc
from ..negotiation import GRAPH_MEDIA, negotiate, with_charset
from ..state import ServiceDep, Writer
from ..uploads import ID_PATTERN, FilenameParam, FormatParam, IdPath, read_upload, store_upload

router = APIRouter(tags=["descriptions"])


def links(description_id: str) -> dict[str, str]:
    base = "/descriptions/" + description_id
    return {"self": base, "source": base + "/source", "validation": base + "/validation",
            "diagnoses": base + "/diagnoses", "asserted": base + "/graph?graph=asserted",
            "inferred": base + "/graph?graph=inferred"}


def summary(record: dict) -> dict:
    out = {k: v for k, v in record.items() if k not in ("validation", "diagnoses")}
    out["links"] = links(record["id"])
    return out


def detail(record: dict) -> dict:
    return dict(record, links=links(record["id"]))


def created(record: dict, is_new: bool) -> JSONResponse:
    return JSONResponse(detail(record), status_code=201 if is_new else 200,
                        headers={"Location": "/descriptions/" + record["id"]})


@router.get("/descriptions", response_model=models.DescriptionList, responses=error_doc(500))
async def list_descriptions(svc: ServiceDep):
    """All stored descriptions (current versions), by id."""
    records = [svc.repo.record(i) for i in svc.repo.ids()]
    return {"descriptions": [summary(r) for r in records if r]}


@router.post("/descriptions", status_code=201, openapi_extra=examples.UPLOAD_BODY, dependencies=[Writer],
             response_model=models.DescriptionDetail, responses=WRITE_ERRORS)
async def upload_description(
    request: Request, svc: ServiceDep,
    id: str | None = Query(None, pattern=ID_PATTERN, description="the id to store it under (default: "
                           "from the description's own id, made unique)"),
    format: str | None = FormatParam,
    filename: str | None = FilenameParam,
):
    """Upload a description: it is stored, validated and (if valid) diagnosed. Needs the bearer token.

    An invalid description is stored too, with its validation report and no diagnoses; input that cannot
    be read at all (syntax error, remote JSON-LD context, DTD in RDF/XML) is refused with 400.
    """
    data, fmt = await read_upload(request, format, filename)
    record, _ = await store_upload(svc, id, data, fmt, filename, replace=False)
    return created(record, True)


@router.get("/descriptions/{description_id}", response_model=models.DescriptionDetail, responses=COMMON_ERRORS)
async def get_description(svc: ServiceDep, description_id: str = IdPath):
    """One description: metadata, validation report and diagnoses of its current version."""
    return detail(svc.record_or_404(description_id))


@router.put("/descriptions/{description_id}", openapi_extra=examples.UPLOAD_BODY, dependencies=[Writer],
            response_model=models.DescriptionDetail,
            responses={201: {"model": models.DescriptionDetail, "description": "created"}, **WRITE_ERRORS})
async def replace_description(request: Request, svc: ServiceDep, description_id: str = IdPath,
                              format: str | None = FormatParam, filename: str | None = FilenameParam):
    """Create or replace the description with this id (atomically: readers see the old or the new one)."""
    data, fmt = await read_upload(request, format, filename)
    record, is_new = await store_upload(svc, description_id, data, fmt, filename, replace=True)
    return created(record, is_new)


@router.delete("/descriptions/{description_id}", status_code=204, dependencies=[Writer],
               responses=error_doc(401, 403, 404, 422, 500, 503), response_class=Response)
async def delete_description(svc: ServiceDep, description_id: str = IdPath):
    """Delete a description and its graphs. Needs the bearer token."""
    svc.record_or_404(description_id)
    deleted = await asyncio.to_thread(svc.repo.delete, description_id)
    svc.forget_explanations(description_id)
    if not deleted:
        raise APIError(404, "not-found", f"no description '{description_id}'")
    return Response(status_code=204)


@router.get("/descriptions/{description_id}/source", responses={
    200: {"description": "the uploaded bytes, unchanged, with the media type of their format",
          "content": {m: {"schema": {}} for m in ("application/yaml", "application/json", "application/ld+json",
                                                   "text/turtle", "application/n-triples", "application/rdf+xml")}},
    **COMMON_ERRORS})
async def get_source(svc: ServiceDep, description_id: str = IdPath):
    """Exactly the bytes that were uploaded."""
    record = svc.record_or_404(description_id)
    data = await asyncio.to_thread(svc.repo.source, description_id)
    if data is None:
        raise APIError(404, "not-found", f"no description '{description_id}'")
    return Response(data, media_type=record["media_type"], headers={"ETag": f'W/"{record["sha256"]}"'})


@router.get("/descriptions/{description_id}/graph", responses={
    200: {"description": "the graph", "content": {m[0]: {"schema": examples.schema_for(m[0])}
                                                  for m in GRAPH_MEDIA.values()}},
    **error_doc(404, 422, 500, 503)})
async def get_graph(request: Request, svc: ServiceDep, description_id: str = IdPath,
                    graph: str = Query("asserted", pattern="^(asserted|inferred)$"),
                    format: str | None = Query(None, pattern="^(ttl|turtle|nt|ntriples|jsonld|json-ld|rdfxml)$")):
    """The asserted or inferred graph of a description (Turtle, N-Triples, JSON-LD or RDF/XML by Accept)."""
    record = svc.record_or_404(description_id)
    name, media = negotiate(request, format, GRAPH_MEDIA, "RDF is")
    async with svc.snapshot() as snapshot:
        result = await svc.run_job("sparql", "graph", snapshot=snapshot, iri=record["graphs"][graph], fmt=name,
                                   max_bytes=svc.settings.max_result_bytes)
    return Response(result["body"], media_type=with_charset(media), headers={"ETag": result["etag"],
                                                                             "Vary": "Accept"})
