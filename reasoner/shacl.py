"""SHACL Core validation over an in-memory index, for the constraint components rules/shapes.ttl uses.

Why not pySHACL on the hot path: on a 100k-triple fleet it takes longer than the whole reasoning budget
(benchmarks/README figures). pySHACL stays the reference: tests assert that both produce the same results
on every example and broken example. A shapes graph that uses a component this module does not implement
is refused when loaded, so the two can never silently disagree.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, XSD

from .collector import without_cyclic_gc

SUPPORTED = {
    SH.path, SH.minCount, SH.maxCount, SH.datatype, SH.minInclusive, SH.maxInclusive, SH.minExclusive,
    SH.maxExclusive, SH["in"], SH["class"], SH.hasValue, SH.pattern, SH.lessThanOrEquals, SH.disjoint,
    SH.node, SH["or"], SH["not"], SH.message, SH.property, SH.targetClass, SH.severity, SH.name,
    SH.description, SH.deactivated, SH.order, SH.group,
}
COMPONENT = {
    SH.minCount: SH.MinCountConstraintComponent, SH.maxCount: SH.MaxCountConstraintComponent,
    SH.datatype: SH.DatatypeConstraintComponent, SH.minInclusive: SH.MinInclusiveConstraintComponent,
    SH.maxInclusive: SH.MaxInclusiveConstraintComponent, SH.minExclusive: SH.MinExclusiveConstraintComponent,
    SH.maxExclusive: SH.MaxExclusiveConstraintComponent, SH["in"]: SH.InConstraintComponent,
    SH["class"]: SH.ClassConstraintComponent, SH.hasValue: SH.HasValueConstraintComponent,
    SH.pattern: SH.PatternConstraintComponent, SH.lessThanOrEquals: SH.LessThanOrEqualsConstraintComponent,
    SH.disjoint: SH.DisjointConstraintComponent, SH.node: SH.NodeConstraintComponent,
    SH["or"]: SH.OrConstraintComponent, SH["not"]: SH.NotConstraintComponent,
}
NUMERIC = {str(XSD.integer), str(XSD.decimal), str(XSD.double), str(XSD.float), str(XSD.int), str(XSD.long)}
LEXICAL = {
    str(XSD.integer): re.compile(r"^[+-]?\d+$"),
    str(XSD.decimal): re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$"),
    str(XSD.boolean): re.compile(r"^(true|false|1|0)$"),
}


@dataclass
class Shape:
    node: object  # rdflib term naming the shape
    path: str | None = None
    constraints: list[tuple] = field(default_factory=list)  # (parameter, value)
    properties: list["Shape"] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    message: str | None = None
    severity: str = str(SH.Violation)
    # The constraints with their parameters converted once (numbers, IRIs, patterns), for the hot loop; and
    # those that fail on a focus without values (minCount above 0, hasValue), the common case on a fleet.
    prepared: list[tuple] = field(default_factory=list)
    on_empty: list[tuple] = field(default_factory=list)


@dataclass(frozen=True)
class Result:
    focus: object
    path: str | None
    value: object
    component: str
    shape: object
    message: str | None
    severity: str


class UnsupportedShape(ValueError):
    pass


def _local(parameter) -> str:
    """`sh:minCount` → "minCount": plain strings keep the hot loop off rdflib's namespace lookups."""
    return str(parameter)[len(str(SH)):]


COMPONENT_BY_NAME = {_local(k): str(v) for k, v in COMPONENT.items()}


def _term(node):
    if isinstance(node, rdflib.URIRef):
        return ox.NamedNode(str(node))
    if isinstance(node, rdflib.Literal):
        if node.datatype:
            return ox.Literal(str(node), datatype=ox.NamedNode(str(node.datatype)))
        return ox.Literal(str(node), language=node.language) if node.language else ox.Literal(str(node))
    return node


