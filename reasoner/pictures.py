"""Pictures laid out by Graphviz (through the `graphviz` binding, which also writes the DOT and its escaping):
the fleet's topology and a diagnosis's explanation graph.

The topology shows environments, clusters and racks as nested boxes, node groups (count × accelerators, the
scale-up domain, the virtualization regime), pools on their node groups, links and KV paths; components that a
diagnosis concerns or involves are filled with the colour of its severity, and pools over several accelerator
models are drawn with a double border (heterogeneity in scope).
"""

from __future__ import annotations

import re
import shutil
import textwrap

import graphviz
import pyoxigraph as ox

from . import resources
from .diagnoses import Diagnosis
from .engine import Reasoning
from .explain import Node
from .headlines import Facts, show_number, written_value

SAI = resources.SAI
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SEVERITY_COLOURS = {"critical": "#f4a3a3", "high": "#f7c98b", "moderate": "#f3e79b", "low": "#d9ead3"}
KIND_COLOURS = {"derived": "#dbe9f6", "asserted": "#d9ead3", "catalog": "#fff2cc", "ontology": "#ead1f5",
                "repeated": "#ffffff", "diagnosis": "#f4cccc", "omitted": "#eeeeee", "unknown": "#f8d7da"}
FONT = "Helvetica"


class GraphvizMissing(RuntimeError):
    """The `dot` program is not installed: the DOT source can be written, not laid out."""


def svg(graph: graphviz.Digraph) -> str:
    """The graph laid out as inline SVG (no XML declaration, no DOCTYPE: it sits inside an HTML page)."""
    if shutil.which("dot") is None:
        raise GraphvizMissing("Graphviz's `dot` is needed to draw the pictures: install it (Debian/Ubuntu: "
                              "apt-get install graphviz; macOS: brew install graphviz)")
    text = graph.pipe(format="svg", encoding="utf-8")
    return text[text.index("<svg"):]


def _level(severity: str) -> str:
    return severity.split(" ", 1)[0].lower()


def _of_type(f: Facts, cls: str) -> list[str]:
    return sorted({q.subject.value for q in f.store.quads_for_pattern(None, ox.NamedNode(RDF_TYPE),
                                                                      ox.NamedNode(SAI + cls), f.reasoning.asserted_graph)})


def _node_label(f: Facts, node: str) -> str:
    count = int(f.number(node, SAI + "replicaCount") or 1)
    per = int(f.number(node, SAI + "acceleratorsPerNode") or 0)
    model = f.name(f.iri(node, SAI + "acceleratorModel"))
    lines = [f.name(node), f"{count} × {per} {model}"]
    domain = f.number(node, SAI + "scaleUpDomainAccelerators")
    peer = f.iri(node, SAI + "peerToPeerPath")
    if domain:
        lines.append(f"scale-up domain {int(domain)}" + (f", {written_value(peer)}" if peer else ""))
    config = f.iri(node, SAI + "virtualization")
    regime = f.iri(config, SAI + "gpuVirtualization")
    if regime:
        text = written_value(regime)
        profile = f.iri(config, SAI + "migProfile")
        shares = f.number(config, SAI + "sharesPerGPU")
        text += f" {f.name(profile)}" if profile else f" ×{int(shares)}" if shares else ""
        network = f.iri(config, SAI + "networkVirtualization")
        lines.append(text + (f", NIC {written_value(network)}" if network else ""))
    nic, nics = f.iri(node, SAI + "nicLinkType"), f.number(node, SAI + "nicsPerNode")
    if nic:
        lines.append(f"{int(nics or 1)} × {f.name(nic)}")
    return "\n".join(lines)


def _pool_label(f: Facts, pool: str) -> str:
    role = written_value(f.iri(pool, SAI + "poolRole") or "")
    model = f.name(f.iri(pool, SAI + "servesModel"))
    tp, pp = f.number(pool, SAI + "tensorParallelism"), f.number(pool, SAI + "pipelineParallelism")
    parallel = f"TP {int(tp)}" if tp else ""
    if pp and pp > 1:
        parallel += f" × PP {int(pp)}"
    replicas = f.number(pool, SAI + "modelReplicasPresent")
    lines = [f"{f.name(pool)} ({role})", model, " ".join(x for x in (parallel, f"{int(replicas)} replicas"
                                                                      if replicas else "") if x)]
    return "\n".join(x for x in lines if x)


