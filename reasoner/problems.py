"""Problems found in user input, reported with where they are and what to do about them.

Every error a user can cause ends as a `Problem`; the CLI and the API render them, never a traceback.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True, order=True)
class Location:
    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One finding: `message` says what is wrong, `fix` what to do, `element` which element it concerns."""

    message: str
    location: Location | None = None
    element: str | None = None
    key: str | None = None
    fix: str | None = None
    severity: str = "violation"
    code: str = "invalid"
    value: str | None = None
    details: dict = field(default_factory=dict, compare=False)

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        what = ""
        if self.element:
            what = f"{self.element}"
            if self.key:
                what += f".{self.key}"
            what += ": "
        text = f"{where}{self.severity}: {what}{self.message}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from YAML escapes

    def to_json(self) -> dict:
        data = asdict(self)
        data["location"] = (
            None if self.location is None else {k: v for k, v in asdict(self.location).items() if v is not None}
        )
        data["text"] = self.render()
        return {k: v for k, v in data.items() if v not in (None, {}, "")}


class InputError(Exception):
    """Raised when input cannot be turned into a graph at all (syntax, unknown format, unreadable file)."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.render() for p in problems))
        self.problems = problems