class ShapesGraph:
    def __init__(self, graph: rdflib.Graph):
        self.graph = graph
        self.shapes: dict = {}
        roots = set(graph.subjects(SH.targetClass, None))
        self.roots = [self.shape(node) for node in sorted(roots, key=str)]
        # Every predicate a shape reads: its paths and the properties lessThanOrEquals / disjoint compare.
        self.predicates = frozenset(
            {shape.path for shape in self.shapes.values() if shape.path}
            | {str(value) for shape in self.shapes.values() for parameter, value in shape.constraints
               if parameter in ("lessThanOrEquals", "disjoint")})

    def shape(self, node) -> Shape:
        if node in self.shapes:
            return self.shapes[node]
        g = self.graph
        shape = Shape(node)
        self.shapes[node] = shape
        path = g.value(node, SH.path)
        if path is not None:
            if not isinstance(path, rdflib.URIRef):
                raise UnsupportedShape(f"shape {node}: only predicate paths are supported")
            shape.path = str(path)
        shape.targets = [str(c) for c in g.objects(node, SH.targetClass)]
        message = g.value(node, SH.message)
        shape.message = str(message) if message is not None else None
        severity = g.value(node, SH.severity)
        shape.severity = str(severity) if severity is not None else str(SH.Violation)
        for predicate, value in g.predicate_objects(node):
            if predicate == RDF.type or predicate in (SH.path, SH.targetClass, SH.message, SH.severity):
                continue
            if str(predicate).startswith(str(SH)) and predicate not in SUPPORTED:
                raise UnsupportedShape(f"shape {node}: {predicate} is not supported by the fast validator")
            if not str(predicate).startswith(str(SH)):
                continue
            if predicate == SH.property:
                shape.properties.append(self.shape(value))
            elif predicate in (SH["or"],):
                shape.constraints.append((predicate, [self.shape(m) for m in Collection(g, value)]))
            elif predicate in (SH["not"], SH.node):
                shape.constraints.append((predicate, self.shape(value)))
            elif predicate == SH["in"]:
                shape.constraints.append((predicate, [_term(m) for m in Collection(g, value)]))
            elif predicate in COMPONENT:
                shape.constraints.append((predicate, value))
        shape.constraints = sorted(((_local(p), v) for p, v in shape.constraints), key=lambda c: c[0])
        shape.prepared = [(parameter, value, _prepare(parameter, value)) for parameter, value in shape.constraints]
        shape.on_empty = [(parameter, value, prepared) for parameter, value, prepared in shape.prepared
                          if (parameter == "minCount" and prepared > 0) or (parameter == "maxCount" and prepared < 0)
                          or parameter == "hasValue"]
        return shape


def _prepare(parameter: str, value):
    """What the validator compares with, computed once per shape rather than once per value."""
    if parameter in ("minCount", "maxCount"):
        return int(value)
    if parameter == "hasValue":
        return _term(value)
    if parameter in BOUNDS:
        return Decimal(str(value))
    if parameter == "pattern":
        return re.compile(str(value))
    if parameter in ("datatype", "class", "lessThanOrEquals", "disjoint"):
        return str(value)
    return value


@cache
def compiled(path: str) -> ShapesGraph:
    return ShapesGraph(rdflib.Graph().parse(Path(path), format="turtle"))


class Data:
    """An index of the data graph: subject → predicate → objects, and the rdfs:subClassOf closure.

    Only predicates some shape reads are indexed (plus rdf:type and rdfs:subClassOf): on a large fleet most
    triples are of other predicates, and indexing them cost more than validating.
    """

    def __init__(self, triples, predicates: frozenset[str] | None = None):
        self.index: dict = {}
        self.types: dict = defaultdict(set)
        subclass: dict = defaultdict(set)
        rdf_type, sub = str(RDF.type), str(RDFS.subClassOf)
        wanted = None if predicates is None else predicates | {rdf_type, sub}
        index, types, named = self.index, self.types, ox.NamedNode
        # Parsers give a subject's triples one after another: comparing with the last subject is cheaper than
        # hashing a pyoxigraph term (which hashes its whole IRI on every call).
        last, node = None, None
        for s, predicate, o in triples:
            p = predicate.value
            if wanted is not None and p not in wanted:
                continue
            if node is None or s != last:
                last, node = s, index.get(s)
                if node is None:
                    node = index[s] = {}
            objects = node.get(p)
            if objects is None:
                node[p] = [o]
            else:
                objects.append(o)
            if p == rdf_type:
                types[s].add(o.value)
            elif p == sub and isinstance(o, named):
                subclass[o.value].add(s.value)
        self.subclasses: dict[str, set[str]] = {}
        self._subclass = subclass
        self._by_type: dict | None = None

    def values(self, focus, path: str) -> list:
        """The objects of `focus` by `path`: the index's own list, which callers only read."""
        node = self.index.get(focus)
        return node.get(path, NONE) if node else NONE

    def closure(self, cls: str) -> set[str]:
        if cls not in self.subclasses:
            seen, stack = {cls}, [cls]
            while stack:
                for child in self._subclass.get(stack.pop(), ()):
                    if child not in seen:
                        seen.add(child)
                        stack.append(child)
            self.subclasses[cls] = seen
        return self.subclasses[cls]

    def instances(self, cls: str) -> list:
        if self._by_type is None:  # class → its direct instances, built once rather than scanned per target
            self._by_type = defaultdict(list)
            for s, types in self.types.items():
                for t in types:
                    self._by_type[t].append(s)
        found: dict = {}  # in first-seen order, without repeats (callers sort them anyway)
        for c in self.closure(cls):
            found.update(dict.fromkeys(self._by_type.get(c, ())))
        return list(found)

    def is_instance(self, node, cls: str) -> bool:
        return bool(self.types.get(node, set()) & self.closure(cls))