def topology(reasoning: Reasoning, found: list[Diagnosis]) -> graphviz.Digraph:
    f = Facts(reasoning)
    worst: dict[str, str] = {}  # component IRI → the worst severity level touching it
    order = ["low", "moderate", "high", "critical"]
    for d in found:
        for iri in [d.component_iri] + [reasoning.description.base + i for i in d.involves]:
            level = _level(d.severity)
            if level in order and order.index(level) > order.index(worst.get(iri, "low")) or iri not in worst:
                worst[iri] = level
    g = graphviz.Digraph("topology", graph_attr={"rankdir": "LR", "fontname": FONT, "fontsize": "11",
                                                 "compound": "true", "newrank": "true", "nodesep": "0.25",
                                                 "ranksep": "0.6", "bgcolor": "white"},
                         node_attr={"fontname": FONT, "fontsize": "10", "shape": "box", "style": "rounded,filled",
                                    "fillcolor": "white"}, edge_attr={"fontname": FONT, "fontsize": "9"})
    ident = lambda iri: "n" + re.sub(r"[^A-Za-z0-9_]", "_", f.name(iri))

    def fill(iri: str, default: str = "white") -> str:
        return SEVERITY_COLOURS.get(worst.get(iri, ""), default)

    nodes = _of_type(f, "Node")
    placed: dict[str, list[str]] = {}
    for node in nodes:
        cluster = f.iri(node, SAI + "inCluster") or f.iri(f.iri(node, SAI + "inRack"), SAI + "inCluster")
        placed.setdefault(cluster or "", []).append(node)
    environments: dict[str, list[str]] = {}
    for cluster in placed:
        environments.setdefault(f.iri(cluster, SAI + "inEnvironment") or "" if cluster else "", []).append(cluster)
    for environment, clusters in sorted(environments.items()):
        with g.subgraph(name="cluster_env_" + ident(environment or "none")) as env:
            kind = written_value(f.iri(environment, SAI + "environmentKind") or "") if environment else ""
            region = f.one(environment, SAI + "region") if environment else None
            env.attr(label=" · ".join(x for x in (f.name(environment) if environment else "(no environment)", kind,
                                                   region.value if region is not None else "") if x),
                     style="rounded", color="#7f7f7f", fontsize="12")
            for cluster in sorted(clusters):
                with env.subgraph(name="cluster_c_" + ident(cluster or "none")) as box:
                    box.attr(label=f.name(cluster) if cluster else "(no cluster)", style="rounded,filled",
                             fillcolor=fill(cluster, "#f7f7f7"), color="#b7b7b7")
                    for node in placed[cluster]:
                        box.node(ident(node), _node_label(f, node), fillcolor=fill(node, "#ffffff"))
    for pool in _of_type(f, "ServingPool"):
        mixed = (f.number(pool, SAI + "acceleratorModelCount") or 1) > 1
        g.node(ident(pool), _pool_label(f, pool), shape="box", style="filled,bold", peripheries="2" if mixed else "1",
               fillcolor=fill(pool, "#e8f0fe"))
        for node in f.iris(pool, SAI + "servesFrom") or f.iris(pool, SAI + "hostedOn"):
            g.edge(ident(pool), ident(node), arrowhead="none", color="#5b7db1")
    for path in _of_type(f, "KVTransferPath"):
        source, target = f.iri(path, SAI + "fromPool"), f.iri(path, SAI + "toPool")
        if source and target:
            time = f.number(path, SAI + "kvTransferTimeP99Ms")
            bandwidth = f.number(path, SAI + "bottleneckBandwidthGBps")
            label = f"KV {f.name(path)}" + (f"\n{show_number(bandwidth)} GB/s" if bandwidth else "") + (
                f", p99 {show_number(time)} ms" if time else "")
            colour = {"critical": "#c00000", "high": "#d46b08", "moderate": "#b59b00"}.get(worst.get(path, ""), "#333333")
            g.edge(ident(source), ident(target), label=label, style="bold,dashed", color=colour, fontcolor=colour,
                   penwidth="2")
    for link in _of_type(f, "Link"):
        ends = f.iris(link, SAI + "connects")
        ends = [e for e in ends if e in nodes]
        if len(ends) == 2:
            bandwidth = f.number(link, SAI + "bandwidthGBps") or f.number(link, SAI + "effectiveBandwidthGBps")
            g.edge(ident(ends[0]), ident(ends[1]), label=f"{f.name(link)}" + (
                f"\n{show_number(bandwidth)} GB/s" if bandwidth else ""), dir="both", color="#777777",
                constraint="false")
    for loop in _of_type(f, "ControlLoop"):
        if loop in worst:
            period = f.number(loop, SAI + "timescaleMs")
            g.node(ident(loop), f"{f.name(loop)}\n{written_value(f.iri(loop, SAI + 'controlLoopKind') or '')}"
                   + (f", {show_number(period)} ms" if period else ""), shape="ellipse", fillcolor=fill(loop))
            for target in f.iris(loop, SAI + "governs"):
                if target in nodes or f.iri(target, RDF_TYPE) == SAI + "ServingPool":
                    g.edge(ident(loop), ident(target), style="dotted", arrowhead="vee", color="#888888")
    return g


MAX_EXPLANATION_NODES = 36


def explanation_graph(tree: Node, limit: int | None = MAX_EXPLANATION_NODES, sources: bool = False) -> graphviz.Digraph:
    """The explanation tree, conclusions on the left and asserted facts on the right (a tall picture, not a strip
    of leaves). At most `limit` nodes, breadth first (the nearest reasons), the rest counted; `sources` adds each
    fact's file, line or datasheet to its box."""
    g = graphviz.Digraph("explanation", graph_attr={"rankdir": "RL", "fontname": FONT, "nodesep": "0.12",
                                                    "ranksep": "0.35"},
                         node_attr={"fontname": FONT, "fontsize": "9", "shape": "box", "style": "rounded,filled"},
                         edge_attr={"arrowsize": "0.6", "color": "#777777"})
    queue, shown, count = [(tree, None)], 0, 0
    while queue:
        node, parent = queue.pop(0)
        if node.kind == "repeated" and "same application" in node.text:
            continue
        if limit is not None and shown >= limit:
            count += 1
            continue
        shown += 1
        name = f"e{shown}"
        short = lambda text: text if limit is None or len(text) < 90 else text[:87] + "…"
        label = short(node.text)
        if node.rule and node.rule.get("formula") and node.kind == "derived":
            label += "\n" + short(node.rule["formula"])
        if sources and node.source:
            label += "\n" + ", ".join(f"{k} {v}" for k, v in node.source.items() if v is not None)
        label = "\n".join(textwrap.fill(line, 64) for line in label.split("\n"))
        g.node(name, label, fillcolor=KIND_COLOURS.get(node.kind, "#ffffff"))
        if parent:
            g.edge(name, parent)
        queue.extend((child, name) for child in node.because)
    if count:
        g.node("more", f"… {count} more facts: sortai explain FILE ID", shape="note", fillcolor="#ffffff")
    return g
