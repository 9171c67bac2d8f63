"""What an importer builds: part of a description, every value with the file and line it was read from.

A `Fragment` holds elements by section (`nodes`, `pools`, ...) in the description format of examples/README.md.
Each key of each element remembers its origin (`Location`: the manifest, capture or metrics file and line), and
may carry comment lines that explain how the value was derived. `to_yaml` writes the fragment as a description
whose every imported line ends in `# from FILE:LINE`; the loader reads those comments back into a source map
(`Description.origins`), so `sortai explain` cites the manifest line behind each fact.

Importer-internal facts that are not description keys (pod labels, node selectors, GPU UUIDs, ...) live in
`Element.meta`; merge.py uses them to bind sources together and they are never written.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from sortai.reasoner.description import ORIGIN_COMMENT
from sortai.reasoner.problems import Location, Problem

SECTIONS = ("environments", "clusters", "racks", "nodes", "accelerators", "fabrics", "links", "models", "pools",
            "kvTransfers", "workloads", "tenants", "controlLoops", "migrations", "measurements")


def origin_comment(location: Location) -> str:
    return f"from {location.file}:{location.line}"


@dataclass
class Element:
    """One description element: its keys, where each came from, and why (comments)."""

    id: str
    origin: Location | None = None
    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, Location] = field(default_factory=dict)
    comments: dict[str, list[str]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def set(self, key: str, value, origin: Location | None = None, comment: str | None = None) -> None:
        """Set `key` (dotted for a block: 'virtualization.gpu') to `value`, read at `origin`."""
        if "." in key:
            block, sub = key.split(".", 1)
            self.values.setdefault(block, {})[sub] = value
        else:
            self.values[key] = value
        if origin is not None:
            self.origins[key] = origin
        if comment:
            self.note(key, comment)

    def get(self, key: str, default=None):
        if "." in key:
            block, sub = key.split(".", 1)
            return self.values.get(block, {}).get(sub, default)
        return self.values.get(key, default)

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def unset(self, key: str) -> None:
        if "." in key:
            block, sub = key.split(".", 1)
            self.values.get(block, {}).pop(sub, None)
            if block in self.values and not self.values[block]:
                del self.values[block]
        else:
            self.values.pop(key, None)
        self.origins.pop(key, None)

    def note(self, key: str, comment: str) -> None:
        """A comment line written above `key` ('' for the element itself)."""
        lines = self.comments.setdefault(key, [])
        if comment not in lines:
            lines.append(comment)


@dataclass
class Fragment:
    """Elements by section, the problems met while reading, and the sources read."""

    sections: dict[str, dict[str, Element]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    top: dict[str, str] = field(default_factory=dict)  # the description's own id, label, description (overlays)

    def add(self, section: str, element: Element) -> Element:
        """Add `element`; an id already used in any section gets a numbered suffix."""
        assert section in SECTIONS, section
        taken = {eid for elements in self.sections.values() for eid in elements}
        base, n = element.id, 2
        while element.id in taken:
            element.id = f"{base}-{n}"
            n += 1
        self.sections.setdefault(section, {})[element.id] = element
        return element

    def get(self, section: str, element_id: str) -> Element | None:
        return self.sections.get(section, {}).get(element_id)

    def elements(self, section: str) -> list[Element]:
        return list(self.sections.get(section, {}).values())

    def remove(self, section: str, element_id: str) -> None:
        self.sections.get(section, {}).pop(element_id, None)

    def problem(self, message: str, location: Location | None = None, *, element: str | None = None,
                key: str | None = None, fix: str | None = None, severity: str = "warning",
                code: str = "import", value: str | None = None) -> None:
        found = Problem(message, location, element=element, key=key, fix=fix, severity=severity, code=code,
                        value=value)
        if found not in self.problems:
            self.problems.append(found)

    def extend(self, other: "Fragment") -> None:
        """Take over `other`'s elements (ids kept unique), problems and sources."""
        renamed: dict[str, str] = {}
        for section, elements in other.sections.items():
            for element in elements.values():
                old = element.id
                self.add(section, element)
                if element.id != old:
                    renamed[old] = element.id
        if renamed:
            rename_references(self, renamed)
        self.problems.extend(p for p in other.problems if p not in self.problems)
        self.sources.extend(s for s in other.sources if s not in self.sources)
        self.header.extend(h for h in other.header if h not in self.header)

    # --- writing -----------------------------------------------------------------------------------------

    def to_tree(self, description_id: str | None = None, label: str | None = None) -> CommentedMap:
        tree = CommentedMap()
        for key, value in (("id", description_id), ("label", label), ("description", None)):
            value = self.top.get(key) or value
            if value:
                tree[key] = value
        for section in SECTIONS:
            elements = self.sections.get(section)
            if not elements:
                continue
            seq = CommentedSeq()
            for index, element in enumerate(elements.values()):
                seq.append(_element_map(element))
                if element.comments.get(""):
                    seq.yaml_set_comment_before_after_key(index, before="\n".join(element.comments[""]), indent=2)
            tree[section] = seq
        return tree

    def to_yaml(self, description_id: str | None = None, label: str | None = None) -> str:
        tree = self.to_tree(description_id, label)
        header = list(self.header)
        unresolved = [p for p in self.problems if p.severity in ("violation", "warning")]
        if unresolved:
            header.append("")
            header.append("Still to do (the import could not tell these; each is also a comment at its element):")
            header.extend("- " + _one_line(p.render()) for p in unresolved)
        if header:
            tree.yaml_set_start_comment("\n".join(header))
        yaml = YAML(typ="rt", pure=True)
        yaml.indent(mapping=2, sequence=4, offset=2)
        yaml.width = 4096
        out = io.StringIO()
        yaml.dump(tree, out)
        return out.getvalue()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _element_map(element: Element) -> CommentedMap:
    node = CommentedMap()
    node["id"] = element.id
    for key, value in element.values.items():
        if isinstance(value, dict):
            block = CommentedMap()
            for sub, subvalue in value.items():
                block[sub] = _plain(subvalue)
                _annotate(block, sub, element.origins.get(f"{key}.{sub}"), element.comments.get(f"{key}.{sub}"), 6)
            node[key] = block
            _annotate(node, key, None, element.comments.get(key), 4)
        else:
            node[key] = _plain(value)
            _annotate(node, key, element.origins.get(key), element.comments.get(key), 4)
    if element.origin is not None and element.origin.line:
        node.yaml_add_eol_comment(origin_comment(element.origin), "id")
    return node


