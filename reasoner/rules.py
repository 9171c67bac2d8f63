"""The rule base: SHACL-AF `sh:SPARQLRule`s with their metadata, analysed for stratified evaluation.

Rules live in rules/inference/*.ttl as standard SHACL-AF, so pySHACL can execute them too (the tests use it
as an independent oracle). The engine does not: each CONSTRUCT is parsed once (rdflib's parser, never its
evaluator), its WHERE clause becomes a `SELECT *` run on Oxigraph, and the bindings instantiate both the
conclusions and the premises — which is what makes every derived triple explainable.

The product's rule base (`load_rule_base`) requires our metadata: an id, the paper sections a rule encodes,
one target class. Any other SHACL-AF rule file runs too (`load_rule_files`), as pySHACL runs it: shapes may
target classes (with their subclasses), nodes, and subjects or objects of a property; a rule whose body does
not mention `$this` is evaluated once (if its shape has a focus node), since its result cannot depend on it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import networkx as nx
import rdflib
from rdflib.namespace import RDF, RDFS, SH
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.parserutils import CompValue

from . import focus_paths, resources
from .problems import InputError, Location, Problem

SAI = rdflib.Namespace(resources.SAI)
RULES_NS = "https://w3id.org/sortai/rules#"
TYPE = str(RDF.type)
ANY = "*"


@dataclass(frozen=True)
class Pattern:
    """A triple pattern of a rule; terms are rdflib terms (Variable for variables)."""

    s: object
    p: object
    o: object
    context: str  # required | optional | negative | nested

    def key(self, classes: dict | None = None) -> tuple[str, str]:
        """What the pattern reads or writes: (predicate, class of its subject when the rule fixes it).

        Refining by subject class keeps, e.g., a diagnosis's severityScore apart from a condition's; it is
        sound because the ontology declares these classes pairwise disjoint.
        """
        if isinstance(self.p, rdflib.Variable):
            return (ANY, ANY)
        if str(self.p) == TYPE:
            return (TYPE, str(self.o) if isinstance(self.o, rdflib.URIRef) else ANY)
        return (str(self.p), (classes or {}).get(self.s, ANY))


@dataclass
class Rule:
    iri: str
    rule_id: str
    label: str
    comment: str
    sections: tuple[str, ...]
    layer: str | None
    source_domain: str | None
    formula: str | None
    target_class: str | None  # None for a foreign rule whose shape targets no single class
    construct: str
    select: str
    template: tuple[Pattern, ...]
    patterns: tuple[Pattern, ...]
    aggregates: bool
    file: str
    order: float = 0.0
    reads: frozenset = field(default_factory=frozenset)
    writes: frozenset = field(default_factory=frozenset)
    negative_reads: frozenset = field(default_factory=frozenset)
    # For a rule whose body does not mention $this: an ASK for its shape's focus nodes (no focus node, no run).
    focus_ask: str | None = None
    # Which focus nodes an edited triple reaches (focus_paths.py): an incremental update re-runs the rule for those.
    focus_paths: focus_paths.FocusPaths | None = None
    # A foreign rule's shape targets, as `_targets` gives them (a product rule's focus is `?this a target_class`,
    # in `patterns`), and the PREFIX/BASE lines the rule's text is read with.
    targets: tuple = ()
    prologue: str = ""

    @property
    def premise_patterns(self) -> tuple[Pattern, ...]:
        return tuple(p for p in self.patterns if p.context in ("required", "optional"))


@dataclass
class RuleBase:
    rules: list[Rule]
    strata: list[list[Rule]]  # evaluation order; each stratum a strongly connected set
    recursive: list[bool]
    reads_from: dict[str, frozenset[str]] = field(default_factory=dict)  # rule id -> the rules writing what it reads

    def by_id(self) -> dict[str, Rule]:
        return {r.rule_id: r for r in self.rules}

    def by_iri(self) -> dict[str, Rule]:
        return {r.iri: r for r in self.rules}


def inference_dir() -> Path:
    return resources.rules_dir() / "inference"


def rule_files(directory: Path | None = None) -> list[Path]:
    return sorted((directory or inference_dir()).glob("*.ttl"))


@cache
def load_rule_base(directory: str | None = None) -> RuleBase:
    """The product's analysed rule base (our metadata required); cached on disk by the rule files' content,
    since analysis takes ~1 s."""
    return _cached(tuple(rule_files(Path(directory) if directory else None)), strict=True)


def load_rule_files(paths) -> RuleBase:
    """Any SHACL-AF rule files, as pySHACL runs them; our metadata (ids, sections) is optional."""
    files = tuple(Path(p) for p in paths)
    for path in files:
        if not path.is_file():
            raise InputError([Problem("no such rule file", Location(str(path)), code="not-found",
                                      fix="check the path.")])
    return _cached(files, strict=False)


def _cached(files: tuple[Path, ...], strict: bool) -> RuleBase:
    digest = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files) + CACHE_VERSION
                            + (b"product" if strict else b"any")).hexdigest()
    cache_file = _cache_dir() / f"rules-{digest[:24]}.pickle"
    try:
        with cache_file.open("rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        pass
    base = _analyse(list(files), strict)
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache_file.with_suffix(f".{os.getpid()}.tmp")
        with temporary.open("wb") as handle:
            pickle.dump(base, handle)
        temporary.replace(cache_file)
    except OSError:
        pass  # a read-only home only costs the analysis time
    return base


CACHE_VERSION = b"17"


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "sortai"


def _analyse(files: list[Path], strict: bool = True) -> RuleBase:
    graph = rdflib.Graph()
    for path in files:
        try:
            graph.parse(path, format="turtle")
        except Exception as exc:  # rdflib raises parser exceptions of several kinds
            raise InputError([Problem(f"the rule file does not parse as Turtle: {exc}", Location(str(path)),
                                      code="rule-base", fix="correct the Turtle syntax.")]) from None
    nodes = [n for n in graph.subjects(RDF.type, SH.SPARQLRule) if not _deactivated(graph, n)]
    # Blank-node rules get their ids from this order, so it must not depend on blank node labels.
    nodes.sort(key=lambda n: (float(graph.value(n, SH.order) or 0), str(graph.value(n, SH.construct) or ""), str(n)))
    rules = [_rule(graph, node, files, strict, index) for index, node in enumerate(nodes)]
    ids = [r.rule_id for r in rules]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise InputError([Problem(f"rule id(s) used twice: {', '.join(sorted(duplicates))}", code="rule-base")])
    rules.sort(key=lambda r: (r.order, r.rule_id))
    strata, recursive, graph = _stratify(rules)
    reads_from = {r.rule_id: frozenset(graph.predecessors(r.rule_id)) for r in rules}
    return RuleBase(rules, strata, recursive, reads_from)


def _prefix_header(graph: rdflib.Graph, rule) -> str:
    lines = []
    for ontology in graph.objects(rule, SH.prefixes):
        for declaration in graph.objects(ontology, SH.declare):
            prefix = graph.value(declaration, SH.prefix)
            namespace = graph.value(declaration, SH.namespace)
            lines.append(f"PREFIX {prefix}: <{namespace}>")
    return "\n".join(sorted(set(lines)))


def _deactivated(graph: rdflib.Graph, node) -> bool:
    value = graph.value(node, SH.deactivated)
    return value is not None and str(value).lower() in ("true", "1")


def _rule(graph: rdflib.Graph, node, files: list[Path], strict: bool = True, index: int = 0) -> Rule:
    shape = graph.value(predicate=SH.rule, object=node)
    rule_id = str(graph.value(node, SAI.ruleId) or "")
    where = Location(_file_of(node, files))
    if strict and (not rule_id or shape is None):
        raise InputError([Problem(f"rule {node} needs sai:ruleId and a shape that points to it with sh:rule",
                                  where, code="rule-base")])
    if shape is None:
        raise InputError([Problem(f"rule {node} belongs to no shape", where, code="rule-base",
                                  fix="point to it from a shape with sh:rule.")])
    if not rule_id:  # a foreign rule: its IRI's local name, else its place in sh:order
        rule_id = (re.split(r"[#/]", str(node))[-1] if isinstance(node, rdflib.URIRef) else "") or f"rule-{index + 1}"
    targets = _targets(graph, shape)
    classes = [iri for kind, iri in targets if kind == "class"]
    target = rdflib.URIRef(classes[0]) if len(targets) == 1 and classes else None
    if strict and target is None:
        raise InputError([Problem(f"the shape of rule {rule_id} needs one sh:targetClass", where, code="rule-base")])
    construct = str(graph.value(node, SH.construct) or "")
    header = _prefix_header(graph, node)
    text = header + "\n" + construct.replace("$this", "?this")
    try:
        parsed = prepareQuery(text)
    except Exception as exc:  # the rdflib parser raises pyparsing exceptions of several kinds
        raise InputError([Problem(f"rule {rule_id}: SPARQL does not parse: {exc}", where, code="rule-base")]) from None
    if parsed.algebra.name != "ConstructQuery":
        raise InputError([Problem(f"rule {rule_id}: sh:construct must hold a CONSTRUCT query", where,
                                  code="rule-base")])
    template = tuple(Pattern(s, p, o, "template") for s, p, o in parsed.algebra.template)
    uses_this = re.search(r"[$?]this\b", construct) is not None
    patterns: list[Pattern] = []
    if strict:
        patterns.append(Pattern(rdflib.Variable("this"), RDF.type, target, "required"))
        focus = f"?this a <{target}> ."  # one class, no subclasses: the form Oxigraph plans best
    else:
        patterns.extend(_focus_patterns(targets))
        focus = f"{{ SELECT DISTINCT ?this WHERE {{ {_focus_text(targets)} }} }}" if uses_this else ""
    aggregates = _walk(parsed.algebra.p, "required", patterns)
    select = header + "\n" + _select_text(construct, focus, rule_id, where)
    sections = tuple(sorted(str(s) for s in graph.objects(node, SAI.encodesSection)))
    if strict and not sections:
        raise InputError([Problem(f"rule {rule_id} names no paper section (sai:encodesSection)", where,
                                  code="rule-base")])
    order = graph.value(node, SH.order)
    rule = Rule(
        iri=str(node), rule_id=rule_id, label=str(graph.value(node, RDFS.label) or rule_id),
        comment=str(graph.value(node, RDFS.comment) or ""), sections=sections,
        layer=_opt(graph.value(node, SAI.ruleLayer)), source_domain=_opt(graph.value(node, SAI.ruleSourceDomain)),
        formula=_opt(graph.value(node, SAI.formula)), target_class=str(target) if target else None,
        construct=construct, select=select, template=template, patterns=tuple(patterns), aggregates=aggregates,
        file=where.file, order=float(order) if order is not None else 0.0,
        focus_ask=None if strict or uses_this else f"{header}\nASK {{ {_focus_text(targets)} }}",
        # Foreign rules find their focus nodes through subclasses (and other targets): always re-run in full.
        focus_paths=focus_paths.analyse(parsed.algebra.p, parsed.algebra.template, str(target),
                                        parsed.prologue.base) if strict else None,
        targets=() if strict else targets, prologue=header,
    )
    # Refining reads and writes by subject class is sound only where classes are disjoint, as the product's
    # ontology declares them; a foreign rule file promises no such thing.
    read_classes = _subject_classes(patterns, target) if strict else {}
    write_classes = _subject_classes(template, target) if strict else {}
    rule.reads = frozenset(p.key(read_classes) for p in patterns)
    rule.negative_reads = frozenset(p.key(read_classes) for p in patterns
                                    if p.context == "negative" or (aggregates and p.context == "nested"))
    rule.writes = frozenset(p.key(write_classes) for p in template)
    return rule


def _targets(graph: rdflib.Graph, shape) -> tuple[tuple[str, object], ...]:
    """A shape's targets as (kind, term): class (also an implicit class target), node, subjectsOf, objectsOf."""
    targets = [("class", str(c)) for c in graph.objects(shape, SH.targetClass)]
    if (shape, RDF.type, RDFS.Class) in graph or (shape, RDF.type, rdflib.OWL.Class) in graph:
        targets.append(("class", str(shape)))
    targets += [("node", n) for n in graph.objects(shape, SH.targetNode)]
    targets += [("subjectsOf", str(p)) for p in graph.objects(shape, SH.targetSubjectsOf)]
    targets += [("objectsOf", str(p)) for p in graph.objects(shape, SH.targetObjectsOf)]
    return tuple(sorted(set(targets), key=str))


