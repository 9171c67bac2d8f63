"""The service's endpoints, one router per concern; ``create_app`` in ``api/server.py`` includes each.

| router | paths |
|---|---|
| ``service`` | ``/health`` |
| ``descriptions`` | ``/descriptions`` and a description's record, source and graphs |
| ``diagnoses`` | validation reports, diagnoses, explanations, ``POST /diagnose`` |
| ``sparql`` | ``/sparql`` (SPARQL 1.1 Protocol, Service Description) |
| ``ontology`` | ``/ontology`` (every module and version IRI), ``/context.jsonld`` |
| ``docs`` | ``/docs``, ``/redoc`` and their assets, served locally |
| ``ui`` | ``/`` (where things are, or the web page for a browser) and the page's ``/ui/…`` |

A new concern is a new module here with an ``APIRouter`` named ``router``,
added to ``ROUTERS`` in ``api/server.py``.
"""
