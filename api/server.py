"""The SORT-AI HTTP service: REST API for descriptions, diagnoses and explanations, and a SPARQL 1.1 endpoint.

Started by ``sortai serve`` (``run_server``). See api/README.md for the endpoints, the limits and the design.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
import re
import sys
import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from . import models
from .negotiation import FORMAT_ALIASES, GRAPH_MEDIA, RESULT_MEDIA, choose
from .workers import JobFailed, JobRefused, JobTimeout, WorkerPool

log = logging.getLogger("sortai.api")

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


# --- settings -------------------------------------------------------------------------------------------


def _env_number(name: str, default, kind=int):
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return kind(value)
    except ValueError:
        raise SystemExit(f"sortai serve: {name}={value!r} is not a number") from None


@dataclass
class Settings:
    data_dir: Path
    token: str | None = None
    allow_open_writes: bool = False
    max_body_bytes: int = 16 * 1024 * 1024
    query_timeout: float = 10.0
    max_result_bytes: int = 32 * 1024 * 1024
    sparql_workers: int = 2
    reasoning_workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))
    reasoning_timeout: float = 300.0

    @classmethod
    def from_env(cls, data_dir: Path, token: str | None, allow_open_writes: bool) -> "Settings":
        return cls(
            data_dir=Path(data_dir), token=token, allow_open_writes=allow_open_writes,
            max_body_bytes=_env_number("SORTAI_MAX_BODY_BYTES", 16 * 1024 * 1024),
            query_timeout=_env_number("SORTAI_QUERY_TIMEOUT", 10.0, float),
            max_result_bytes=_env_number("SORTAI_MAX_RESULT_BYTES", 32 * 1024 * 1024),
            sparql_workers=_env_number("SORTAI_SPARQL_WORKERS", 2),
            reasoning_workers=_env_number("SORTAI_REASONING_WORKERS", max(1, min(4, os.cpu_count() or 1))),
            reasoning_timeout=_env_number("SORTAI_REASONING_TIMEOUT", 300.0, float),
        )


# --- errors ---------------------------------------------------------------------------------------------


class APIError(Exception):
    def __init__(self, status: int, error: str, message: str, problems: list | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.error, self.message, self.problems, self.headers = status, error, message, problems, headers


def error_response(status: int, error: str, message: str, problems: list | None = None,
                   headers: dict | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "message": message}
    if problems:
        body["problems"] = problems
    return JSONResponse(scrub(body), status_code=status, headers=headers)


_HTTP_CODES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
               405: "method-not-allowed", 406: "not-acceptable", 409: "conflict", 413: "too-large",
               415: "unsupported-media-type", 422: "invalid-request", 503: "unavailable"}


def _schema_for(media: str) -> dict:
    """OpenAPI schema of a non-JSON-model body: JSON media types hold any JSON value, the others text."""
    return {} if media.endswith("json") else {"type": "string"}


_BINARY = {"type": "string", "format": "binary"}


def scrub(value):
    """Replace lone surrogates (from odd input echoed in messages) so that every answer encodes as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


def _error_doc(*codes: int) -> dict:
    text = {400: "unreadable input or refused query", 401: "no bearer token", 403: "wrong bearer token",
            404: "no such resource", 406: "no acceptable representation", 409: "the id is taken",
            413: "request body too large", 415: "unknown upload format", 422: "invalid parameters",
            500: "internal error (details only in the server log)",
            503: "a time limit was reached or the service is busy"}
    return {c: {"model": models.Error, "description": text.get(c, "error")} for c in codes}


COMMON_ERRORS = _error_doc(404, 406, 422, 500)
WRITE_ERRORS = _error_doc(400, 401, 403, 404, 409, 413, 415, 422, 500, 503)


# --- the body size limit (pure ASGI, before anything reads the body) --------------------------------------


class BodyLimit:
    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_large = JSONResponse({"error": "too-large",
                                  "message": f"the request body is larger than the limit of {self.limit} bytes"},
                                 status_code=413, headers={"Connection": "close"})
        if declared is not None:
            try:
                if int(declared) > self.limit:
                    return await too_large(scope, receive, send)
            except ValueError:
                return await error_response(400, "bad-request", "invalid Content-Length")(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return await too_large(scope, receive, send)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


# --- SPARQL guard, second layer ----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<comment>\#[^\n\r]*)|(?P<long>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\")"""
    r"""|(?P<short>'(?:[^'\\\n\r]|\\.)*'|"(?:[^"\\\n\r]|\\.)*")|(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)""",
    re.DOTALL)