NONE: tuple = ()


def _number(term):
    if not isinstance(term, ox.Literal) or term.datatype.value not in NUMERIC:
        return None
    try:
        number = Decimal(term.value)
    except InvalidOperation:
        return None
    return number if not number.is_nan() else None  # NaN compares with nothing (Decimal raises)


def _well_formed(term, datatype: str) -> bool:
    if not isinstance(term, ox.Literal) or term.datatype.value != datatype:
        return False
    pattern = LEXICAL.get(datatype)
    return pattern is None or bool(pattern.match(term.value))


MIN, MAX, HAS, EACH = range(4)  # how a constraint is judged: by the number of values, one value, or each value


class Validator:
    """Checks focus nodes against shapes. Each constraint is turned once into a test of one value (`tests`),
    so the hot loop neither dispatches on the parameter name nor converts parameters again."""

    def __init__(self, shapes: ShapesGraph, data: Data):
        self.shapes = shapes
        self.data = data
        self.plans: dict[int, list[tuple]] = {}  # id(shape) → [(parameter, kind, argument, test)]

    def plan(self, shape: Shape) -> list[tuple]:
        plan = self.plans.get(id(shape))
        if plan is None:
            plan = self.plans[id(shape)] = [self._step(parameter, value, prepared)
                                            for parameter, value, prepared in shape.prepared]
        return plan

    def _step(self, parameter: str, arg, prepared) -> tuple:
        if parameter == "minCount":
            return parameter, MIN, prepared, None
        if parameter == "maxCount":
            return parameter, MAX, prepared, None
        if parameter == "hasValue":
            return parameter, HAS, prepared, None
        return parameter, EACH, None, self._test(parameter, arg, prepared)

    def _test(self, parameter: str, arg, prepared):
        """A function (focus, value) → whether the value satisfies the constraint."""
        data, literal, blank = self.data, ox.Literal, ox.BlankNode
        if parameter == "datatype":
            pattern = LEXICAL.get(prepared)
            if pattern is None:
                return lambda focus, v: isinstance(v, literal) and v.datatype.value == prepared
            match = pattern.match
            return lambda focus, v: (isinstance(v, literal) and v.datatype.value == prepared
                                     and match(v.value) is not None)
        if parameter in BOUNDS:
            bound = BOUNDS[parameter]

            def within(focus, v) -> bool:
                number = _number(v)
                return number is not None and bound(number, prepared)
            return within
        if parameter == "in":
            return lambda focus, v: v in arg
        if parameter == "class":
            is_instance = data.is_instance
            return lambda focus, v: not isinstance(v, literal) and is_instance(v, prepared)
        if parameter == "pattern":
            search = prepared.search
            return lambda focus, v: not isinstance(v, blank) and search(v.value) is not None
        if parameter == "lessThanOrEquals":
            def at_most(focus, v) -> bool:
                mine = _number(v)
                others = [_number(o) for o in data.values(focus, prepared)]
                return all(mine is not None and o is not None and mine <= o for o in others)
            return at_most
        if parameter == "disjoint":
            return lambda focus, v: v not in data.values(focus, prepared)
        if parameter == "node":
            return lambda focus, v: self.conforms(v, arg)
        if parameter == "or":
            return lambda focus, v: any(self.conforms(v, member) for member in arg)
        if parameter == "not":
            return lambda focus, v: not self.conforms(v, arg)
        raise UnsupportedShape(parameter)

    def run(self) -> list[Result]:
        results: list[Result] = []
        try:
            for shape in self.shapes.roots:
                for cls in shape.targets:
                    for focus in sorted(self.data.instances(cls), key=str):
                        results.extend(self.check(focus, shape))
        finally:
            # The tests of sh:node, sh:or and sh:not refer back to the validator: without this cycle the
            # validator and its index are freed as soon as they are dropped, not at the next collection.
            self.plans.clear()
        return results

    def conforms(self, node, shape: Shape) -> bool:
        """Whether `node` satisfies `shape`: `check` finds no result (stopping at the first failure)."""
        if shape.path is not None:
            return self._property_conforms(node, shape)
        values = (node,)
        for _, kind, arg, test in self.plan(shape):
            if not self._step_holds(node, kind, arg, test, values):
                return False
        return all(self._property_conforms(node, prop) for prop in shape.properties)

    def _property_conforms(self, focus, shape: Shape) -> bool:
        values = self.data.values(focus, shape.path)
        if not values:
            return not shape.on_empty
        for _, kind, arg, test in self.plan(shape):
            if not self._step_holds(focus, kind, arg, test, values):
                return False
        return all(self._property_conforms(v, prop) for prop in shape.properties for v in values)

    @staticmethod
    def _step_holds(focus, kind, arg, test, values) -> bool:
        if kind == EACH:
            return all(test(focus, v) for v in values)
        if kind == MIN:
            return len(values) >= arg
        if kind == MAX:
            return len(values) <= arg
        return arg in values

    def check(self, focus, shape: Shape) -> list[Result]:
        if shape.path is not None:
            return self.check_property(focus, shape)
        results = self._check_values(focus, shape, [focus], None)
        if shape.properties:
            self._check_properties(focus, shape.properties, results)
        return results

    def check_property(self, focus, shape: Shape) -> list[Result]:
        path = shape.path
        values = self.data.values(focus, path)
        if not values:  # only minCount and hasValue can fail, and nested shapes have nothing to check
            return [self.result(focus, shape, parameter, None, path) for parameter, _, _ in shape.on_empty]
        results = self._check_values(focus, shape, values, path)
        if shape.properties:
            for v in values:
                self._check_properties(v, shape.properties, results)
        return results

    def _check_properties(self, focus, properties: list[Shape], results: list[Result]) -> None:
        """`check_property(focus, p)` for each of the properties, into `results`: the focus is looked up once."""
        node = self.data.index.get(focus)
        for prop in properties:
            values = node.get(prop.path, NONE) if node else NONE
            if not values:
                if prop.on_empty:
                    results.extend(self.result(focus, prop, parameter, None, prop.path)
                                   for parameter, _, _ in prop.on_empty)
                continue
            results.extend(self._check_values(focus, prop, values, prop.path))
            if prop.properties:
                for v in values:
                    self._check_properties(v, prop.properties, results)

    def _check_values(self, focus, shape: Shape, values, path) -> list[Result]:
        """The results of `shape`'s own constraints on the values, constraint by constraint."""
        results = []
        for parameter, kind, arg, test in self.plan(shape):
            if kind == EACH:
                for v in values:
                    if not test(focus, v):
                        results.append(self.result(focus, shape, parameter, v, path))
            elif kind == MIN:
                if len(values) < arg:
                    results.append(self.result(focus, shape, parameter, None, path))
            elif kind == MAX:
                if len(values) > arg:
                    results.append(self.result(focus, shape, parameter, None, path))
            elif arg not in values:
                results.append(self.result(focus, shape, parameter, None, path))
        return results

    def result(self, focus, shape, parameter, value, path) -> Result:
        return Result(focus, path, value, COMPONENT_BY_NAME[parameter], shape.node, shape.message, shape.severity)


BOUNDS = {
    "minInclusive": lambda n, b: n >= b, "maxInclusive": lambda n, b: n <= b,
    "minExclusive": lambda n, b: n > b, "maxExclusive": lambda n, b: n < b,
}


@without_cyclic_gc
def validate_triples(shapes_path: str, triples) -> list[Result]:
    shapes = compiled(shapes_path)
    return Validator(shapes, Data(triples, shapes.predicates)).run()