def _annotate(node: CommentedMap, key: str, where: Location | None, lines: list[str] | None, indent: int) -> None:
    """`# from FILE:LINE` at the end of the key's line; explanation lines above it."""
    if lines:
        node.yaml_set_comment_before_after_key(key, before="\n".join(lines), indent=indent)
    if where is not None and where.line:
        node.yaml_add_eol_comment(origin_comment(where), key)


def _plain(value):
    if isinstance(value, (list, tuple, set)):
        seq = CommentedSeq(_plain(v) for v in value)
        seq.fa.set_flow_style()
        return seq
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def rename_references(fragment: Fragment, renamed: dict[str, str]) -> None:
    """Rewrite references after ids changed (merge, collisions)."""
    for elements in fragment.sections.values():
        for element in elements.values():
            for key, value in list(element.values.items()):
                if key in ("id", "label", "description"):
                    continue
                if isinstance(value, str) and value in renamed:
                    element.values[key] = renamed[value]
                elif isinstance(value, list):
                    element.values[key] = [renamed.get(v, v) if isinstance(v, str) else v for v in value]
                elif isinstance(value, dict):
                    for sub, subvalue in list(value.items()):
                        if isinstance(subvalue, list):
                            value[sub] = [renamed.get(v, v) if isinstance(v, str) else v for v in subvalue]


def slug(text: str) -> str:
    """An element id from arbitrary text (Kubernetes names, model ids, host names)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-._")
    if not cleaned or not cleaned[0].isalnum():
        cleaned = "x" + cleaned
    return cleaned.lower()
