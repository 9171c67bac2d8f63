"""The HTTP layer around the routers: pure ASGI middleware for what Starlette has no piece of.

Starlette's own ``CORSMiddleware`` and ``GZipMiddleware`` do CORS and compression (see ``create_app``);
what is here:

* :class:`HeadAsGet` — HEAD on every GET route (uvicorn drops the body of a HEAD response itself);
* :class:`BodyLimit` — the body size and body-read deadline, enforced while the body streams, so that a
  handler that refuses early (a missing token) never reads it at all;
* :class:`ConditionalGet` — a weak ``ETag`` on every 200 GET answer and ``304 Not Modified`` for
  ``If-None-Match``;
* :class:`CrossOrigin` — reads open to any origin, writes to the configured ones: two Starlette
  ``CORSMiddleware`` policies, chosen by what the request (or its preflight) would do.
"""

from __future__ import annotations

import asyncio
import hashlib

from starlette.middleware.cors import CORSMiddleware

from .errors import APIError, error_response

Scope = dict


class HeadAsGet:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "HEAD":
            scope = dict(scope, method="GET")
        await self.app(scope, receive, send)


class BodyLimit:
    """413 past ``limit`` bytes (told by Content-Length, or counted while streaming); 408 past ``timeout`` s."""

    def __init__(self, app, limit: int, timeout: float):
        self.app, self.limit, self.timeout = app, limit, timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.limit
            except ValueError:
                return await error_response(400, "bad-request", "invalid Content-Length",
                                            headers={"Connection": "close"})(scope, receive, send)
            if too_large:
                return await self.too_large()(scope, receive, send)
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        size = 0

        async def limited():
            nonlocal deadline, size
            if deadline is None:
                deadline = loop.time() + self.timeout
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                raise APIError(408, "body-timeout", f"the request body did not arrive within {self.timeout:g} s",
                               headers={"Connection": "close"}) from None
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.limit:
                    raise APIError(413, "too-large", self._too_large_text(), headers={"Connection": "close"})
            return message

        return await self.app(scope, limited, send)

    def _too_large_text(self) -> str:
        return f"the request body is larger than the limit of {self.limit} bytes"

    def too_large(self):
        return error_response(413, "too-large", self._too_large_text(), headers={"Connection": "close"})


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2): W/"x" and "x" match."""
    tag = etag.removeprefix("W/")
    return any(candidate.strip() == "*" or candidate.strip().removeprefix("W/") == tag
               for candidate in if_none_match.split(","))


_KEPT_ON_304 = (b"etag", b"vary", b"cache-control", b"content-location", b"expires")


class ConditionalGet:
    """ETag + 304 for GET. Bodies up to ``buffer`` bytes are hashed here; larger ones bring their own ETag
    (computed in the worker that made them), and without one they pass through untouched."""

    def __init__(self, app, buffer: int = 1024 * 1024):
        self.app, self.buffer = app, buffer

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        if_none_match = dict(scope.get("headers") or []).get(b"if-none-match", b"").decode("latin-1")
        start: dict | None = None
        parts: list[bytes] = []
        size = 0
        mode = "decide"  # then "pass" (send as it comes) or "drop" (a 304 was sent: swallow the body)

        async def not_modified(headers):
            kept = [(k, v) for k, v in headers if k.lower() in _KEPT_ON_304]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})

        async def respond(message):
            nonlocal start, size, mode
            if mode == "pass":
                return await send(message)
            if mode == "drop":
                return
            if message["type"] == "http.response.start":
                start = message
                etag = next((v.decode("latin-1") for k, v in message["headers"] if k.lower() == b"etag"), None)
                if message["status"] != 200 or etag is not None:
                    if message["status"] == 200 and if_none_match and _etag_matches(if_none_match, etag):
                        mode = "drop"
                        return await not_modified(message["headers"])
                    mode = "pass"
                    return await send(message)
                return  # no ETag yet: hold the start until the body is known
            if message["type"] != "http.response.body":
                return await send(message)
            parts.append(message.get("body", b""))
            size += len(parts[-1])
            more = message.get("more_body", False)
            if more and size <= self.buffer:
                return
            body = b"".join(parts)
            if more:  # too big to hash here and nobody gave an ETag: stream on unchanged
                mode = "pass"
                await send(start)
                return await send({"type": "http.response.body", "body": body, "more_body": True})
            etag = 'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
            headers = [*start["headers"], (b"etag", etag.encode("latin-1"))]
            if if_none_match and _etag_matches(if_none_match, etag):
                mode = "drop"
                return await not_modified(headers)
            mode = "pass"
            await send(dict(start, headers=headers))
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, respond)


def is_read(method: str, path: str) -> bool:
    """Reads: every GET/HEAD, and POST /sparql (the SPARQL Protocol's query by POST)."""
    return method in ("GET", "HEAD") or (method == "POST" and path == "/sparql")


class CrossOrigin:
    """CORS: reads from any of ``read_origins`` (``*`` by default, as Fuseki and Oxigraph), writes only from
    ``write_origins``. A preflight is judged by the method it announces."""

    def __init__(self, app, read_origins: tuple[str, ...], write_origins: tuple[str, ...]):
        expose = ["ETag", "Location", "Retry-After", "WWW-Authenticate", "Content-Disposition"]
        self.app = app
        self.reads = CORSMiddleware(app, allow_origins=list(read_origins), allow_methods=["GET", "HEAD", "POST"],
                                    allow_headers=["Accept", "Content-Type", "If-None-Match"],
                                    expose_headers=expose, max_age=600)
        self.writes = CORSMiddleware(app, allow_origins=list(write_origins),
                                     allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE"],
                                     allow_headers=["Accept", "Content-Type", "Authorization", "If-None-Match"],
                                     expose_headers=expose, max_age=600)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method = scope["method"]
        if method == "OPTIONS":
            announced = dict(scope.get("headers") or []).get(b"access-control-request-method")
            if announced:
                method = announced.decode("latin-1").strip().upper()
        policy = self.reads if is_read(method, scope["path"]) else self.writes
        await policy(scope, receive, send)
