"""Read YAML/JSON streams as users paste them, keeping the line of every key.

`kubectl get -o yaml`, `kubectl kustomize`, `helm template` and hand-kept manifests are multi-document YAML.
Documentation excerpts also start with a shell prompt (`$ kubectl get nodes -o yaml`) and elide fields with
`...`; those lines are blanked (line numbers stay true) and reported, never silently skipped.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Callable

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from sortai.reasoner.problems import InputError, Location, Problem

PROMPT = re.compile(r"^\s*\$ \S")
ELISION = re.compile(r"^\s+\.\.\.\s*$|^\s*…\s*$")
MAX_BYTES = 64 * 1024 * 1024

Step = object  # str key, int index


@dataclass
class Doc:
    """One YAML document and where its nodes are (file and line), optionally through a blame function."""

    data: object
    file: str
    blame: Callable[[tuple, object], Location | None] | None = None
    paths: dict[int, tuple] = field(default_factory=dict)

    def __post_init__(self):
        self._index(self.data, ())

    def _index(self, node, path):
        if isinstance(node, (CommentedMap, CommentedSeq)):
            self.paths[id(node)] = path
            items = node.items() if isinstance(node, CommentedMap) else enumerate(node)
            for key, value in items:
                self._index(value, path + (key,))

    def at(self, node, key=None) -> Location:
        """The location of `node[key]` (or of `node`)."""
        line = None
        try:
            if key is None:
                line = node.lc.line + 1
            elif isinstance(node, CommentedMap):
                line = node.lc.key(key)[0] + 1
            elif isinstance(node, CommentedSeq):
                line = node.lc.item(key)[0] + 1
        except (AttributeError, KeyError, IndexError, TypeError):
            line = None
        if self.blame is not None:
            path = self.paths.get(id(node))
            if path is not None:
                value = node if key is None else _child(node, key)
                found = self.blame(path + ((key,) if key is not None else ()), value)
                if found is not None:
                    return found
        return Location(self.file, line)


def _child(node, key):
    try:
        return node[key]
    except (KeyError, IndexError, TypeError):
        return None


def read_text(path) -> str:
    """A text file's content, or an InputError naming the file (missing, binary, not UTF-8, too large)."""
    from pathlib import Path

    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError([Problem(f"file is larger than {MAX_BYTES} bytes", Location(str(path)), code="too-large")])
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError([Problem("no such file", Location(str(path)), code="not-found", fix="check the path.")]) from None
    except IsADirectoryError:
        raise InputError([Problem("is a directory", Location(str(path)), code="not-found")]) from None
    except OSError as exc:
        raise InputError([Problem(f"cannot read: {exc.strerror}", Location(str(path)), code="unreadable")]) from None
    if b"\x00" in data[:8192]:
        raise InputError([Problem("this is a binary file, not text", Location(str(path), 1), code="binary",
                                  fix="give the text the tool printed (YAML, nvidia-smi output, metrics).")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError([Problem("the file is not UTF-8 text", Location(str(path), line), code="encoding",
                                  fix="save it as UTF-8.")]) from None


def clean_excerpt(text: str, file: str, problems: list[Problem]) -> str:
    """Blank shell-prompt and elision lines (keeping line numbers) and say which were blanked."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if PROMPT.match(line) and index < 3:
            problems.append(Problem(f"shell prompt line skipped: {line.strip()!r}", Location(file, index + 1),
                                    severity="info", code="excerpt"))
            lines[index] = ""
        elif ELISION.match(line):
            problems.append(Problem("elision '...' skipped: the file is an excerpt and omits fields here",
                                    Location(file, index + 1), severity="info", code="excerpt"))
            lines[index] = ""
    return "\n".join(lines)


def load_documents(text: str, file: str, problems: list[Problem]) -> list[Doc]:
    """Every document of a YAML (or JSON) stream, in order; a syntax error is an InputError at its line."""
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = True
    text = clean_excerpt(text, file, problems)
    try:
        documents = list(yaml.load_all(io.StringIO(text)))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise InputError([Problem(f"YAML syntax error: {(exc.problem or exc.context or 'syntax error').strip()}",
                                  Location(file, line, column), code="syntax",
                                  fix="give the YAML as kubectl, kustomize or helm print it.")]) from None
    except YAMLError as exc:
        raise InputError([Problem(f"YAML syntax error: {exc}", Location(file), code="syntax")]) from None
    return [Doc(d, file) for d in documents if d is not None]


def scalar(value) -> str | None:
    if value is None or isinstance(value, (CommentedMap, CommentedSeq, dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