_SERVICE = re.compile(r"(?<![\w:.?$\-])SERVICE(?![\w:\-])", re.IGNORECASE)
_FROM = re.compile(r"(?<![\w:.?$\-])FROM(?![\w:\-])", re.IGNORECASE)


def _unescape(text: str) -> str:
    return re.sub(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})", lambda m: chr(int(m.group(1) or m.group(2), 16))
                  if int(m.group(1) or m.group(2), 16) < 0x110000 else "", text)


def _keywords_text(query: str) -> str:
    """The query with comments, strings and IRIs removed: what is left are keywords, names and variables."""
    return _TOKEN.sub(" ", _unescape(query))


def check_query(text: str) -> tuple[str, bool]:
    """(form, has FROM) of a read-only query; raises APIError for updates, syntax errors and SERVICE."""
    from sortai.reasoner.sparql import QueryRefused, query_form

    try:
        form = query_form(text)
    except QueryRefused as exc:
        code = exc.problem.code
        raise APIError(400, code, exc.problem.render().removeprefix("violation: ")) from None
    bare = _keywords_text(text)
    if _SERVICE.search(bare):  # defence in depth: the parser above already refuses SERVICE
        raise APIError(400, "service-refused", "SERVICE is refused: queries never make the server fetch a URL")
    return form, bool(_FROM.search(bare))


# --- the app ---------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _links(description_id: str) -> dict[str, str]:
    base = "/descriptions/" + description_id
    return {"self": base, "source": base + "/source", "validation": base + "/validation",
            "diagnoses": base + "/diagnoses", "asserted": base + "/graph?graph=asserted",
            "inferred": base + "/graph?graph=inferred"}


SUMMARY_DROP = ("validation", "diagnoses")


def _summary(record: dict) -> dict:
    out = {k: v for k, v in record.items() if k not in SUMMARY_DROP}
    out["links"] = _links(record["id"])
    return out


def _detail(record: dict) -> dict:
    out = dict(record)
    out["links"] = _links(record["id"])
    return out



def negotiate(request: Request, format: str | None, offers: dict[str, list[str]], what: str) -> tuple[str, str]:
    """(short name, media type) from ?format= if it names an offer, else from the Accept header; 406 if neither."""
    if format:
        name = FORMAT_ALIASES.get(format.lower(), format.lower())
        if name in offers:
            return name, offers[name][0]
    picked = choose(request.headers.get("accept"), offers)
    if picked is None:
        raise APIError(406, "not-acceptable", f"{what} available as " + ", ".join(m[0] for m in offers.values()))
    return picked

