"""The SPARQL 1.1 Protocol endpoint (query only) and its SPARQL 1.1 Service Description.

The handlers only move bytes: decoding a form, parsing and checking the query, negotiating the format,
evaluating and serializing all happen in a SPARQL worker process, under the query deadline and the worker
memory ceiling, so no query can hold the event loop.
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from .. import examples
from ..errors import APIError, error_doc
from ..negotiation import GRAPH_MEDIA, RESULT_MEDIA, negotiate, with_charset
from ..state import Service, ServiceDep
from ..uploads import content_type

log = logging.getLogger("sortai.api")
router = APIRouter(tags=["sparql"])

SPARQL_RESPONSES = {
    200: {"description": "SELECT/ASK results (JSON, XML, CSV, TSV) or CONSTRUCT/DESCRIBE graph (Turtle, "
                         "N-Triples, JSON-LD, RDF/XML), chosen by Accept; without a query, the Service Description",
          "content": {m[0]: {"schema": examples.schema_for(m[0])}
                      for m in (*RESULT_MEDIA.values(), *GRAPH_MEDIA.values())}},
    **error_doc(400, 406, 408, 413, 415, 422, 500, 503),
}
SPARQL_RESPONSES[200]["content"]["application/sparql-results+json"]["example"] = examples.SELECT_RESULT


async def _answer(request: Request, svc: Service, format: str | None, **query) -> Response:
    started = time.perf_counter()
    async with svc.snapshot() as snapshot:
        result = await svc.run_job("sparql", "sparql", snapshot=snapshot, max_bytes=svc.settings.max_result_bytes,
                                   accept=request.headers.get("accept"), format=format, **query)
    log.info("sparql %s %s in %.3fs, %d bytes", result["form"], result["format"], time.perf_counter() - started,
             len(result["body"]))
    return Response(result["body"], media_type=with_charset(result["media"]),
                    headers={"ETag": result["etag"], "Vary": "Accept"})


def _refuse_update() -> None:
    raise APIError(400, "update-refused", "SPARQL Update is refused: this endpoint is read-only")


@router.get("/sparql", responses=SPARQL_RESPONSES)
async def sparql_get(
    request: Request, svc: ServiceDep,
    query: str | None = Query(None, description="SPARQL 1.1 query (SELECT, ASK, CONSTRUCT, DESCRIBE); without "
                              "it, the SPARQL 1.1 Service Description of the endpoint",
                              examples=[examples.SELECT_QUERY]),
    default_graph_uri: list[str] = Query([], alias="default-graph-uri"),
    named_graph_uri: list[str] = Query([], alias="named-graph-uri"),
    format: str | None = Query(None, description="result format if Accept cannot be set (json, xml, csv, tsv, "
                               "ttl, nt, jsonld, rdfxml)"),
    update: str | None = Query(None, description="refused: the endpoint is read-only"),
):
    """SPARQL 1.1 Protocol query via GET. Default graph: the union of all descriptions' asserted and inferred
    graphs, the ontology and the catalog; each is also a named graph. Without `query`: the Service Description."""
    if update is not None:
        _refuse_update()
    if query is None and not default_graph_uri and not named_graph_uri:
        return service_description(request, svc, format)
    return await _answer(request, svc, format, query=query, default_graph_uris=tuple(default_graph_uri),
                         named_graph_uris=tuple(named_graph_uri))


@router.post("/sparql", responses=SPARQL_RESPONSES, openapi_extra=examples.SPARQL_POST_BODY)
async def sparql_post(request: Request, svc: ServiceDep,
                      default_graph_uri: list[str] = Query([], alias="default-graph-uri"),
                      named_graph_uri: list[str] = Query([], alias="named-graph-uri"),
                      format: str | None = Query(None)):
    """SPARQL 1.1 Protocol query via POST (form-encoded or application/sparql-query). Updates are refused."""
    media = content_type(request)
    if media == "application/sparql-update":
        _refuse_update()
    if media not in ("application/sparql-query", "application/x-www-form-urlencoded"):
        raise APIError(415, "unsupported-media-type", "POST a form (application/x-www-form-urlencoded) or "
                       "application/sparql-query")
    body = await request.body()
    graphs = {"default_graph_uris": tuple(default_graph_uri), "named_graph_uris": tuple(named_graph_uri)}
    if media == "application/sparql-query":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise APIError(400, "encoding", "the query is not UTF-8") from None
        return await _answer(request, svc, format, query=text, **graphs)
    return await _answer(request, svc, format, form=body, **graphs)


# --- SPARQL 1.1 Service Description (https://www.w3.org/TR/sparql11-service-description/) ----------------

SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS_NS = "http://www.w3.org/ns/formats/"
_RESULT_FORMATS = ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                   "Turtle", "N-Triples", "JSON-LD", "RDF_XML")


def service_description(request: Request, svc: Service, format: str | None) -> Response:
    """Where the endpoint is, what it speaks, and its default dataset (the public graphs), as RDF."""
    import pyoxigraph as ox

    from ..jobs import GRAPH_FORMATS, PREFIXES
    from ..repository import public_graphs

    name, media = negotiate(request, format, GRAPH_MEDIA, "the service description is")
    endpoint = ox.NamedNode(str(request.url.replace(query="", fragment="")))
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    service, dataset, default = ox.BlankNode("service"), ox.BlankNode("dataset"), ox.BlankNode("default")

    def sd(local: str) -> ox.NamedNode:
        return ox.NamedNode(SD + local)

    triples = [ox.Triple(service, rdf_type, sd("Service")), ox.Triple(service, sd("endpoint"), endpoint),
               ox.Triple(service, sd("supportedLanguage"), sd("SPARQL11Query")),
               ox.Triple(service, sd("feature"), sd("UnionDefaultGraph")),
               ox.Triple(service, sd("defaultDataset"), dataset), ox.Triple(dataset, rdf_type, sd("Dataset")),
               ox.Triple(dataset, sd("defaultGraph"), default), ox.Triple(default, rdf_type, sd("Graph"))]
    triples += [ox.Triple(service, sd("resultFormat"), ox.NamedNode(FORMATS_NS + f)) for f in _RESULT_FORMATS]
    for index, iri in enumerate(public_graphs(svc.repo)):
        named = ox.BlankNode(f"g{index}")
        triples += [ox.Triple(dataset, sd("namedGraph"), named), ox.Triple(named, rdf_type, sd("NamedGraph")),
                    ox.Triple(named, sd("name"), ox.NamedNode(iri))]
    prefixes = dict(PREFIXES, sd=SD, formats=FORMATS_NS) if name in ("ttl", "rdfxml") else None
    body = ox.serialize(triples, format=GRAPH_FORMATS[name], prefixes=prefixes)
    return Response(body, media_type=with_charset(media), headers={"Vary": "Accept"})
