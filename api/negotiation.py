"""HTTP content negotiation and the media types the service speaks.

The Accept header is parsed by python-mimeparse (q-values, the most specific range decides a type's q, so
``text/turtle;q=0, */*`` means "anything but Turtle"). When nothing the client lists is available, the
answer is the default format, as Fuseki and RFC 9110 §12.5.1 allow, instead of a 406 — unless the client
excluded every format with q=0.
"""

from __future__ import annotations

import mimeparse
from fastapi import Request

from .errors import APIError

# SPARQL results (SELECT / ASK): short name -> media types (the first is the one answered)
RESULT_MEDIA = {
    "json": ["application/sparql-results+json", "application/json", "text/javascript", "application/javascript"],
    "xml": ["application/sparql-results+xml", "application/xml", "text/xml"],
    "csv": ["text/csv"],
    "tsv": ["text/tab-separated-values"],
}
# RDF graphs (CONSTRUCT / DESCRIBE, ontology, description graphs). N-Triples was text/plain before RDF 1.1,
# and Jena still reads text/plain as N-Triples.
GRAPH_MEDIA = {
    "ttl": ["text/turtle", "application/turtle", "application/x-turtle"],
    "nt": ["application/n-triples", "text/plain"],
    "jsonld": ["application/ld+json"],
    "rdfxml": ["application/rdf+xml"],
}
# The ontology: RDF/XML first, because OWL tools (owlready2, the OWL API) expect it when they state nothing.
ONTOLOGY_MEDIA = {"rdfxml": GRAPH_MEDIA["rdfxml"] + ["application/owl+xml", "application/xml", "text/xml"],
                  **{k: v for k, v in GRAPH_MEDIA.items() if k != "rdfxml"}}
FORMAT_ALIASES = {
    "json": "json", "srj": "json", "xml": "xml", "srx": "xml", "csv": "csv", "tsv": "tsv",
    "ttl": "ttl", "turtle": "ttl", "nt": "nt", "ntriples": "nt", "n-triples": "nt",
    "jsonld": "jsonld", "json-ld": "jsonld", "rdfxml": "rdfxml", "rdf": "rdfxml", "xml-rdf": "rdfxml",
    "owl": "rdfxml",
}


def _ranges(header: str | None) -> list[tuple[str, str, dict]]:
    """The header's media ranges, parsed; malformed ranges are skipped (as if absent)."""
    out = []
    for part in (header or "").split(","):
        if not part.strip():
            continue
        try:
            out.append(mimeparse.parse_media_range(part))
        except (ValueError, mimeparse.MimeTypeParseException):
            continue
    return out


def choose(header: str | None, offers: dict[str, list[str]]) -> tuple[str, str] | None:
    """(short name, media type) for an Accept header; None only if the client refused every format (q=0)."""
    ranges = _ranges(header)
    if not ranges:
        ranges = [("*", "*", {"q": "1"})]
    best, refused = None, set()
    for name, medias in offers.items():
        # A format's q is that of its most specifically matched media type: `application/sparql-results+json;q=0,
        # */*` refuses JSON even though its alias application/json matches `*/*`.
        matches = [mimeparse.quality_and_fitness_parsed(media, ranges) for media in medias]
        fitness = max(f for _, f in matches)
        if fitness < 0:
            continue
        q = max(q for q, f in matches if f == fitness)
        if q <= 0:
            refused.add(name)
        elif best is None or q > best[0]:
            best = (q, name)
    if best is not None:
        return best[1], offers[best[1]][0]
    for name in offers:  # nothing listed is available: the default, unless the client said "not this"
        if name not in refused:
            return name, offers[name][0]
    return None


def pick(accept: str | None, format: str | None, offers: dict[str, list[str]]) -> tuple[str, str] | None:
    """(short name, media type) from a ``format`` parameter if it names an offer, else from the Accept header."""
    if format:
        name = FORMAT_ALIASES.get(format.lower(), format.lower())
        if name in offers:
            return name, offers[name][0]
    return choose(accept, offers)


def negotiate(request: Request, format: str | None, offers: dict[str, list[str]], what: str) -> tuple[str, str]:
    """:func:`pick` for a request; 406 if the client refused every format."""
    picked = pick(request.headers.get("accept"), format, offers)
    if picked is None:
        raise APIError(406, "not-acceptable", f"{what} available as " + ", ".join(m[0] for m in offers.values()))
    return picked


def with_charset(media: str) -> str:
    if media.startswith("text/") or media.endswith("json") or media.endswith("xml"):
        return media + "; charset=utf-8"
    return media