def create_app(settings: Settings) -> FastAPI:
    from .repository import Repository, graph_iris

    state: dict[str, Any] = {}
    explanations: OrderedDict = OrderedDict()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        repo = Repository(settings.data_dir)
        removed = await asyncio.to_thread(repo.recover)
        if removed:
            log.warning("recovered from an interrupted write: removed %d orphaned graph(s)", len(removed))
        sparql = WorkerPool("sparql", settings.sparql_workers)
        reasoning = WorkerPool("reasoning", settings.reasoning_workers)
        await asyncio.gather(sparql.start(), reasoning.start())
        state.update(repo=repo, sparql=sparql, reasoning=reasoning)
        try:
            yield
        finally:
            await asyncio.gather(sparql.close(), reasoning.close())
            repo.close()

    app = FastAPI(
        title="SORT-AI API",
        version="0.1.0",
        summary="Diagnose structural instability in heterogeneous AI inference fleets over HTTP.",
        description=(
            "Upload architecture descriptions (YAML, JSON, JSON-LD, Turtle, N-Triples, RDF/XML); each is stored "
            "as named graphs, validated against the SHACL shapes and reasoned over. Read diagnoses and their "
            "explanations, and query everything with the SPARQL 1.1 Protocol at `/sparql`. Writes need "
            "`Authorization: Bearer <token>`. Every error is JSON: `{\"error\": code, \"message\": text}`."),
        lifespan=lifespan,
        openapi_tags=[{"name": "descriptions"}, {"name": "diagnoses"}, {"name": "sparql"}, {"name": "ontology"},
                      {"name": "service"}],
    )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    # --- error handlers: JSON, never a traceback -----------------------------------------------------------

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError):
        return error_response(exc.status, exc.error, exc.message, exc.problems, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no resource at {request.url.path}; see /docs for the endpoints"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
            allowed = set()
            for route in app.router.routes:
                if getattr(route, "methods", None) and route.matches(request.scope)[0] != Match.NONE:
                    allowed |= set(route.methods)
            headers = {"Allow": ", ".join(sorted(allowed))}
        return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "error"), message,
                              headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        details = [{"where": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))}
                   for e in exc.errors()]
        text = "; ".join(f"{d['where']}: {d['message']}" for d in details) or "invalid request"
        return error_response(422, "invalid-request", text, details)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error; the server log has the details")

    # --- helpers -----------------------------------------------------------------------------------------

    def repo():
        return state["repo"]

    def require_writer(request: Request) -> None:
        if settings.token is None:
            if settings.allow_open_writes:
                return
            raise APIError(403, "forbidden", "writes are disabled: no token is configured")
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise APIError(401, "unauthorized", "writes need 'Authorization: Bearer <token>'",
                           headers={"WWW-Authenticate": 'Bearer realm="sortai"'})
        if not hmac.compare_digest(given.strip().encode("utf-8"), settings.token.encode("utf-8")):
            raise APIError(403, "forbidden", "the bearer token is not valid",
                           headers={"WWW-Authenticate": 'Bearer realm="sortai", error="invalid_token"'})

    def record_or_404(description_id: str) -> dict:
        record = repo().record(description_id)
        if record is None:
            raise APIError(404, "not-found", f"no description '{description_id}'")
        return record

    def upload_format(request: Request, fmt: str | None, filename: str | None) -> str:
        if fmt:
            if fmt.lower() not in FORMAT_PARAM:
                raise APIError(415, "unsupported-media-type",
                               f"unknown format '{fmt}'; use one of {', '.join(sorted(UPLOAD_FORMATS))}")
            return FORMAT_PARAM[fmt.lower()]
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in CONTENT_TYPES:
            return CONTENT_TYPES[content_type]
        if filename:
            suffix = Path(filename).suffix.lower()
            if suffix in SUFFIXES:
                return SUFFIXES[suffix]
        raise APIError(415, "unsupported-media-type",
                       f"cannot tell the format of the upload (Content-Type '{content_type or 'none'}'); send "
                       "Content-Type application/yaml, application/json, application/ld+json, text/turtle, "
                       "application/n-triples or application/rdf+xml, or add ?format=")

    async def read_upload(request: Request, fmt: str | None, filename: str | None) -> tuple[bytes, str]:
        data = await request.body()
        if not data.strip():
            raise APIError(400, "empty", "the request body is empty: send the description")
        chosen = upload_format(request, fmt, filename)
        if chosen == "rdfxml":
            from .jobs import refuse_xml_declarations

            try:
                refuse_xml_declarations(data)
            except JobRefused as exc:
                raise APIError(400, exc.code, exc.message, exc.details) from None
        return data, chosen

    async def run_job(pool: str, job: str, **kwargs):
        try:
            return scrub(await state[pool].run(job, timeout=settings.reasoning_timeout if pool == "reasoning"
                                         else settings.query_timeout, **kwargs))
        except JobRefused as exc:
            status = 404 if exc.code == "not-found" else 400
            raise APIError(status, exc.code, exc.message, exc.details if isinstance(exc.details, list) else None
                           ) from None
        except JobTimeout as exc:
            raise APIError(503, "timeout", f"the work did not finish in time ({exc}); try again later",
                           headers={"Retry-After": "5"}) from None
        except JobFailed:
            raise APIError(500, "internal", "internal error; the server log has the details") from None

    async def store_upload(request: Request, description_id: str | None, data: bytes, fmt: str,
                           filename: str | None, replace: bool) -> tuple[dict, bool]:
        media_type, suffix = UPLOAD_FORMATS[fmt]
        source = filename or f"{description_id or 'description'}{suffix}"
        staging = repo().staging_names()
        try:
            result = await run_job("reasoning", "process", data=data, source=source, fmt=fmt,
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
            if description_id is not None:
                record["graphs"] = dict(zip(("asserted", "inferred"), graph_iris(description_id)))
                existed = repo().record(description_id) is not None
                if not replace and existed:
                    raise APIError(409, "conflict", f"the id '{description_id}' is taken; PUT replaces it")
                stored = await asyncio.to_thread(repo().commit, description_id, record, data,
                                                 result["shacl_report"], result.get("nquads", b""), staging,
                                                 not replace)
                if stored is None:
                    raise APIError(409, "conflict", f"the id '{description_id}' is taken; PUT replaces it")
                return stored, not existed
            stem = re.sub(r"[^A-Za-z0-9._-]+", "-", result["name"]).strip("-.")[:56] or "description"
            for n in range(1, 10_000):
                candidate = stem if n == 1 else f"{stem}-{n}"
                if repo().record(candidate) is not None:
                    continue
                record["graphs"] = dict(zip(("asserted", "inferred"), graph_iris(candidate)))
                stored = await asyncio.to_thread(repo().commit, candidate, record, data, result["shacl_report"],
                                                 result.get("nquads", b""), staging, True)
                if stored is not None:
                    return stored, True
            raise APIError(409, "conflict", "no free id for this description name; give ?id=")
        except BaseException:
            await asyncio.to_thread(repo().discard_staging, staging)
            raise

    def created(record: dict, is_new: bool) -> JSONResponse:
        return JSONResponse(_detail(record), status_code=201 if is_new else 200,
                            headers={"Location": "/descriptions/" + record["id"]})

    upload_body = {
        "requestBody": {
            "required": True,
            "description": "The description, exactly as a file would hold it. The format is told by `?format=`, "
                           "else by Content-Type, else by the suffix of `?filename=`.",
            "content": {media: {"schema": _BINARY} for media in
                        ("application/yaml", "application/json", "application/ld+json", "text/turtle",
                         "application/n-triples", "application/rdf+xml")},
        }
    }
    FormatParam = Query(None, description="yaml, json, jsonld, turtle, ntriples or rdfxml (overrides Content-Type)",
                        pattern=r"^(yaml|yml|json|jsonld|json-ld|turtle|ttl|ntriples|nt|rdfxml|rdf)$")
    FilenameParam = Query(None, max_length=200, pattern=r"^[^/\\\x00-\x1f]+$",
                          description="file name shown in problem locations (e.g. fleet.yaml)")
    IdPath = PathParam(..., pattern=ID_PATTERN, description="description id")

    # --- service -------------------------------------------------------------------------------------------

    @app.get("/health", tags=["service"], response_model=models.Health, responses=_error_doc(500))
    async def health():
        """Liveness: the store is open and the service answers."""
        return {"status": "ok", "descriptions": len(repo().ids()),
                "writes": "token" if settings.token else "open"}

    @app.get("/", tags=["service"], responses=_error_doc(500),
             response_model=dict[str, str])
    async def root():
        """Where things are."""
        return {"descriptions": "/descriptions", "diagnose": "/diagnose", "sparql": "/sparql",
                "ontology": "/ontology", "openapi": "/openapi.json", "docs": "/docs", "health": "/health"}

    # --- descriptions --------------------------------------------------------------------------------------

    @app.get("/descriptions", tags=["descriptions"], response_model=models.DescriptionList,
             responses=_error_doc(500))
    async def list_descriptions():
        """All stored descriptions (current versions), by id."""
        return {"descriptions": [_summary(repo().record(i)) for i in repo().ids() if repo().record(i)]}

    @app.post("/descriptions", tags=["descriptions"], status_code=201, openapi_extra=upload_body,
              response_model=models.DescriptionDetail, responses=WRITE_ERRORS)
    async def upload_description(
        request: Request,
        id: str | None = Query(None, pattern=ID_PATTERN, description="the id to store it under (default: "
                               "from the description's own id, made unique)"),
        format: str | None = FormatParam,
        filename: str | None = FilenameParam,
    ):
        """Upload a description: it is stored, validated and (if valid) diagnosed. Needs the bearer token.

        An invalid description is stored too, with its validation report and no diagnoses; input that cannot
        be read at all (syntax error, remote JSON-LD context, DTD in RDF/XML) is refused with 400.
        """
        require_writer(request)
        data, fmt = await read_upload(request, format, filename)
        record, _ = await store_upload(request, id, data, fmt, filename, replace=False)
        return created(record, True)

    @app.get("/descriptions/{description_id}", tags=["descriptions"], response_model=models.DescriptionDetail,
             responses=COMMON_ERRORS)
    async def get_description(description_id: str = IdPath):
        """One description: metadata, validation report and diagnoses of its current version."""
        return _detail(record_or_404(description_id))

    @app.put("/descriptions/{description_id}", tags=["descriptions"], openapi_extra=upload_body,
             response_model=models.DescriptionDetail,
             responses={201: {"model": models.DescriptionDetail, "description": "created"}, **WRITE_ERRORS})
    async def replace_description(request: Request, description_id: str = IdPath,
                                  format: str | None = FormatParam, filename: str | None = FilenameParam):
        """Create or replace the description with this id (atomically: readers see the old or the new one)."""
        require_writer(request)
        data, fmt = await read_upload(request, format, filename)
        record, is_new = await store_upload(request, description_id, data, fmt, filename, replace=True)
        return created(record, is_new)

    @app.delete("/descriptions/{description_id}", tags=["descriptions"], status_code=204,
                responses=_error_doc(401, 403, 404, 422, 500), response_class=Response)
    async def delete_description(request: Request, description_id: str = IdPath):
        """Delete a description and its graphs. Needs the bearer token."""
        require_writer(request)
        record_or_404(description_id)
        if not await asyncio.to_thread(repo().delete, description_id):
            raise APIError(404, "not-found", f"no description '{description_id}'")
        return Response(status_code=204)

    @app.get("/descriptions/{description_id}/source", tags=["descriptions"], responses={
        200: {"description": "the uploaded bytes, unchanged, with the media type of their format",
              "content": {m: {"schema": {}} for m, _ in UPLOAD_FORMATS.values()}},
        **_error_doc(404, 422, 500)})
    async def get_source(description_id: str = IdPath):
        """Exactly the bytes that were uploaded."""
        record = record_or_404(description_id)
        data = await asyncio.to_thread(repo().source, description_id)
        if data is None:
            raise APIError(404, "not-found", f"no description '{description_id}'")
        return Response(data, media_type=record["media_type"], headers={"ETag": f'"{record["sha256"]}"'})

    @app.get("/descriptions/{description_id}/graph", tags=["descriptions"], responses={
        200: {"description": "the graph", "content": {m[0]: {"schema": _schema_for(m[0])}
                                                      for m in GRAPH_MEDIA.values()}},
        **COMMON_ERRORS})
    async def get_graph(request: Request, description_id: str = IdPath,
                        graph: str = Query("asserted", pattern="^(asserted|inferred)$"),
                        format: str | None = Query(None, pattern="^(ttl|turtle|nt|ntriples|jsonld|json-ld|rdfxml)$")):
        """The asserted or inferred graph of a description (Turtle, N-Triples, JSON-LD or RDF/XML by Accept)."""
        record = record_or_404(description_id)
        iri = record["graphs"][graph]
        triples = await asyncio.to_thread(repo().graph, iri)
        return _rdf_response(request, triples, format)

    # --- validation, diagnoses, explanations ---------------------------------------------------------------

    @app.get("/descriptions/{description_id}/validation", tags=["diagnoses"], response_model=models.Validation,
             responses={200: {"content": {"text/turtle": {"schema": {"type": "string"}}},
                              "description": "the validation report (JSON), or the SHACL report graph (Turtle)"},
                        **COMMON_ERRORS})
    async def get_validation(request: Request, description_id: str = IdPath,
                             format: str | None = Query(None, pattern="^(json|ttl|turtle)$")):
        """The validation report as JSON, or the SHACL validation report graph as Turtle."""
        record = record_or_404(description_id)
        chosen, _ = negotiate(request, format, {"json": ["application/json"], "ttl": GRAPH_MEDIA["ttl"]},
                              "the validation report is")
        if chosen == "ttl":
            return Response(await asyncio.to_thread(repo().shacl_report, description_id) or "",
                            media_type="text/turtle")
        return JSONResponse(record["validation"])

    def _filter(diagnoses: list[dict], mode, severity, domain, component) -> list[dict]:
        out = []
        for d in diagnoses:
            if mode and mode.lower() not in (d["mode"].lower(), d["mode_label"].lower()):
                continue
            if severity and severity.lower() != d["severity"].lower():
                continue
            if domain:
                names = [x.split(" ", 1)[0].lower() for x in d["primary_domains"] + d["supporting_domains"]]
                if domain.lower() not in names and domain.lower() not in (x.lower() for x in
                                                                          d["primary_domains"] + d["supporting_domains"]):
                    continue
            if component and component not in (d["component"], d["component_iri"]):
                continue
            out.append(d)
        return out

    @app.get("/descriptions/{description_id}/diagnoses", tags=["diagnoses"], response_model=models.DiagnosisList,
             responses=COMMON_ERRORS)
    async def list_diagnoses(
        description_id: str = IdPath,
        mode: str | None = Query(None, max_length=200, description="instability mode (local name or label)"),
        severity: str | None = Query(None, max_length=50, description="low, moderate, high or critical"),
        domain: str | None = Query(None, max_length=200, description="diagnostic domain, e.g. AI.07"),
        component: str | None = Query(None, max_length=500, description="component id (or IRI)"),
    ):
        """The diagnoses of a description, most severe first, filtered by mode, severity, domain, component."""
        record = record_or_404(description_id)
        found = _filter(record["diagnoses"], mode, severity, domain, component)
        return {"description": description_id, "version": record["version"], "diagnosed": record["diagnosed"],
                "count": len(found), "diagnoses": found}

    explanation_media = {"json": ["application/json"], "text": ["text/plain"], "ttl": GRAPH_MEDIA["ttl"],
                         "dot": ["text/vnd.graphviz"]}

    @app.get("/descriptions/{description_id}/diagnoses/{diagnosis_id:path}/explanation", tags=["diagnoses"],
             responses={200: {"description": "the explanation",
                              "content": {"application/json": {"schema": {"type": "object"}},
                                          "text/plain": {"schema": {"type": "string"}},
                                          "text/turtle": {"schema": {"type": "string"}},
                                          "text/vnd.graphviz": {"schema": {"type": "string"}}}},
                        **_error_doc(404, 406, 422, 500, 503)})
    async def get_explanation(request: Request, description_id: str = IdPath,
                              diagnosis_id: str = PathParam(..., min_length=1, max_length=500),
                              format: str | None = Query(None, pattern="^(json|text|ttl|turtle|dot)$")):
        """Why a diagnosis holds: JSON tree, text, Turtle (PROV-O) or Graphviz DOT (by Accept or ?format=)."""
        record = record_or_404(description_id)
        diagnosis = next((d for d in record["diagnoses"] if d["id"] == diagnosis_id), None)
        if diagnosis is None:
            raise APIError(404, "not-found", f"no diagnosis '{diagnosis_id}' in description '{description_id}'")
        chosen, _ = negotiate(request, format, explanation_media, "explanations are")
        key = (description_id, record["version"], diagnosis_id)
        if key in explanations:
            explanations.move_to_end(key)
            rendered = explanations[key]
        else:
            data = await asyncio.to_thread(repo().source, description_id)
            fmt = record["format"]
            rendered = await run_job("reasoning", "explain", data=data, source=record["filename"], fmt=fmt,
                                     name=description_id, diagnosis=diagnosis_id,
                                     key=(description_id, record["version"]))
            explanations[key] = rendered
            while len(explanations) > 256:
                explanations.popitem(last=False)
        if chosen == "json":
            return JSONResponse(rendered["json"])
        media = {"text": "text/plain; charset=utf-8", "ttl": "text/turtle", "dot": "text/vnd.graphviz"}[chosen]
        return Response(rendered[chosen], media_type=media)

    @app.get("/descriptions/{description_id}/diagnoses/{diagnosis_id:path}", tags=["diagnoses"],
             response_model=models.Diagnosis, responses=COMMON_ERRORS)
    async def get_diagnosis(description_id: str = IdPath,
                            diagnosis_id: str = PathParam(..., min_length=1, max_length=500)):
        """One diagnosis."""
        record = record_or_404(description_id)
        for d in record["diagnoses"]:
            if d["id"] == diagnosis_id:
                return d
        raise APIError(404, "not-found", f"no diagnosis '{diagnosis_id}' in description '{description_id}'")

    @app.post("/diagnose", tags=["diagnoses"], openapi_extra=upload_body, response_model=models.DiagnoseResult,
              responses=_error_doc(400, 413, 415, 422, 500, 503))
    async def diagnose(request: Request, format: str | None = FormatParam, filename: str | None = FilenameParam):
        """One-shot and stateless: validate and diagnose the body; nothing is stored (no token needed)."""
        data, fmt = await read_upload(request, format, filename)
        source = filename or "description" + UPLOAD_FORMATS[fmt][1]
        result = await run_job("reasoning", "process", data=data, source=source, fmt=fmt, name=None)
        return {"name": result["name"], "conforms": result["conforms"], "diagnosed": result["diagnosed"],
                "validation": result["validation"], "diagnoses": result["diagnoses"]}

    # --- SPARQL 1.1 Protocol ------------------------------------------------------------------------------

    sparql_responses = {
        200: {"description": "SELECT/ASK results (JSON, XML, CSV, TSV) or CONSTRUCT/DESCRIBE graph (Turtle, "
                             "N-Triples, JSON-LD, RDF/XML), chosen by Accept",
              "content": {m[0]: {"schema": _schema_for(m[0])}
                          for m in (*RESULT_MEDIA.values(), *GRAPH_MEDIA.values())}},
        **_error_doc(400, 406, 413, 415, 422, 500, 503),
    }

    async def answer_query(request: Request, query: str | None, update: str | None, default_graphs: list[str],
                           named_graphs: list[str], format: str | None) -> Response:
        if update is not None:
            raise APIError(400, "update-refused", "SPARQL Update is refused: this endpoint is read-only")
        if not query or not query.strip():
            raise APIError(400, "missing-query", "give a SPARQL query: ?query=… (GET), a form field query=… or "
                           "an application/sparql-query body (POST)")
        form, has_from = check_query(query)
        offers = RESULT_MEDIA if form in ("SELECT", "ASK") else GRAPH_MEDIA
        name, media = negotiate(request, format, offers, f"{form} results are")
        for uri in default_graphs + named_graphs:
            if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^<>\"{}|^`\\\x00-\x20]*$", uri):
                raise APIError(400, "bad-graph-uri", f"'{uri}' is not an absolute IRI")
        snapshot = await asyncio.to_thread(repo().acquire_snapshot)
        started = time.perf_counter()
        try:
            body = await state["sparql"].run(
                "sparql", timeout=settings.query_timeout, wait=settings.query_timeout, snapshot=snapshot,
                query=query, form=form, fmt=name, max_bytes=settings.max_result_bytes, has_dataset=has_from,
                default_graph_uris=default_graphs, named_graph_uris=named_graphs)
        except JobRefused as exc:
            raise APIError(400, exc.code, exc.message) from None
        except JobTimeout:
            raise APIError(503, "query-timeout", f"the query did not finish within {settings.query_timeout:g} s "
                           "and was stopped; narrow it (fewer patterns, LIMIT) or try later",
                           headers={"Retry-After": "5"}) from None
        except JobFailed:
            raise APIError(500, "internal", "internal error; the server log has the details") from None
        finally:
            await asyncio.to_thread(repo().release_snapshot, snapshot)
        log.info("sparql %s %s in %.3fs, %d bytes", form, name, time.perf_counter() - started, len(body))
        if media.startswith("text/") or media.endswith("json") or media.endswith("xml"):
            media += "; charset=utf-8"
        return Response(body, media_type=media)

    @app.get("/sparql", tags=["sparql"], responses=sparql_responses)
    async def sparql_get(
        request: Request,
        query: str | None = Query(None, description="SPARQL 1.1 query (SELECT, ASK, CONSTRUCT, DESCRIBE)"),
        default_graph_uri: list[str] = Query([], alias="default-graph-uri"),
        named_graph_uri: list[str] = Query([], alias="named-graph-uri"),
        format: str | None = Query(None, description="result format if Accept cannot be set (json, xml, csv, tsv, "
                                   "ttl, nt, jsonld, rdfxml)"),
        update: str | None = Query(None, description="refused: the endpoint is read-only"),
    ):
        """SPARQL 1.1 Protocol query via GET. Default graph: the union of all descriptions' asserted and inferred
        graphs, the ontology and the catalog; each is also a named graph."""
        return await answer_query(request, query, update, default_graph_uri, named_graph_uri, format)

    @app.post("/sparql", tags=["sparql"], responses=sparql_responses, openapi_extra={
        "requestBody": {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["query"], "properties": {
                "query": {"type": "string"}, "update": {"type": "string", "description": "refused"},
                "default-graph-uri": {"type": "array", "items": {"type": "string"}},
                "named-graph-uri": {"type": "array", "items": {"type": "string"}}}}},
            "application/sparql-query": {"schema": {"type": "string"}},
            "application/sparql-update": {"schema": {"type": "string"}, "description": "refused"}}}})
    async def sparql_post(request: Request,
                          default_graph_uri: list[str] = Query([], alias="default-graph-uri"),
                          named_graph_uri: list[str] = Query([], alias="named-graph-uri"),
                          format: str | None = Query(None)):
        """SPARQL 1.1 Protocol query via POST (form-encoded or application/sparql-query). Updates are refused."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if content_type == "application/sparql-update":
            raise APIError(400, "update-refused", "SPARQL Update is refused: this endpoint is read-only")
        if content_type == "application/sparql-query":
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise APIError(400, "encoding", "the query is not UTF-8") from None
            return await answer_query(request, text, None, default_graph_uri, named_graph_uri, format)
        if content_type in ("application/x-www-form-urlencoded", ""):
            try:
                fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            except (UnicodeDecodeError, ValueError):
                raise APIError(400, "bad-request", "the form is not UTF-8 URL-encoded") from None
            query = fields.get("query", [None])[-1]
            update = fields.get("update", [None])[-1]
            return await answer_query(request, query, update,
                                      default_graph_uri + fields.get("default-graph-uri", []),
                                      named_graph_uri + fields.get("named-graph-uri", []),
                                      format or fields.get("format", [None])[-1])
        raise APIError(415, "unsupported-media-type", "POST a form (application/x-www-form-urlencoded) or "
                       "application/sparql-query")

    # --- ontology -----------------------------------------------------------------------------------------

    def _rdf_response(request: Request, triples, format: str | None, turtle: bytes | None = None) -> Response:
        import pyoxigraph as ox

        from .jobs import GRAPH_FORMATS, _PREFIXES

        name, media = negotiate(request, format, GRAPH_MEDIA, "RDF is")
        if name == "ttl" and turtle is not None:
            return Response(turtle, media_type=media)
        body = ox.serialize(list(triples), format=GRAPH_FORMATS[name],
                            prefixes=_PREFIXES if name in ("ttl", "rdfxml") else None)
        return Response(body, media_type=media, headers={"Vary": "Accept"})

    def _module_names() -> dict[str, str]:
        from sortai.reasoner import resources

        names = {m.removesuffix(".ttl"): m for m in (*resources.ONTOLOGY_MODULES, resources.CATALOG_MODULE)}
        names["catalog"] = resources.CATALOG_MODULE
        return names

    rdf_doc = {200: {"description": "RDF by content negotiation",
                     "content": {m[0]: {"schema": _schema_for(m[0])} for m in GRAPH_MEDIA.values()}},
               **_error_doc(404, 406, 422, 500)}

    @app.get("/ontology", tags=["ontology"], responses=rdf_doc)
    async def ontology(request: Request, format: str | None = Query(None, pattern="^(ttl|turtle|nt|ntriples|jsonld|json-ld|rdfxml|rdf)$")):
        """The SORT-AI ontology (all modules), as Turtle, RDF/XML, JSON-LD or N-Triples by Accept."""
        from sortai.reasoner import resources

        return _rdf_response(request, resources.ontology_triples(), format)

    @app.get("/ontology/{module}", tags=["ontology"], responses=rdf_doc)
    async def ontology_module(request: Request, module: str = PathParam(..., max_length=100),
                              format: str | None = Query(None, pattern="^(ttl|turtle|nt|ntriples|jsonld|json-ld|rdfxml|rdf)$")):
        """One ontology module (e.g. sortai-framework) or the catalog; Turtle is the file as shipped."""
        import pyoxigraph as ox

        from sortai.reasoner import resources

        names = _module_names()
        file = names.get(module.removesuffix(".ttl"))
        if file is None:
            raise APIError(404, "not-found", f"no ontology module '{module}'; modules: {', '.join(sorted(names))}")
        path = resources.ontology_dir() / file
        data = path.read_bytes()
        triples = ox.parse(data, format=ox.RdfFormat.TURTLE, base_iri=resources.ONTOLOGY_IRI)
        return _rdf_response(request, triples, format, turtle=data)

    @app.get("/context.jsonld", tags=["ontology"], responses={
        200: {"description": "the JSON-LD context", "content": {"application/ld+json": {"schema": {"type": "object"}}}},
        **_error_doc(500)})
    async def context():
        """The JSON-LD context of the description format."""
        from sortai.reasoner import resources

        return Response((resources.ontology_dir() / "context.jsonld").read_bytes(), media_type="application/ld+json")

    return app


# --- running --------------------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(token_file: Path | None = None) -> str | None:
    """The write token: from ``token_file`` if given, else the SORTAI_TOKEN environment variable."""
    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SystemExit(f"sortai serve: cannot read the token file {token_file}: {exc.strerror}") from None
        if not token:
            raise SystemExit(f"sortai serve: the token file {token_file} is empty")
        return token
    token = os.environ.get("SORTAI_TOKEN", "").strip()
    return token or None


def run_server(host: str, port: int, data_dir: Path, allow_open_writes: bool, token_file: Path | None = None) -> None:
    """Run the service; refuses (exit status 2) to start with writes open unless ``allow_open_writes``."""
    import uvicorn

    token = read_token(token_file)
    if token is None and not allow_open_writes:
        print("sortai serve: refusing to start: writes would be open to anyone. Set a token "
              "(SORTAI_TOKEN=… or --token-file FILE), or pass --allow-open-writes for local use on a loopback "
              "address.", file=sys.stderr)
        raise SystemExit(2)
    if token is None and allow_open_writes and not _is_loopback(host):
        print(f"sortai serve: refusing to start: --allow-open-writes is for local use only, but --host {host} "
              "is not a loopback address. Configure a token instead.", file=sys.stderr)
        raise SystemExit(2)
    if token is not None and len(token) < 16:
        print("sortai serve: refusing to start: the token must be at least 16 characters.", file=sys.stderr)
        raise SystemExit(2)
    settings = Settings.from_env(Path(data_dir), token, allow_open_writes)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level=os.environ.get("SORTAI_LOG_LEVEL", "info"),
                timeout_graceful_shutdown=10, server_header=False, proxy_headers=False)


def _main() -> None:  # python -m sortai.api.server --port N --data-dir DIR [--allow-open-writes] [--token-file F]
    import argparse

    parser = argparse.ArgumentParser(prog="python -m sortai.api.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data-dir", type=Path, default=Path("./sortai-data"))
    parser.add_argument("--allow-open-writes", action="store_true")
    parser.add_argument("--token-file", type=Path)
    args = parser.parse_args()
    run_server(args.host, args.port, args.data_dir, args.allow_open_writes, args.token_file)


if __name__ == "__main__":
    _main()