def _focus_text(targets) -> str:
    """The focus nodes of a shape, as a SPARQL group binding ?this (class targets with their subclasses)."""
    parts = []
    for kind, term in targets:
        if kind == "class":
            parts.append(f"{{ ?this a/<{RDFS.subClassOf}>* <{term}> }}")
        elif kind == "node":
            parts.append(f"{{ VALUES ?this {{ {term.n3()} }} }}")
        elif kind == "subjectsOf":
            parts.append(f"{{ ?this <{term}> ?_object }}")
        else:
            parts.append(f"{{ ?_subject <{term}> ?this }}")
    return " UNION ".join(parts) if parts else "FILTER (false)"


def _focus_patterns(targets) -> list[Pattern]:
    """What finding the focus nodes reads (not premises: a class target also matches through subclasses)."""
    this = rdflib.Variable("this")
    patterns = []
    for kind, term in targets:
        if kind == "class":
            patterns += [Pattern(this, RDF.type, rdflib.Variable("_class"), "nested"),
                         Pattern(rdflib.Variable("_class"), RDFS.subClassOf, rdflib.Variable("_super"), "nested")]
        elif kind in ("subjectsOf", "objectsOf"):
            patterns.append(Pattern(this if kind == "subjectsOf" else rdflib.Variable("_subject"),
                                    rdflib.URIRef(term), rdflib.Variable("_object") if kind == "subjectsOf" else this,
                                    "nested"))
    return patterns


