"""HTTP content negotiation (Accept header with q-values) and the media types the service speaks."""

from __future__ import annotations

# SPARQL results (SELECT / ASK): short name -> media types (the first is the one answered)
RESULT_MEDIA = {
    "json": ["application/sparql-results+json", "application/json", "text/javascript", "application/javascript"],
    "xml": ["application/sparql-results+xml", "application/xml", "text/xml"],
    "csv": ["text/csv"],
    "tsv": ["text/tab-separated-values"],
}
# RDF graphs (CONSTRUCT / DESCRIBE, ontology, description graphs)
GRAPH_MEDIA = {
    "ttl": ["text/turtle", "application/turtle", "application/x-turtle"],
    "nt": ["application/n-triples"],
    "jsonld": ["application/ld+json"],
    "rdfxml": ["application/rdf+xml"],
}
FORMAT_ALIASES = {
    "json": "json", "srj": "json", "xml": "xml", "srx": "xml", "csv": "csv", "tsv": "tsv",
    "ttl": "ttl", "turtle": "ttl", "nt": "nt", "ntriples": "nt", "n-triples": "nt",
    "jsonld": "jsonld", "json-ld": "jsonld", "rdfxml": "rdfxml", "rdf": "rdfxml", "xml-rdf": "rdfxml",
}


def parse_accept(header: str | None) -> list[tuple[str, float]]:
    if not header:
        return [("*/*", 1.0)]
    out = []
    for index, part in enumerate(header.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        q = 1.0
        for param in pieces[1:]:
            if param.lower().startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        out.append((media, q))
    return out or [("*/*", 1.0)]


def _matches(pattern: str, media: str) -> bool:
    if pattern in ("*/*", "*"):
        return True
    if pattern.endswith("/*"):
        return media.split("/", 1)[0] == pattern[:-2]
    return pattern == media


def choose(header: str | None, offers: dict[str, list[str]]) -> tuple[str, str] | None:
    """Best (short name, media type) for an Accept header among ``offers`` (in preference order); None = 406."""
    accepted = parse_accept(header)
    best: tuple[float, int, int, str, str] | None = None
    order = 0
    for name, medias in offers.items():
        for rank, media in enumerate(medias):
            order += 1
            q, specificity = 0.0, -1
            for pattern, weight in accepted:
                spec = 2 if pattern == media else (1 if pattern.endswith("/*") and pattern != "*/*" else 0)
                if _matches(pattern, media) and (spec > specificity or (spec == specificity and weight > q)):
                    q, specificity = weight, spec
            if q <= 0:
                continue
            # prefer: higher q, then an explicitly named type over a wildcard, then our order
            key = (q, specificity, -order, name, media)
            if best is None or key[:3] > best[:3]:
                best = key
    if best is None:
        return None
    return best[3], offers[best[3]][0]  # always answer the canonical media type of the chosen format
