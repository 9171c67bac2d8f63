"""Examples in the OpenAPI document: request bodies and the main responses (tests check each one against the
real loader or its response model, so they cannot drift from what the service does)."""

from __future__ import annotations

MIXED_POOL_YAML = """\
id: mixed-pool
environments:
  - id: dc1
    kind: on-prem
clusters:
  - id: c1
    environment: dc1
nodes:
  - id: h100-nodes
    cluster: c1
    count: 2
    accelerator: H100-SXM
    acceleratorsPerNode: 8
  - id: l4-nodes
    cluster: c1
    count: 4
    accelerator: L4
    acceleratorsPerNode: 8
models:
  - id: llama-8b
    parametersB: 8
    layers: 32
    kvHeads: 8
    headDim: 128
    weightDtype: bf16
    kvDtype: bf16
pools:
  - id: serve
    role: colocated
    model: llama-8b
    hostedOn: [h100-nodes, l4-nodes]
    tensorParallel: 1
"""
MIXED_POOL_TURTLE = """\
@prefix : <https://w3id.org/sortai/data/mixed-pool/> .
@prefix sai: <https://w3id.org/sortai/ontology#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix cat: <https://w3id.org/sortai/catalog/> .

<https://w3id.org/sortai/data/mixed-pool> a sai:Deployment ;
    sai:hasEnvironment :dc1 ; sai:hasCluster :c1 ; sai:hasNode :h100-nodes, :l4-nodes ;
    sai:hasModel :llama-8b ; sai:hasPool :serve .
:dc1 a sai:Environment ; sai:environmentKind sai:OnPremises .
:c1 a sai:Cluster ; sai:inEnvironment :dc1 .
:h100-nodes a sai:Node ; sai:inCluster :c1 ; sai:replicaCount 2 ; sai:acceleratorModel cat:H100-SXM ;
    sai:acceleratorsPerNode 8 .
:l4-nodes a sai:Node ; sai:inCluster :c1 ; sai:replicaCount 4 ; sai:acceleratorModel cat:L4 ;
    sai:acceleratorsPerNode 8 .
:llama-8b a sai:Model ; sai:parametersBillions "8"^^xsd:decimal ; sai:numLayers 32 ; sai:numKVHeads 8 ;
    sai:headDim 128 ; sai:weightDtype sai:BF16 ; sai:kvCacheDtype sai:BF16 .
:serve a sai:ServingPool ; sai:poolRole sai:ColocatedRole ; sai:servesModel :llama-8b ;
    sai:hostedOn :h100-nodes, :l4-nodes ; sai:tensorParallelism 1 .
"""


def _convert(turtle: str, fmt: str) -> str:
    import pyoxigraph as ox

    target = {"nt": ox.RdfFormat.N_TRIPLES, "rdfxml": ox.RdfFormat.RDF_XML}[fmt]
    return ox.serialize(ox.parse(turtle.encode(), format=ox.RdfFormat.TURTLE), format=target).decode()


def _as_json(yaml_text: str) -> dict:
    import io
    import json

    from ruamel.yaml import YAML

    return json.loads(json.dumps(YAML(typ="safe", pure=True).load(io.StringIO(yaml_text))))