def _subject_classes(patterns, target) -> dict:
    """The class a rule fixes for each subject variable. A type pattern inside an OPTIONAL counts for a variable
    that occurs only in optional patterns: wherever that variable is bound, the type pattern held."""
    classes = {rdflib.Variable("this"): str(target)}
    outside_optional = {t for p in patterns if p.context != "optional" for t in (p.s, p.o)}
    for p in patterns:
        typed = (str(p.p) == TYPE and isinstance(p.s, rdflib.Variable) and isinstance(p.o, rdflib.URIRef))
        if typed and (p.context in ("required", "nested", "template")
                      or (p.context == "optional" and p.s not in outside_optional)):
            classes.setdefault(p.s, str(p.o))
    return classes


def _opt(value) -> str | None:
    return None if value is None else str(value)


def _file_of(node, files: list[Path]) -> str:
    if isinstance(node, rdflib.URIRef) and str(node).startswith(RULES_NS):
        local = str(node)[len(RULES_NS):]
        for path in files:
            if local in path.read_text(encoding="utf-8"):
                return path.name
    return "rules/inference"


def _walk(node, context: str, out: list[Pattern]) -> bool:
    """Collect triple patterns by the role they play; return whether the query aggregates."""
    aggregates = False
    if isinstance(node, CompValue):
        name = node.name
        if name == "BGP":
            out.extend(Pattern(s, p, o, context) for s, p, o in node.triples)
            return False
        if name in ("AggregateJoin", "Group"):
            aggregates = True
        if name == "LeftJoin":
            aggregates |= _walk(node.p1, context, out)
            aggregates |= _walk(node.p2, "optional" if context == "required" else context, out)
            aggregates |= _walk(node.get("expr"), context, out)
            return aggregates
        if name == "Minus":
            aggregates |= _walk(node.p1, context, out)
            aggregates |= _walk(node.p2, "negative", out)
            return aggregates
        if name == "Union":
            aggregates |= _walk(node.p1, "optional" if context == "required" else context, out)
            aggregates |= _walk(node.p2, "optional" if context == "required" else context, out)
            return aggregates
        if name == "Builtin_NOTEXISTS":
            return _walk(node.graph, "negative", out) or aggregates
        if name == "Builtin_EXISTS":
            return _walk(node.graph, "nested", out) or aggregates
        if name == "ToMultiSet":
            nested: list[Pattern] = []
            inner = _walk(node.p, "nested", nested)
            out.extend(Pattern(p.s, p.p, p.o, "negative" if p.context == "negative" else "nested") for p in nested)
            return inner or aggregates
        if name == "TriplesBlock":
            out.extend(Pattern(s, p, o, context) for s, p, o in node.triples)
            return False
        for value in node.values():
            aggregates |= _walk(value, context, out)
        return aggregates
    if isinstance(node, (list, tuple)):
        for value in node:
            aggregates |= _walk(value, context, out)
    return aggregates


