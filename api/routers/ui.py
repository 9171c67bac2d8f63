"""The web page: server-rendered HTML over the same service, with a little JavaScript for writes.

| path | page |
|---|---|
| ``/`` (a browser's Accept) | add a description (paste or file; check or store), the stored ones, compare two |
| ``/ui/descriptions/{id}`` | its diagnoses ranked, its validation problems against its source lines |
| ``/ui/descriptions/{id}/explanations/{diagnosis}`` | one explanation as a proof graph (Graphviz) and a tree |
| ``/ui/compare?before=&after=`` | diagnoses gained, lost and changed between two stored descriptions |
| ``/ui/sparql`` | YASGUI (vendored, ``api/ui/static/vendor/yasgui``) on ``/sparql`` |

Templates and static files are in ``api/ui/`` (its README says how the editor was obtained). Every value is
escaped by Jinja2's autoescape; pages load nothing but their own origin's files (a Content-Security-Policy
says so to the browser); writes go through the REST API with the bearer token the user entered in the page,
sent as a header and never put in a URL.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from .. import comparison, explanation_graph
from ..errors import APIError, error_doc
from ..negotiation import choose
from ..state import ServiceDep
from ..uploads import FilenameParam, FormatParam, IdPath, default_source, read_upload
from .descriptions import summary
from .diagnoses import DiagnosisPath, diagnose_unstored, diagnosis_or_404, explanation

router = APIRouter(include_in_schema=False)
UI = Path(__file__).resolve().parents[1] / "ui"
STATIC_URL = "/ui/static"
MEDIA = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".txt": "text/plain; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml", "": "text/plain"}
# Nothing from another origin: scripts, styles, images, fonts and fetches are the page's own. YASGUI sets
# inline style attributes, hence 'unsafe-inline' for styles (never for scripts).
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
               "form-action 'self'; frame-ancestors 'none'")
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
PAGE_HEADERS = {"Content-Security-Policy": PAGE_POLICY, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}
FULL_SOURCE_LINES = 3000  # longer sources show the lines around each problem
CONTEXT_LINES = 3
_RENDERS = asyncio.Semaphore(2)  # Graphviz processes at once

templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.FileSystemLoader(UI / "templates"),
                                                   autoescape=True,
                                                   trim_blocks=True, lstrip_blocks=True))


def _static_files() -> dict[str, Path]:
    root = UI / "static"
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}


STATIC = _static_files()


def page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    svc = request.app.state.service
    context.update(writes="token" if svc.settings.token else ("open" if svc.settings.allow_open_writes else "off"),
                   static=STATIC_URL, version=request.app.version)
    return templates.TemplateResponse(request, template, context, status_code=status, headers=PAGE_HEADERS)


# --- views ------------------------------------------------------------------------------------------------


def severity_class(d: dict) -> str:
    """``Critical severity`` → ``critical`` (the badge's CSS class)."""
    return d.get("severity", "").split(" ", 1)[0].lower() or "unknown"


def headline(d: dict) -> str:
    """The reasoner's one-line headline when it gives one; else mode label and component."""
    return d.get("headline") or f"{d['mode_label']} on {d['component']}"


def annotated_source(text: str, problems: list[dict], filename: str | None) -> dict:
    """The source as numbered lines with each problem under its line. A long source shows only the lines
    around problems (the gaps are counted); problems with no line of this file are listed apart."""
    lines = text.splitlines()
    at: dict[int, list[dict]] = defaultdict(list)
    apart = []
    for problem in problems:
        location = problem.get("location") or {}
        line = location.get("line")
        same_file = not filename or not location.get("file") or location.get("file") == filename
        if isinstance(line, int) and 1 <= line <= max(len(lines), 1) and same_file:
            at[line].append(problem)
        else:
            apart.append(problem)
    if len(lines) <= FULL_SOURCE_LINES:
        shown = range(1, len(lines) + 1)
    else:
        shown = sorted({n for line in at for n in range(line - CONTEXT_LINES, line + CONTEXT_LINES + 1)
                        if 1 <= n <= len(lines)})
    rows, previous = [], 0
    for n in shown:
        if n > previous + 1:
            rows.append({"gap": n - previous - 1})
        rows.append({"number": n, "text": lines[n - 1], "problems": at.get(n, [])})
        previous = n
    if previous < len(lines):
        rows.append({"gap": len(lines) - previous})
    return {"rows": rows, "apart": apart, "lines": len(lines), "excerpt": len(lines) > FULL_SOURCE_LINES}


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _records(svc) -> list[dict]:
    return [summary(r) for r in (svc.repo.record(i) for i in svc.repo.ids()) if r]


templates.env.globals.update(severity_class=severity_class, headline=headline)


# --- pages ------------------------------------------------------------------------------------------------

INDEX = {"descriptions": "/descriptions", "diagnose": "/diagnose", "sparql": "/sparql", "ontology": "/ontology",
         "openapi": "/openapi.json", "docs": "/docs", "redoc": "/redoc", "health": "/health"}
_INDEX_MEDIA = {"json": ["application/json"], "html": ["text/html", "application/xhtml+xml"]}


@router.get("/", include_in_schema=True, tags=["service"], response_model=dict[str, str],
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}},
                             "description": "where things are (JSON), or the web page for a browser (HTML)"},
                       **error_doc(500)})
