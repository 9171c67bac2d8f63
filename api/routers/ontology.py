"""The ontology by URL, as OWL tools expect it.

``/ontology`` is the whole ontology in one document: every module and the catalog merged under the top
ontology's IRI and version IRI, without ``owl:imports`` (nothing left to fetch), so that owlready2, the OWL
API or Protégé opening the URL get one consistent ontology. Every module IRI and version IRI dereferences
too: ``https://w3id.org/sortai/ontology/framework`` is ``/ontology/framework``, its version IRI
``…/ontology/0.1.0/framework`` is ``/ontology/0.1.0/framework``; a module document is the module as shipped
(its imports intact).

The format is negotiated; without a stated preference (no Accept, or ``*/*``) it is RDF/XML, which is what
OWL tools read when they send no Accept header. A suffix (``.owl``, ``.rdf``, ``.ttl``, ``.nt``,
``.jsonld``) or ``?format=`` chooses one explicitly.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from functools import cache

import pyoxigraph as ox
from fastapi import APIRouter, Path as PathParam, Query, Request
from fastapi.responses import Response

from .. import examples
from ..errors import APIError, error_doc
from ..negotiation import ONTOLOGY_MEDIA, negotiate, with_charset

router = APIRouter(tags=["ontology"])

OWL = "http://www.w3.org/2002/07/owl#"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
OWL_ONTOLOGY = ox.NamedNode(OWL + "Ontology")
OWL_IMPORTS = ox.NamedNode(OWL + "imports")
OWL_VERSION_IRI = ox.NamedNode(OWL + "versionIRI")
SUFFIXES = {".owl": "rdfxml", ".rdf": "rdfxml", ".ttl": "ttl", ".nt": "nt", ".jsonld": "jsonld"}
FORMAT_PATTERN = "^(ttl|turtle|nt|ntriples|jsonld|json-ld|rdfxml|rdf|owl)$"
SUFFIX_OF = {"rdfxml": ".rdf", "ttl": ".ttl", "nt": ".nt", "jsonld": ".jsonld"}


@dataclass(frozen=True)
class Document:
    """One dereferenceable ontology document: the merged ontology, or one module as shipped."""

    path: str  # below /ontology: "" for the merged ontology, "framework", "0.1.0/framework", …
    iri: str
    file: str | None  # the shipped Turtle file of a module; None for the merged ontology


def _header(path) -> tuple[str, str | None]:
    """(ontology IRI, version IRI) of a shipped module, read from the file itself."""
    triples = list(ox.parse(path.read_bytes(), format=ox.RdfFormat.TURTLE))
    iri = next(t.subject.value for t in triples if t.predicate == RDF_TYPE and t.object == OWL_ONTOLOGY)
    version = next((t.object.value for t in triples if t.subject.value == iri and t.predicate == OWL_VERSION_IRI),
                   None)
    return iri, version


@cache
def documents() -> dict[str, Document]:
    """Every path below /ontology that names a document: module and version IRIs, and the file names."""
    from sortai.reasoner import resources

    top = resources.ONTOLOGY_IRI
    out: dict[str, Document] = {}
    for file in (*resources.ONTOLOGY_MODULES, *resources.CATALOG_MODULES):
        iri, version = _header(resources.ontology_dir() / file)
        merged = iri == top
        document = Document("" if merged else iri.removeprefix(top + "/"), iri, None if merged else file)
        for name in (iri, version):
            if name and (name == top or name.startswith(top + "/")):
                out[name.removeprefix(top).lstrip("/")] = document
        if not merged:
            out[file.removesuffix(".ttl")] = document  # the file's own name, e.g. sortai-framework
    return out


@cache
def merged_triples() -> tuple[ox.Triple, ...]:
    """All modules and the catalog as one ontology: the top ontology's header, no module headers, no imports."""
    from sortai.reasoner import resources

    modules = {d.iri for d in documents().values() if d.file is not None}
    triples = [*resources.ontology_triples(), *resources.catalog_triples()]
    return tuple(t for t in triples if not (isinstance(t.subject, ox.NamedNode) and t.subject.value in modules)
                 and t.predicate != OWL_IMPORTS)