SELECT_ALL = "SELECT * WHERE {"  # how every rule's body begins as a query (`_select_text`)
_CONSTRUCT = re.compile(r"\bCONSTRUCT\s*\{", re.IGNORECASE)
_WHERE = re.compile(r"\s*WHERE\s*\{", re.IGNORECASE)


def _select_text(construct: str, focus: str, rule_id: str, where: Location) -> str:
    """`CONSTRUCT {T} WHERE {B}` → `SELECT * WHERE { focus B }`, where focus binds ?this (or is empty)."""
    text = construct.replace("$this", "?this")
    start = _CONSTRUCT.search(text)
    if not start:
        raise InputError([Problem(f"rule {rule_id}: no CONSTRUCT template", where, code="rule-base")])
    depth, index = 1, start.end()
    while depth and index < len(text):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        index += 1
    body = _WHERE.match(text, index)
    if not body:
        raise InputError([Problem(f"rule {rule_id}: write the body as WHERE {{ ... }}", where, code="rule-base")])
    return f"{text[:start.start()]}{SELECT_ALL} {focus} {text[body.end():]}"


def matches(write: tuple[str, str], read: tuple[str, str]) -> bool:
    if ANY in write[0] or ANY in read[0]:
        return True
    if write[0] != read[0]:
        return False
    return write[1] == ANY or read[1] == ANY or write[1] == read[1]


