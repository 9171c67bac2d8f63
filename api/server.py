"""The SORT-AI HTTP service: REST API for descriptions, diagnoses and explanations, and a SPARQL 1.1 endpoint.

``create_app`` assembles the routers (``api/routers/``, one per concern) and the HTTP layer; ``run_server``
(``sortai serve``) checks the settings and runs it under uvicorn. See api/README.md for the endpoints, the
limits and the design.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware.gzip import GZipMiddleware

from . import errors
from .middleware import BodyLimit, ConditionalGet, CrossOrigin, HeadAsGet
from .routers import descriptions, diagnoses, diff, docs, ontology, service, sparql, ui
from .settings import SettingError, Settings
from .state import Service

log = logging.getLogger("sortai.api")

ROUTERS = (service.router, descriptions.router, diagnoses.router, diff.router, sparql.router, ontology.router,
           docs.router, ui.router)
VERSION = "0.1.0"


def _operation_id(route: APIRoute) -> str:
    """Operation ids are the handlers' names: ``list_descriptions``, ``sparql_post``, …"""
    return route.name


def create_app(settings: Settings) -> FastAPI:
    svc = Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await svc.open()
        try:
            yield
        finally:
            await svc.close()

    app = FastAPI(
        title="SORT-AI API",
        version=VERSION,
        summary="Diagnose structural instability in heterogeneous AI inference fleets over HTTP.",
        description=(
            "Upload architecture descriptions (YAML, JSON, JSON-LD, Turtle, N-Triples, RDF/XML); each is stored "
            "as named graphs, validated against the SHACL shapes and reasoned over. Read diagnoses and their "
            "explanations, and query everything with the SPARQL 1.1 Protocol at `/sparql`. Writes need "
            "`Authorization: Bearer <token>` (the **Authorize** button). Every error is JSON: "
            "`{\"error\": code, \"message\": text}`."),
        lifespan=lifespan,
        docs_url=None, redoc_url=None,  # served from local assets by the docs router
        generate_unique_id_function=_operation_id,
        openapi_tags=[{"name": "descriptions", "description": "stored descriptions and their graphs"},
                      {"name": "diagnoses", "description": "validation, diagnoses, explanations"},
                      {"name": "sparql", "description": "SPARQL 1.1 Protocol (query only)"},
                      {"name": "ontology", "description": "the ontology and the JSON-LD context"},
                      {"name": "service", "description": "liveness and index"}],
    )
    app.state.service = svc
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    # Outermost last: HEAD→GET, CORS, gzip, ETag/304, then the body limit nearest to the handlers.
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, timeout=settings.body_timeout)
    app.add_middleware(ConditionalGet)
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    app.add_middleware(CrossOrigin, read_origins=settings.cors_read_origins,
                       write_origins=settings.cors_write_origins)
    app.add_middleware(HeadAsGet)
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


def _refuse(message: str) -> None:
    print(f"sortai serve: refusing to start: {message}", file=sys.stderr)
    raise SystemExit(2)


def run_server(host: str, port: int, data_dir: Path, allow_open_writes: bool, token_file: Path | None = None) -> None:
    """Run the service; refuses (exit status 2) to start with writes open unless ``allow_open_writes``, and with
    any setting out of its range."""
    import uvicorn

    from .connections import BACKLOG, default_max_connections, protocol

    token = read_token(token_file)
    if token is None and not allow_open_writes:
        _refuse("writes would be open to anyone. Set a token (SORTAI_TOKEN=… or --token-file FILE), or pass "
                "--allow-open-writes for local use on a loopback address.")
    if token is None and allow_open_writes and not _is_loopback(host):
        _refuse(f"--allow-open-writes is for local use only, but --host {host} is not a loopback address. "
                "Configure a token instead.")
    if token is not None and len(token) < 16:
        _refuse("the token must be at least 16 characters.")
    try:
        settings = Settings.from_env(Path(data_dir), token, allow_open_writes)
    except SettingError as exc:
        print(exc.code, file=sys.stderr)
        raise SystemExit(2) from None
    max_connections = settings.max_connections or default_max_connections()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level, http=protocol(settings.idle_timeout,
                                                                                        max_connections),
                timeout_keep_alive=max(1, int(settings.idle_timeout)), backlog=BACKLOG,
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
