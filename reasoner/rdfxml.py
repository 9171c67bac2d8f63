"""RDF/XML read safely: no DTD, no entity of any kind, nothing resolved; then pyoxigraph parses it.

pyoxigraph's RDF/XML parser does not resolve external entities, but it *does* expand internal ones (a
billion-laughs document becomes gigabytes), so any DOCTYPE or ENTITY declaration is refused outright;
defusedxml then checks the document without resolving anything before pyoxigraph sees it.
"""

from __future__ import annotations

import re

from .problems import InputError, Location, Problem

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def check(data: bytes, source: str) -> None:
    """Raise InputError (code ``xml-declaration-refused`` or ``syntax``) unless the document is plain XML."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    if _DECLARATION.search(data) or _DECLARATION.search(data.replace(b"\x00", b"")):
        raise InputError([Problem(
            "RDF/XML with a DOCTYPE or ENTITY declaration is refused (entities are never expanded or resolved)",
            Location(source), code="xml-declaration-refused", fix="remove the declaration.")])
    try:
        fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InputError([Problem(f"RDF/XML refused: {exc}", Location(source), code="xml-declaration-refused",
                                  fix="remove the declaration.")]) from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        raise InputError([Problem(f"RDF/XML syntax error: {exc}", Location(source, line, column), code="syntax",
                                  fix="correct the XML at that position.")]) from None
