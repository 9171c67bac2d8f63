"""What the reasoner found: validation reports, diagnoses, explanations, and the one-shot ``POST /diagnose``."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Path as PathParam, Query, Request
from fastapi.responses import JSONResponse, Response

from .. import examples, models
from ..errors import COMMON_ERRORS, APIError, error_doc
from ..negotiation import GRAPH_MEDIA, negotiate
from ..state import Service, ServiceDep
from ..uploads import FilenameParam, FormatParam, IdPath, default_source, read_upload

router = APIRouter(tags=["diagnoses"])
DiagnosisPath = PathParam(..., min_length=1, max_length=500, description="diagnosis id (contains `/`)",
                          examples=["l4-decode/diagnosis/MemoryPathIncoherence"])
EXPLANATION_MEDIA = {"json": ["application/json"], "text": ["text/plain"], "ttl": GRAPH_MEDIA["ttl"],
                     "dot": ["text/vnd.graphviz"]}
_EXPLANATION_TYPES = {"json": "application/json", "text": "text/plain; charset=utf-8", "ttl": "text/turtle",
                      "dot": "text/vnd.graphviz"}
EXPLANATION_CACHE = 256


@router.get("/descriptions/{description_id}/validation", response_model=models.Validation,
            responses={200: {"content": {"text/turtle": {"schema": {"type": "string"}}},
                             "description": "the validation report (JSON), or the SHACL report graph (Turtle)"},
                       **COMMON_ERRORS})
async def get_validation(request: Request, svc: ServiceDep, description_id: str = IdPath,
                         format: str | None = Query(None, pattern="^(json|ttl|turtle)$")):
    """The validation report as JSON, or the SHACL validation report graph as Turtle."""
    record = svc.record_or_404(description_id)
    chosen, _ = negotiate(request, format, {"json": ["application/json"], "ttl": GRAPH_MEDIA["ttl"]},
                          "the validation report is")
    if chosen == "ttl":
        return Response(await asyncio.to_thread(svc.repo.shacl_report, description_id) or "",
                        media_type="text/turtle", headers={"Vary": "Accept"})
    return JSONResponse(record["validation"], headers={"Vary": "Accept"})


def _matches(d: dict, mode, severity, domain, component) -> bool:
    if mode and mode.lower() not in (d["mode"].lower(), d["mode_label"].lower()):
        return False
    if severity and severity.lower() != d["severity"].lower():
        return False
    if domain:
        domains = d["primary_domains"] + d["supporting_domains"]
        names = {x.split(" ", 1)[0].lower() for x in domains} | {x.lower() for x in domains}
        if domain.lower() not in names:
            return False
    return not component or component in (d["component"], d["component_iri"])


@router.get("/descriptions/{description_id}/diagnoses", response_model=models.DiagnosisList,
            responses=COMMON_ERRORS)
async def list_diagnoses(
    svc: ServiceDep,
    description_id: str = IdPath,
    mode: str | None = Query(None, max_length=200, description="instability mode (local name or label)"),
    severity: str | None = Query(None, max_length=50, description="low, moderate, high or critical"),
    domain: str | None = Query(None, max_length=200, description="diagnostic domain, e.g. AI.07"),
    component: str | None = Query(None, max_length=500, description="component id (or IRI)"),
):
    """The diagnoses of a description, most severe first, filtered by mode, severity, domain, component."""
    record = svc.record_or_404(description_id)
    found = [d for d in record["diagnoses"] if _matches(d, mode, severity, domain, component)]
    return {"description": description_id, "version": record["version"], "diagnosed": record["diagnosed"],
            "count": len(found), "diagnoses": found}


def diagnosis_or_404(record: dict, description_id: str, diagnosis_id: str) -> dict:
    for d in record["diagnoses"]:
        if d["id"] == diagnosis_id:
            return d
    raise APIError(404, "not-found", f"no diagnosis '{diagnosis_id}' in description '{description_id}'")


async def explanation(svc: Service, record: dict, description_id: str, diagnosis_id: str) -> dict:
    """The explanation of one diagnosis in every rendering (json, text, ttl, dot), from the cache or a worker.

    The key holds what the explanation is computed from (the stored bytes, their format and file name), so
    a replaced or re-created id never meets an explanation of its former content."""
    content = (record["sha256"], record["format"], record["filename"])
    key = (description_id, content, diagnosis_id)
    cache = svc.explanations
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    data = await asyncio.to_thread(svc.repo.source, description_id)
    if data is None:
        raise APIError(404, "not-found", f"no description '{description_id}'")
    rendered = await svc.run_job("reasoning", "explain", data=data, source=record["filename"],
                                 fmt=record["format"], name=description_id, diagnosis=diagnosis_id,
                                 key=(description_id, content))
    cache[key] = rendered
    while len(cache) > EXPLANATION_CACHE:
        cache.popitem(last=False)
    return rendered


@router.get("/descriptions/{description_id}/diagnoses/{diagnosis_id:path}/explanation",
            responses={200: {"description": "the explanation",
                             "content": {"application/json": {"schema": {"type": "object"}},
                                         "text/plain": {"schema": {"type": "string"}},
                                         "text/turtle": {"schema": {"type": "string"}},
                                         "text/vnd.graphviz": {"schema": {"type": "string"}}}},
                       **error_doc(404, 422, 500, 503)})
async def get_explanation(request: Request, svc: ServiceDep, description_id: str = IdPath,
                          diagnosis_id: str = DiagnosisPath,
                          format: str | None = Query(None, pattern="^(json|text|ttl|turtle|dot)$")):
    """Why a diagnosis holds: JSON tree, text, Turtle (PROV-O) or Graphviz DOT (by Accept or ?format=)."""
    record = svc.record_or_404(description_id)
    diagnosis_or_404(record, description_id, diagnosis_id)
    chosen, _ = negotiate(request, format, EXPLANATION_MEDIA, "explanations are")
    rendered = await explanation(svc, record, description_id, diagnosis_id)
    headers = {"Vary": "Accept"}
    if chosen == "json":
        return JSONResponse(rendered["json"], headers=headers)
    return Response(rendered[chosen], media_type=_EXPLANATION_TYPES[chosen], headers=headers)


@router.get("/descriptions/{description_id}/diagnoses/{diagnosis_id:path}", response_model=models.Diagnosis,
            responses=COMMON_ERRORS)
async def get_diagnosis(svc: ServiceDep, description_id: str = IdPath, diagnosis_id: str = DiagnosisPath):
    """One diagnosis."""
    return diagnosis_or_404(svc.record_or_404(description_id), description_id, diagnosis_id)


@router.post("/diagnose", openapi_extra=examples.UPLOAD_BODY, response_model=models.DiagnoseResult,
             responses=error_doc(400, 408, 413, 415, 422, 500, 503))
async def diagnose(request: Request, svc: ServiceDep, format: str | None = FormatParam,
                   filename: str | None = FilenameParam):
    """One-shot and stateless: validate and diagnose the body; nothing is stored (no token needed).

    Refused without a token when the Content-Type is one a web page on another site could send without
    asking (`text/plain`, a form, none): send the description's media type."""
    data, fmt = await read_upload(request, format, filename)
    return await diagnose_unstored(svc, data, fmt, filename)


async def diagnose_unstored(svc: Service, data: bytes, fmt: str, filename: str | None) -> dict:
    """Validate and diagnose bytes in a reasoning worker without storing them (``POST /diagnose``, the page's
    "Check")."""
    result = await svc.run_job("reasoning", "process", data=data, source=default_source(fmt, None, filename),
                               fmt=fmt, name=None)
    return {"name": result["name"], "conforms": result["conforms"], "diagnosed": result["diagnosed"],
            "validation": result["validation"], "diagnoses": result["diagnoses"]}
