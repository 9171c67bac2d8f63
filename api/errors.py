"""Every error the service answers is JSON: ``{"error": code, "message": text}`` (plus ``problems`` for input).

:class:`APIError` is raised anywhere; :func:`install` registers the handlers that turn it, Starlette's HTTP
errors, request-validation errors and unexpected exceptions (traceback to the log only) into that shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from . import models

log = logging.getLogger("sortai.api")

HTTP_CODES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
              405: "method-not-allowed", 406: "not-acceptable", 408: "body-timeout", 409: "conflict",
              413: "too-large", 415: "unsupported-media-type", 422: "invalid-request", 503: "unavailable"}


class APIError(Exception):
    def __init__(self, status: int, error: str, message: str, problems: list | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.error, self.message, self.problems, self.headers = status, error, message, problems, headers


def scrub(value):
    """Replace lone surrogates (from odd input echoed in messages) so that every answer encodes as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


def error_response(status: int, error: str, message: str, problems: list | None = None,
                   headers: dict | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "message": message}
    if problems:
        body["problems"] = problems
    return JSONResponse(scrub(body), status_code=status, headers=headers)


_TEXT = {400: "unreadable input or refused query", 401: "no bearer token", 403: "wrong bearer token",
         404: "no such resource", 406: "no acceptable representation", 408: "the request body came too slowly",
         409: "the id is taken", 413: "request body too large",
         415: "unknown upload format, or a content type any web page could send cross-site",
         422: "invalid parameters", 500: "internal error (details only in the server log)",
         503: "a time or memory limit was reached, or the service is busy"}


def error_doc(*codes: int) -> dict:
    """OpenAPI ``responses`` entries for these error statuses (all share the Error schema)."""
    return {c: {"model": models.Error, "description": _TEXT.get(c, "error")} for c in codes}


COMMON_ERRORS = error_doc(404, 422, 500)
WRITE_ERRORS = error_doc(400, 401, 403, 404, 408, 409, 413, 415, 422, 500, 503)


def _flatten(routes):
    """Routes, with those of included routers (FastAPI wraps them; their prefix is empty here) listed too."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flatten(inner.routes)
        else:
            yield route


def install(app: FastAPI) -> None:
    from .repository import StoreError

    @app.exception_handler(StoreError)
    async def _store_error(request: Request, exc: StoreError):
        log.error("the store cannot write: %s", exc)
        return error_response(503, "store-unavailable", f"the store cannot write ({exc}); nothing was changed. "
                              "Free disk space; the service recovers by itself", headers={"Retry-After": "10"})

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
            for route in _flatten(app.router.routes):
                if getattr(route, "methods", None) and route.matches(request.scope)[0] != Match.NONE:
                    allowed |= set(route.methods)
            if "GET" in allowed:
                allowed.add("HEAD")
            headers = {"Allow": ", ".join(sorted(allowed))}
        return error_response(exc.status_code, HTTP_CODES.get(exc.status_code, "error"), message, headers=headers)

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
