"""An explanation as a proof graph for the web page: each statement once, each rule application once.

The explanation tree (``reasoner/explain.py``) repeats a premise under every conclusion that uses it, which
is right for reading top-down but, drawn as it is, gives a picture 100,000 points wide. Here the tree is
folded into a DAG: a box per distinct statement (coloured by where it comes from: the description with its
file and line, the catalog with its datasheet, the ontology with its paper section, or a rule), an ellipse
per distinct rule application (rule id and label; formula and bound values as the tooltip), and edges from
premises to the application to its conclusion. Graphviz lays it out (``dot -Tsvg``), in a subprocess with a
deadline, off the event loop.
"""

from __future__ import annotations

import asyncio
import shutil
import textwrap

import graphviz

MAX_NODES = 1500
RENDER_TIMEOUT = 20.0
WRAP = 44
FILL = {"derived": "#dbe9f6", "asserted": "#d9f0d3", "catalog": "#fbeeb8", "ontology": "#e8e0f2",
        "diagnosis": "#ffffff", "omitted": "#ffffff", "root": "#ffd8a8"}


class GraphTooLarge(Exception):
    pass


def _wrap(text: str) -> str:
    """Lines of at most WRAP characters, broken at spaces or after a ``/`` (ids are paths)."""
    lines = textwrap.wrap(text.replace("/", "/\x00 "), WRAP + 1, break_on_hyphens=False, break_long_words=True)
    return "\n".join(line.replace("\x00 ", "").replace("\x00", "") for line in lines) or " "


def _key(node: dict) -> tuple:
    s = node["statement"]
    return s["subject"], s["property"], s["value"]


def _where(source: dict | None) -> str:
    if not source:
        return ""
    if "line" in source:
        return f"{source.get('file', '')}:{source['line']}"
    return str(source.get("source") or source.get("imported from") or "")


class _Builder:
    def __init__(self, max_nodes: int):
        self.graph = graphviz.Digraph("explanation", graph_attr={"rankdir": "BT", "nodesep": "0.25",
                                                                   "ranksep": "0.45", "fontname": "Helvetica"},
                                      node_attr={"fontname": "Helvetica", "fontsize": "10", "style": "filled",
                                                 "shape": "box", "color": "#555555"},
                                      edge_attr={"color": "#666666", "arrowsize": "0.6"})
        self.names: dict[tuple, str] = {}
        self.edges: set[tuple[str, str]] = set()
        self.kinds: dict[tuple, str] = {}
        self.max_nodes = max_nodes

    def _name(self, key: tuple) -> tuple[str, bool]:
        if key in self.names:
            return self.names[key], False
        if len(self.names) >= self.max_nodes:
            raise GraphTooLarge(f"the explanation has more than {self.max_nodes} distinct statements and rule "
                                "applications; read it as the tree below")
        name = f"n{len(self.names)}"
        self.names[key] = name
        return name, True

    def edge(self, tail: str, head: str) -> None:
        if (tail, head) not in self.edges:
            self.edges.add((tail, head))
            self.graph.edge(tail, head)

    def statement(self, node: dict, kind: str) -> str:
        """The box of a statement: drawn at its first sighting, redrawn if that was only a back-reference."""
        key = ("statement", *_key(node))
        name, new = self._name(key)
        if new or (self.kinds.get(key) == "repeated" and kind != "repeated"):
            self.kinds[key] = kind
            subject, prop, value = _key(node)
            label = _wrap(subject) + "\n" + _wrap(f"{prop} = {value}")
            where = _where(node.get("source"))
            if where:
                label += "\n" + _wrap(where)
            attrs = {"fillcolor": FILL.get(kind, "#ffffff")}
            if kind == "diagnosis":  # another diagnosis it compounds with: explained on its own
                label, attrs["style"] = _wrap(node["text"]), "dashed"
            self.graph.node(name, graphviz.escape(label), **attrs)
        return name

    def application(self, node: dict, premises: list[tuple]) -> tuple[str, bool]:
        rule = node["rule"]
        name, new = self._name(("application", rule["id"], _key(node), tuple(premises)))
        if new:
            values = ", ".join(f"{k}={v}" for k, v in sorted((node.get("values") or {}).items()))
            tooltip = f"{rule['id']} {rule['label']}\n{rule.get('formula', '')}" + (f"\nvalues: {values}" if values
                                                                                      else "")
            self.graph.node(name, graphviz.escape(_wrap(f"{rule['id']} {rule['label']}")), shape="ellipse",
                            fillcolor="#ffffff", tooltip=graphviz.escape(tooltip))
        return name, new


def proof_graph(tree: dict, max_nodes: int = MAX_NODES) -> str:
    """The DOT source of the folded explanation ``tree`` (the JSON of ``GET …/explanation``)."""
    b = _Builder(max_nodes)
    root, _ = b._name(("root",))
    b.graph.node(root, graphviz.escape(_wrap(tree["text"])), fillcolor=FILL["root"], penwidth="2")

    def conclude(node: dict, target: str) -> None:
        """Draw why ``node``'s statement holds, into the graph node ``target`` that stands for it."""
        if node.get("rule") and node["kind"] == "derived":
            children = node.get("because", [])
            premises = [_key(c) for c in children if c["kind"] != "omitted"]
            app, new = b.application(node, premises)
            b.edge(app, target)
            if new:
                for child in children:
                    b.edge(visit(child), app)
        elif node["kind"] == "derived":
            for child in node.get("because", []):  # several derivations of the same statement
                conclude(child, target)

    def visit(node: dict) -> str:
        kind = node["kind"]
        if kind == "omitted":
            name, _ = b._name(("omitted", node["text"], len(b.names)))
            b.graph.node(name, graphviz.escape(_wrap(node["text"])), shape="note", fillcolor=FILL["omitted"])
            return name
        name = b.statement(node, kind)
        if kind == "derived":
            conclude(node, name)
        return name

    for facet in tree.get("because", []):
        b.edge(visit(facet), root)
    return b.graph.source


def graphviz_available() -> bool:
    return shutil.which("dot") is not None


async def render_svg(dot_source: str, timeout: float = RENDER_TIMEOUT) -> bytes:
    """``dot -Tsvg`` in a subprocess, killed past ``timeout`` seconds."""
    process = await asyncio.create_subprocess_exec("dot", "-Tsvg", stdin=asyncio.subprocess.PIPE,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(dot_source.encode("utf-8")), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(err.decode("utf-8", "replace")[:500])
    return out