async def index(request: Request, svc: ServiceDep):
    """Where things are, as JSON; a browser (which prefers `text/html`) gets the web page."""
    chosen = choose(request.headers.get("accept"), _INDEX_MEDIA)
    if chosen is None or chosen[0] == "json":
        return JSONResponse(INDEX, headers={"Vary": "Accept"})
    response = page(request, "home.html", descriptions=_records(svc))
    response.headers["Vary"] = "Accept"
    return response


@router.get("/ui/descriptions/{description_id}")
async def description_page(request: Request, svc: ServiceDep, description_id: str = IdPath):
    record = svc.record_or_404(description_id)
    data = await asyncio.to_thread(svc.repo.source, description_id)
    if data is None:
        raise APIError(404, "not-found", f"no description '{description_id}'")
    source = annotated_source(_decode(data), record["validation"].get("problems", []), record["filename"])
    return page(request, "description.html", record=record, source=source)


@router.post("/ui/check")
async def check(request: Request, svc: ServiceDep, format: str | None = FormatParam,
                filename: str | None = FilenameParam):
    """The page's "Check": validate and diagnose the body without storing it; an HTML fragment with the
    problems against the lines. Same cross-site guard and worker as ``POST /diagnose``."""
    data, fmt = await read_upload(request, format, filename)
    name = default_source(fmt, None, filename)
    try:
        result = await diagnose_unstored(svc, data, fmt, filename)
    except APIError as exc:
        if not exc.problems:  # not a problem of the input's content (size, time, format): the JSON error
            raise
        result = {"name": None, "conforms": False, "diagnosed": False, "unreadable": exc.message,
                  "validation": {"problems": exc.problems}, "diagnoses": []}
    source = annotated_source(_decode(data), result["validation"].get("problems", []), name)
    return page(request, "_check.html", result=result, source=source, filename=name)


@router.get("/ui/descriptions/{description_id}/explanations/{diagnosis_id:path}")
async def explanation_page(request: Request, svc: ServiceDep, description_id: str = IdPath,
                           diagnosis_id: str = DiagnosisPath):
    record = svc.record_or_404(description_id)
    diagnosis = diagnosis_or_404(record, description_id, diagnosis_id)
    rendered = await explanation(svc, record, description_id, diagnosis_id)
    return page(request, "explanation.html", record=record, diagnosis=diagnosis, tree=rendered["json"],
                graphviz=explanation_graph.graphviz_available())


@router.get("/ui/descriptions/{description_id}/explanation-graphs/{diagnosis_id:path}")
async def explanation_svg(svc: ServiceDep, description_id: str = IdPath, diagnosis_id: str = DiagnosisPath):
    """The proof graph of one explanation as SVG (shown by the explanation page as an image)."""
    record = svc.record_or_404(description_id)
    diagnosis_or_404(record, description_id, diagnosis_id)
    if not explanation_graph.graphviz_available():
        raise APIError(503, "unavailable", "Graphviz (dot) is not installed on the server; the explanation "
                       "page shows the tree")
    rendered = await explanation(svc, record, description_id, diagnosis_id)
    try:
        source = explanation_graph.proof_graph(rendered["json"])
    except explanation_graph.GraphTooLarge as exc:
        raise APIError(413, "too-large", str(exc)) from None
    async with _RENDERS:
        try:
            svg = await explanation_graph.render_svg(source)
        except TimeoutError:
            raise APIError(503, "timeout", "Graphviz did not lay the graph out in time; read the tree",
                           headers={"Retry-After": "5"}) from None
    return Response(svg, media_type="image/svg+xml",
                    headers={"Content-Security-Policy": SVG_POLICY, "X-Content-Type-Options": "nosniff"})


@router.get("/ui/compare")
async def compare_page(request: Request, svc: ServiceDep,
                       before: str | None = Query(None, max_length=64), after: str | None = Query(None, max_length=64)):
    records = _records(svc)
    result = first = second = None
    if before and after:
        first, second = svc.record_or_404(before), svc.record_or_404(after)
        result = comparison.compare(first["diagnoses"], second["diagnoses"])
    return page(request, "compare.html", descriptions=records, before=before, after=after, first=first,
                second=second, result=result)


@router.get("/ui/sparql")
async def sparql_page(request: Request):
    return page(request, "sparql.html", yasgui_version=(UI / "static/vendor/yasgui/VERSION").read_text().strip())


@router.get(STATIC_URL + "/{name:path}")
async def static(name: str) -> FileResponse:
    path = STATIC.get(name)
    if path is None:
        raise APIError(404, "not-found", f"no web page asset '{name}'")
    vendored = name.startswith("vendor/")
    return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"),
                        headers={"Cache-Control": "public, max-age=86400" if vendored else "no-cache",
                                 "X-Content-Type-Options": "nosniff"})

