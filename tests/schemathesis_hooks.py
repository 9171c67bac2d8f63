"""schemathesis hooks for test_api_schemathesis.py: send the text media types it has no serializer for
(the OpenAPI examples of N-Triples uploads and SPARQL query bodies) as their UTF-8 bytes."""

import schemathesis


@schemathesis.serializer("application/n-triples", "application/sparql-query", "application/sparql-update")
def as_text(ctx, value):
    return {"data": value if isinstance(value, bytes) else str(value).encode("utf-8")}
