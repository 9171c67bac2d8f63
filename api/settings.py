"""The service's settings: every ``SORTAI_*`` variable, checked at start-up against its allowed range.

A value out of range stops ``sortai serve`` with one line naming the variable, the value and the range
(exit status 2), never a traceback and never a silently clamped limit.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

MIB = 1024 * 1024
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


class SettingError(SystemExit):
    """A refused setting: the message names the variable and its allowed range."""

    def __init__(self, message: str):
        super().__init__(f"sortai serve: {message}")


@dataclass(frozen=True)
class Spec:
    """One environment variable: its type, range and meaning (the README's limits table is made from these)."""

    variable: str
    kind: type
    low: float | None = None
    high: float | None = None
    help: str = ""


def _default_reasoning_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


@dataclass
class Settings:
    data_dir: Path
    token: str | None = None
    allow_open_writes: bool = False
    max_body_bytes: int = 16 * MIB
    query_timeout: float = 10.0
    max_result_bytes: int = 32 * MIB
    sparql_workers: int = 2
    reasoning_workers: int = field(default_factory=_default_reasoning_workers)
    reasoning_timeout: float = 300.0
    worker_memory_mb: int = 2048
    idle_timeout: float = 5.0
    body_timeout: float = 60.0
    max_connections: int = 0  # 0: derived from the open-file limit at start-up
    cors_read_origins: tuple[str, ...] = ("*",)
    cors_write_origins: tuple[str, ...] = ()
    log_level: str = "info"

    @classmethod
    def from_env(cls, data_dir: Path, token: str | None, allow_open_writes: bool,
                 environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        _refuse_unknown(env)
        values: dict = {}
        for name, spec in SPECS.items():
            raw = env.get(spec.variable)
            if raw is None or raw.strip() == "":
                continue
            values[name] = _parse(spec, raw.strip())
        return cls(data_dir=Path(data_dir), token=token, allow_open_writes=allow_open_writes, **values)


SPECS: dict[str, Spec] = {
    "max_body_bytes": Spec("SORTAI_MAX_BODY_BYTES", int, 1024, 1024 * MIB, "largest request body, bytes"),
    "query_timeout": Spec("SORTAI_QUERY_TIMEOUT", float, 0.1, 3600, "deadline of a SPARQL query, seconds"),
    "max_result_bytes": Spec("SORTAI_MAX_RESULT_BYTES", int, 1024, 4096 * MIB, "largest SPARQL result, bytes"),
    "sparql_workers": Spec("SORTAI_SPARQL_WORKERS", int, 1, 64, "SPARQL worker processes"),
    "reasoning_workers": Spec("SORTAI_REASONING_WORKERS", int, 1, 64, "reasoning worker processes"),
    "reasoning_timeout": Spec("SORTAI_REASONING_TIMEOUT", float, 0.1, 86400,
                              "deadline of an upload, a diagnosis or an explanation, seconds"),
    "worker_memory_mb": Spec("SORTAI_WORKER_MEMORY_MB", int, 256, 1024 * 1024,
                             "memory ceiling (resident) of one worker process, MiB"),
    "idle_timeout": Spec("SORTAI_IDLE_TIMEOUT", float, 0.5, 600,
                         "a connection that sends no complete request head for this long is closed, seconds"),
    "body_timeout": Spec("SORTAI_BODY_TIMEOUT", float, 1, 3600, "deadline for reading a request body, seconds"),
    "max_connections": Spec("SORTAI_MAX_CONNECTIONS", int, 16, 1_000_000,
                            "open connections; past it the oldest idle one is closed"),
    "cors_read_origins": Spec("SORTAI_CORS_READ_ORIGINS", tuple,
                              help="origins allowed to read cross-origin (`*` = any), comma-separated"),
    "cors_write_origins": Spec("SORTAI_CORS_WRITE_ORIGINS", tuple,
                               help="origins allowed to write and to POST /diagnose cross-origin, comma-separated"),
    "log_level": Spec("SORTAI_LOG_LEVEL", str, help="one of " + ", ".join(LOG_LEVELS)),
}
# Read elsewhere (the token by read_token in server.py), listed so that a misspelling is caught.
OTHER_VARIABLES = {"SORTAI_TOKEN"}
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def _range_text(spec: Spec) -> str:
    unit = "an integer" if spec.kind is int else "a number"
    return f"{unit} from {spec.low:g} to {spec.high:g}"


def _parse(spec: Spec, raw: str):
    if spec.kind in (int, float):
        try:
            value = int(raw) if spec.kind is int else float(raw)
        except ValueError:
            raise SettingError(f"{spec.variable}={raw!r} is not {_range_text(spec)} ({spec.help})") from None
        if isinstance(value, float) and not math.isfinite(value) or not spec.low <= value <= spec.high:
            raise SettingError(f"{spec.variable}={raw!r} is out of range: give {_range_text(spec)} ({spec.help})")
        return value
    if spec.kind is tuple:
        origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
        for origin in origins:
            if origin != "*" and not _ORIGIN.match(origin):
                raise SettingError(f"{spec.variable}: {origin!r} is not an origin; give `*` or origins such as "
                                   "https://example.org or http://127.0.0.1:3000, comma-separated")
        if "*" in origins and spec.variable == "SORTAI_CORS_WRITE_ORIGINS":
            raise SettingError("SORTAI_CORS_WRITE_ORIGINS=* is refused: any web page could then write; name the "
                               "origins that may write")
        return origins
    value = raw.lower()
    if value not in LOG_LEVELS:
        raise SettingError(f"{spec.variable}={raw!r} is not one of {', '.join(LOG_LEVELS)}")
    return value


def _refuse_unknown(env) -> None:
    known = {s.variable for s in SPECS.values()} | OTHER_VARIABLES
    for name in env:
        if name.startswith("SORTAI_") and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise SettingError(f"unknown setting {name}{hint} (known: {', '.join(sorted(known))})")


assert {f.name for f in fields(Settings)} >= set(SPECS)
