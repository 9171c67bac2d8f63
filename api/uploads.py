"""Reading an uploaded description (its format, its bytes) and storing the processed result as a new version.

Shared by the descriptions router (stored uploads) and the diagnoses router (``POST /diagnose``). The
parsing, validation and reasoning happen in a reasoning worker; this module only moves bytes.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone
from pathlib import Path

from fastapi import Path as PathParam, Query, Request

from .errors import APIError
from .state import Service

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
UPLOAD_FORMATS = {
    "yaml": ("application/yaml", ".yaml"),
    "json": ("application/json", ".json"),
    "jsonld": ("application/ld+json", ".jsonld"),
    "turtle": ("text/turtle", ".ttl"),
    "ntriples": ("application/n-triples", ".nt"),
    "rdfxml": ("application/rdf+xml", ".rdf"),
}
CONTENT_TYPES = {
    "application/yaml": "yaml", "application/x-yaml": "yaml", "text/yaml": "yaml", "text/x-yaml": "yaml",
    "application/json": "json", "application/ld+json": "jsonld", "text/turtle": "turtle",
    "application/x-turtle": "turtle", "application/n-triples": "ntriples", "application/rdf+xml": "rdfxml",
}
SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".jsonld": "jsonld", ".ttl": "turtle",
            ".nt": "ntriples", ".rdf": "rdfxml", ".owl": "rdfxml", ".xml": "rdfxml"}
FORMAT_PARAM = {"yaml": "yaml", "yml": "yaml", "json": "json", "jsonld": "jsonld", "json-ld": "jsonld",
                "turtle": "turtle", "ttl": "turtle", "ntriples": "ntriples", "nt": "ntriples",
                "rdfxml": "rdfxml", "rdf": "rdfxml"}

FormatParam = Query(None, description="yaml, json, jsonld, turtle, ntriples or rdfxml (overrides Content-Type)",
                    pattern=r"^(yaml|yml|json|jsonld|json-ld|turtle|ttl|ntriples|nt|rdfxml|rdf)$")
FilenameParam = Query(None, max_length=200, pattern=r"^[^/\\\x00-\x1f]+$",
                      description="file name shown in problem locations (e.g. fleet.yaml)")
IdPath = PathParam(..., pattern=ID_PATTERN, description="description id", examples=["disaggregated-h100-l4"])


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def upload_format(request: Request, fmt: str | None, filename: str | None) -> str:
    if fmt:
        if fmt.lower() not in FORMAT_PARAM:
            raise APIError(415, "unsupported-media-type",
                           f"unknown format '{fmt}'; use one of {', '.join(sorted(UPLOAD_FORMATS))}")
        return FORMAT_PARAM[fmt.lower()]
    media = content_type(request)
    if media in CONTENT_TYPES:
        return CONTENT_TYPES[media]
    if filename:
        suffix = Path(filename).suffix.lower()
        if suffix in SUFFIXES:
            return SUFFIXES[suffix]
    raise APIError(415, "unsupported-media-type",
                   f"cannot tell the format of the upload (Content-Type '{media or 'none'}'); send "
                   "Content-Type application/yaml, application/json, application/ld+json, text/turtle, "
                   "application/n-triples or application/rdf+xml, or add ?format=")


# What a web page on any site may send without a CORS preflight (the Fetch standard's CORS-safelisted
# Content-Type values, and none at all).
SIMPLE_CONTENT_TYPES = {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""}


def refuse_cross_site(request: Request) -> None:
    """Refuse a body that any web page could have sent (no preflight, no token): the cross-site guard of
    ``POST /diagnose`` and of writes when they are open (``--allow-open-writes``)."""
    media = content_type(request)
    if "authorization" not in request.headers and media in SIMPLE_CONTENT_TYPES:
        raise APIError(415, "unsupported-media-type",
                       f"Content-Type '{media or 'none'}' is refused here without a token: any web page could send "
                       "it from another site. Send the description's own media type (application/yaml, "
                       "application/json, application/ld+json, text/turtle, application/n-triples, "
                       "application/rdf+xml)")


async def read_upload(request: Request, fmt: str | None, filename: str | None) -> tuple[bytes, str]:
    """The body and its format. Nothing here parses the body: the worker does, under its deadline."""
    refuse_cross_site(request)
    chosen = upload_format(request, fmt, filename)
    data = await request.body()
    if not data.strip():
        raise APIError(400, "empty", "the request body is empty: send the description")
    return data, chosen


def default_source(fmt: str, description_id: str | None, filename: str | None) -> str:
    return filename or f"{description_id or 'description'}{UPLOAD_FORMATS[fmt][1]}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


async def store_upload(svc: Service, description_id: str | None, data: bytes, fmt: str,
                       filename: str | None, replace: bool) -> tuple[dict, bool]:
    """Process the upload in a worker and commit it; (stored record, whether the id is new)."""
    from .repository import graph_iris

    repo = svc.repo
    media_type, _ = UPLOAD_FORMATS[fmt]
    source = default_source(fmt, description_id, filename)
    staging = repo.staging_names()
    try:
        result = await svc.run_job("reasoning", "process", data=data, source=source, fmt=fmt,
                                   name=description_id, asserted=staging[0], inferred=staging[1])
        record = {
            "name": result["name"], "filename": source, "format": fmt, "media_type": media_type,
            "size": len(data), "sha256": result["sha256"], "updated": _now(),
            "conforms": result["conforms"], "violations": result["validation"]["violations"],
            "warnings": result["validation"]["warnings"], "diagnosed": result["diagnosed"],
            "diagnosis_count": len(result["diagnoses"]), "asserted_triples": result["asserted_triples"],
            "inferred_triples": result["inferred_triples"], "deployment": result["deployment"],
            "validation": result["validation"], "diagnoses": result["diagnoses"],
        }
        candidates = [description_id] if description_id is not None else _candidates(result["name"])
        for candidate in candidates:
            existed = repo.record(candidate) is not None
            if existed and not replace:
                if description_id is not None:
                    raise APIError(409, "conflict", f"the id '{description_id}' is taken; PUT replaces it")
                continue
            record["graphs"] = dict(zip(("asserted", "inferred"), graph_iris(candidate)))
            stored = await asyncio.to_thread(repo.commit, candidate, record, data, result["shacl_report"],
                                             result.get("nquads", b""), staging, not replace)
            if stored is not None:
                svc.forget_explanations(candidate)
                return stored, not existed
            if description_id is not None:
                raise APIError(409, "conflict", f"the id '{description_id}' is taken; PUT replaces it")
        raise APIError(409, "conflict", "no free id for this description name; give ?id=")
    except BaseException:
        await asyncio.to_thread(repo.discard_staging, staging)
        raise


def _candidates(name: str):
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:56] or "description"
    yield stem
    for n in range(2, 10_000):
        yield f"{stem}-{n}"