def _stratify(rules: list[Rule]) -> tuple[list[list[Rule]], list[bool], nx.DiGraph]:
    """Order rules so that each runs after everything it reads; refuse negation through recursion."""
    graph = nx.DiGraph()
    graph.add_nodes_from(r.rule_id for r in rules)
    negative_edges = set()
    for producer in rules:
        for consumer in rules:
            if any(matches(w, r) for w in producer.writes for r in consumer.reads):
                graph.add_edge(producer.rule_id, consumer.rule_id)
                if any(matches(w, r) for w in producer.writes for r in consumer.negative_reads):
                    negative_edges.add((producer.rule_id, consumer.rule_id))
    condensed = nx.condensation(graph)
    by_id = {r.rule_id: r for r in rules}
    position = {r.rule_id: i for i, r in enumerate(rules)}
    strata, recursive = [], []
    for component in nx.lexicographical_topological_sort(
            condensed, key=lambda c: min(position[m] for m in condensed.nodes[c]["members"])):
        members = sorted(condensed.nodes[component]["members"], key=position.get)
        inside = {(a, b) for a in members for b in members if graph.has_edge(a, b)}
        bad = inside & negative_edges
        if bad:
            pairs = ", ".join(f"{a}→{b}" for a, b in sorted(bad))
            raise InputError([Problem(f"rules are not stratifiable: negation or aggregation inside recursion ({pairs})",
                                      code="rule-base")])
        strata.append([by_id[m] for m in members])
        recursive.append(bool(inside))
    return strata, recursive, graph