DIAGNOSIS = {
    "iri": "https://w3id.org/sortai/data/mixed-pool/serve/diagnosis/MemoryPathIncoherence",
    "id": "serve/diagnosis/MemoryPathIncoherence",
    "mode": "MemoryPathIncoherence", "mode_label": "Memory-path incoherence", "kind": "mode",
    "component": "serve", "component_iri": "https://w3id.org/sortai/data/mixed-pool/serve",
    "severity": "Critical severity", "severity_score": 1.0, "confidence": "Structural confidence",
    "primary_domains": ["AI.07 Accelerator Runtime Control"], "supporting_domains": [],
    "consequences": ["Cache-pressure bottleneck", "Decode-path degradation",
                     "Reported compute availability exceeds actual serving capacity"],
    "involves": [], "compounds_with": [], "routes": 1,
}
VALIDATION = {"description": "mixed-pool.yaml", "conforms": True, "violations": 0, "warnings": 0, "problems": []}
_SUMMARY = {
    "id": "mixed-pool", "version": 1, "name": "mixed-pool", "filename": "mixed-pool.yaml", "format": "yaml",
    "media_type": "application/yaml", "size": 612,
    "sha256": "3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855f",
    "created": "2026-11-01T12:00:00+00:00", "updated": "2026-11-01T12:00:00+00:00",
    "conforms": True, "violations": 0, "warnings": 0, "diagnosed": True, "diagnosis_count": 2,
    "asserted_triples": 34, "inferred_triples": 78, "deployment": "https://w3id.org/sortai/data/mixed-pool",
    "graphs": {"asserted": "https://w3id.org/sortai/graph/mixed-pool/asserted",
               "inferred": "https://w3id.org/sortai/graph/mixed-pool/inferred"},
    "links": {"self": "/descriptions/mixed-pool", "source": "/descriptions/mixed-pool/source",
              "validation": "/descriptions/mixed-pool/validation", "diagnoses": "/descriptions/mixed-pool/diagnoses",
              "asserted": "/descriptions/mixed-pool/graph?graph=asserted",
              "inferred": "/descriptions/mixed-pool/graph?graph=inferred"},
}
DESCRIPTION_SUMMARY = _SUMMARY
DESCRIPTION_DETAIL = dict(_SUMMARY, validation=VALIDATION, diagnoses=[DIAGNOSIS])
DESCRIPTION_LIST = {"descriptions": [_SUMMARY]}
DIAGNOSIS_LIST = {"description": "mixed-pool", "version": 1, "diagnosed": True, "count": 1, "diagnoses": [DIAGNOSIS]}
DIAGNOSE_RESULT = {"name": "mixed-pool", "conforms": True, "diagnosed": True, "validation": VALIDATION,
                   "diagnoses": [DIAGNOSIS]}
HEALTH = {"status": "ok", "descriptions": 1, "writes": "token",
          "store": {"writable": True, "free_bytes": 52_000_000_000, "error": None},
          "workers": {"sparql": {"size": 2, "idle": 2}, "reasoning": {"size": 2, "idle": 2}}}
ERROR = {"error": "not-found", "message": "no description 'mixed-pool'"}

SELECT_QUERY = ("PREFIX sai: <https://w3id.org/sortai/ontology#>\n"
                "SELECT ?diagnosis ?severity WHERE { ?diagnosis a sai:Diagnosis ; sai:severity ?severity }")
SELECT_RESULT = {"head": {"vars": ["diagnosis", "severity"]}, "results": {"bindings": [{
    "diagnosis": {"type": "uri", "value": DIAGNOSIS["iri"]},
    "severity": {"type": "uri", "value": "https://w3id.org/sortai/ontology#CriticalSeverity"}}]}}

_BINARY = {"type": "string", "format": "binary"}
UPLOAD_BODY = {"requestBody": {
    "required": True,
    "description": "The description, exactly as a file would hold it. The format is told by `?format=`, else by "
                   "Content-Type, else by the suffix of `?filename=`. Without a token, `text/plain`, forms and a "
                   "missing Content-Type are refused (a web page on any site could send those).",
    "content": {
        "application/yaml": {"schema": _BINARY, "example": MIXED_POOL_YAML},
        "application/json": {"schema": _BINARY, "example": _as_json(MIXED_POOL_YAML)},
        "application/ld+json": {"schema": _BINARY, "example": {
            "@context": "https://w3id.org/sortai/context.jsonld", **_as_json(MIXED_POOL_YAML),
            "id": "https://w3id.org/sortai/data/mixed-pool", "type": "Deployment"}},
        "text/turtle": {"schema": _BINARY, "example": MIXED_POOL_TURTLE},
        "application/n-triples": {"schema": _BINARY, "example": _convert(MIXED_POOL_TURTLE, "nt")},
        "application/rdf+xml": {"schema": _BINARY, "example": _convert(MIXED_POOL_TURTLE, "rdfxml")},
    }}}
SPARQL_POST_BODY = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["query"], "properties": {
        "query": {"type": "string"}, "update": {"type": "string", "description": "refused"},
        "default-graph-uri": {"type": "array", "items": {"type": "string"}},
        "named-graph-uri": {"type": "array", "items": {"type": "string"}}}},
        "example": {"query": SELECT_QUERY}},
    "application/sparql-query": {"schema": {"type": "string"}, "example": SELECT_QUERY},
    "application/sparql-update": {"schema": {"type": "string"}, "description": "refused",
                                  "example": "INSERT DATA { <urn:a> <urn:b> <urn:c> }"}}}}


def schema_for(media: str) -> dict:
    """OpenAPI schema of a non-JSON-model body: JSON media types hold any JSON value, the others text."""
    return {} if media.endswith("json") else {"type": "string"}


def json_example(example) -> dict:
    """A ``responses`` entry that adds an example to a route's JSON 200 answer."""
    return {200: {"content": {"application/json": {"example": example}}}}