@cache
def rendering(path: str, fmt: str) -> tuple[bytes, str]:
    """(body, ETag) of a document in a format; computed once per process."""
    from sortai.reasoner import resources

    from ..jobs import GRAPH_FORMATS, PREFIXES

    document = documents()[path]
    if document.file is not None:
        data = (resources.ontology_dir() / document.file).read_bytes()
        if fmt == "ttl":
            body = data
        else:
            triples = ox.parse(data, format=ox.RdfFormat.TURTLE, base_iri=resources.ONTOLOGY_IRI)
            body = ox.serialize(triples, format=GRAPH_FORMATS[fmt],
                                prefixes=PREFIXES if fmt in ("ttl", "rdfxml") else None)
    else:
        body = ox.serialize(merged_triples(), format=GRAPH_FORMATS[fmt],
                            prefixes=PREFIXES if fmt in ("ttl", "rdfxml") else None)
    return body, 'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


RDF_DOC = {200: {"description": "the ontology document; RDF/XML unless Accept, a suffix or ?format= asks for "
                                "Turtle, N-Triples or JSON-LD",
                 "content": {m[0]: {"schema": examples.schema_for(m[0])} for m in ONTOLOGY_MEDIA.values()}},
           **error_doc(404, 422, 500)}


async def _serve(request: Request, path: str, format: str | None) -> Response:
    stem, suffix = path, None
    for ending, fmt in SUFFIXES.items():
        if path.endswith(ending) and path.removesuffix(ending) in documents():
            stem, suffix = path.removesuffix(ending), fmt
            break
    if stem not in documents():
        names = sorted(p for p in documents() if p and "/" not in p and not p[0].isdigit())
        raise APIError(404, "not-found", f"no ontology document '/ontology/{path}'; modules: {', '.join(names)} "
                       "(each also under its version, e.g. /ontology/0.1.0/framework; suffixes .owl .rdf .ttl .nt "
                       ".jsonld)")
    if suffix is not None:
        name, media = suffix, ONTOLOGY_MEDIA[suffix][0]
        headers = {}
    else:
        name, media = negotiate(request, format, ONTOLOGY_MEDIA, "the ontology is")
        base = "/ontology" + ("/" + stem if stem else "")
        headers = {"Vary": "Accept", "Content-Location": base + SUFFIX_OF[name]}
    body, etag = await asyncio.to_thread(rendering, stem, name)
    return Response(body, media_type=with_charset(media), headers={**headers, "ETag": etag})


@router.get("/ontology", responses=RDF_DOC)
async def ontology(request: Request, format: str | None = Query(None, pattern=FORMAT_PATTERN)):
    """The SORT-AI ontology: every module and the catalog merged into one document under the ontology's IRI
    (https://w3id.org/sortai/ontology) and version IRI; what owlready2 or Protégé should open."""
    return await _serve(request, "", format)


@router.get("/ontology.{suffix}", responses=RDF_DOC)
async def ontology_with_suffix(request: Request, suffix: str = PathParam(..., pattern="^(owl|rdf|ttl|nt|jsonld)$")):
    """The merged ontology in the format its suffix names (.owl and .rdf are RDF/XML)."""
    return await _serve(request, "." + suffix, None)


@router.get("/ontology/{path:path}", responses=RDF_DOC)
async def ontology_document(request: Request,
                            path: str = PathParam(..., max_length=200, examples=["framework", "0.1.0/catalog.ttl"]),
                            format: str | None = Query(None, pattern=FORMAT_PATTERN)):
    """A module (`framework`, `infrastructure`, `domains`, `reasoning`, `catalog`, or its file name such as
    `sortai-framework`), the version IRI of the ontology (`0.1.0`) or of a module (`0.1.0/framework`), with
    an optional suffix. A module's Turtle is the shipped file."""
    return await _serve(request, path, format)


@router.get("/context.jsonld", responses={
    200: {"description": "the JSON-LD context", "content": {"application/ld+json": {"schema": {"type": "object"}}}},
    **error_doc(500)})
async def context():
    """The JSON-LD context of the description format."""
    from sortai.reasoner import resources

    return Response((resources.ontology_dir() / "context.jsonld").read_bytes(), media_type="application/ld+json")
