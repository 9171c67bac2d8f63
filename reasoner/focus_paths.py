"""Which focus nodes of a rule an edited triple can reach: what lets an incremental update re-run a rule for a few
focus nodes instead of all of them (incremental.py).

A SHACL-AF rule's rows for a focus node depend only on the triples its body matches for that node. An edited
triple t changes the rows of focus node f only where some solution for f (before or after the edit) matches t at
one of the body's patterns. Such a solution also matches every pattern *co-matched* with that one: the patterns
of the same group and of the groups it joins, the outer solution of a NOT EXISTS or MINUS, the left side of an
OPTIONAL. So a chain of those patterns leads from t's terms to f's, and following it in the data from t (edges
both ways, before and after the edit) reaches f, and perhaps a few more. For each pattern, `analyse` keeps the
shortest such chains (up to CHAINS) from its variables to `?this`, through co-matched patterns only.

Every chain reaches every focus node whose rows the triple can change (each runs through patterns the same
solution matches), so what all of them reach does too: the update follows each and keeps what they all reach.
That matters where the shortest chain runs through the ontology. D05 joins a diagnosis to another by their
modes and by a shared serving path. From the modes (`?mode sai:intensifies ?otherMode`), a changed diagnosis
reaches the 892 diagnoses of the 100k fleet with a mode it intensifies; along the serving path, only a few.

A UNION is co-matched as one step with a way through each branch (`Either`): every solution matches one branch,
so what is reached through every branch's chain holds each focus node. Its branches' chains run through their own
patterns, and a step `BIND (?a AS ?b)` (an alias of a variable its group binds) is a way of length zero. S06 finds
a measurement's workloads by such a UNION, and C02 a loop's nodes (a pool's, or a node governed directly).

Where no chain exists the rule's rows may change for any focus node, and the rule re-runs in full: a pattern
reached only through a computed value (BIND of an expression, an aggregate), an aggregate over the whole fleet, a
pattern under LIMIT, a UNION one of whose branches does not bind both ends. Leaving a pattern out of the
co-matched set is always safe (fewer chains, more full re-runs); putting one in that a solution need not match
would not be.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import count, islice
from typing import Callable, Iterable

import networkx as nx
import rdflib
from rdflib.plugins.sparql.parserutils import CompValue

THIS = rdflib.Variable("this")
CHAINS = 3  # chains kept per pattern, the shortest first
NARROW_ENOUGH = 8  # focus nodes below which the next chains are not followed: re-running for a few costs little


@dataclass(frozen=True)
class Either:
    """One step through a UNION: a chain through each branch, from the same variable to the same variable (an empty
    chain: the branch aliases one to the other)."""

    branches: tuple[tuple["Step", ...], ...]

    def reversed(self) -> "Either":
        return Either(tuple(_reversed(branch) for branch in self.branches))


# (predicate IRI, forward: from the pattern's subject to its object), or a step through a UNION
Step = tuple[str, bool] | Either


def _reversed(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    return tuple(s.reversed() if isinstance(s, Either) else (s[0], not s[1]) for s in reversed(steps))


@dataclass(frozen=True)
class Reach:
    """A pattern of the body (or of the template), and the chain from one of its variables to ?this.

    `subject`/`object` are the pattern's constants (None for a variable); `start` is "s" or "o", the variable the
    chain starts from; `steps` is None where no chain exists (the rule then re-runs in full). `others` are the
    next shortest chains, as (start, steps)."""

    subject: rdflib.term.Node | None
    predicate: str
    object: rdflib.term.Node | None
    start: str
    steps: tuple[Step, ...] | None
    others: tuple[tuple[str, tuple[Step, ...]], ...] = ()


@dataclass(frozen=True)
class FocusPaths:
    body: tuple[Reach, ...]  # what an edited triple reaches through what the body matches
    template: tuple[Reach, ...]  # what a triple no longer asserted reaches: the rows that may now conclude it
    # Whether a focused re-run may restrict the subqueries that project ?this as well (`_Walker._subquery`):
    # Oxigraph evaluates a subquery in full before joining it. Then `subqueries_of_this` is how many project it
    # first, which the text must show as many times (`incremental._focused_select`).
    restrict_subqueries: bool = False
    subqueries_of_this: int = 0
    # Template variables that only a BIND(IRI(CONCAT(...))) binds, on the path of every row (nothing else in the
    # body binds them: a row where the BIND fails leaves them unbound, and concludes no triple of theirs): the
    # string parts each such IRI contains (a triple without them is not the rule's to conclude).
    minted: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Those bound by BIND (IRI (CONCAT (STR (?source), "text", ...))): (variable, source, text, whether the IRI is
    # that and no more). The IRI then gives what ?source may be: what precedes "text" (`made_from`).
    minted_from: tuple[tuple[str, str, str, bool], ...] = ()
    # The variables of the body's first triples, which every row binds before anything else reads them: values
    # given for them may open the body (`incremental._Changes._concluding`) without changing what it matches.
    leading: tuple[str, ...] = ()


def analyse(algebra: CompValue, template: Iterable[tuple], target_class: str,
            base: str | None = None) -> FocusPaths | None:
    """The chains of a rule whose focus is `?this a target_class` (the product's rules); None where the body holds
    something this analysis does not know (a property path, a variable predicate, GRAPH, SERVICE)."""
    focus = (THIS, rdflib.RDF.type, rdflib.URIRef(target_class))
    walker = _Walker(focus)
    try:
        walker.walk(algebra, [focus], _same, local=True)
        root = walker.required(algebra, _same) + [focus]
    except _Unknown:
        return None
    if any(not isinstance(t[1], rdflib.URIRef) or isinstance(t[0], rdflib.BNode) or isinstance(t[2], rdflib.BNode)
           for t in template):
        return None
    body = [_reach(t, context, local) for t, context, local in walker.found]
    body.append(_reach(focus, [focus], True))
    # Under a BASE, IRI() resolves a relative string, dot segments and all: what it makes need not contain the parts.
    bound = _bindings(algebra)
    binds = [] if base else [(var, e) for var, e in _binds_on_every_row(algebra) if bound[var] == 1]
    minted = {var: parts for var, expression in binds if (parts := _minted_parts(expression)) is not None}
    # A source that a first triple has as its subject is no literal: its STR () is its IRI.
    first = _first_triples(algebra)
    named = {THIS} | {t[0] for t in first if isinstance(t[0], rdflib.Variable)}
    made = sorted((var, *source) for var, expression in binds
                  if (source := _made_from_variable(expression)) and rdflib.Variable(source[0]) in named)
    return FocusPaths(tuple(body), tuple(_reach(t, root, True) for t in template), walker.restrictable,
                      walker.subqueries_of_this, tuple(sorted(minted.items())), tuple(made),
                      tuple(sorted({str(term) for t in first for term in t if isinstance(term, rdflib.Variable)})))


def made_from(iri: str, text: str, whole: bool) -> list[str]:
    """What STR (?source) may be in an IRI made as CONCAT (STR (?source), text, ...): what precedes each
    occurrence of the text (only at the end, for an IRI that is the two and no more)."""
    if whole:
        return [iri[:-len(text)]] if iri.endswith(text) and len(iri) > len(text) else []
    found, at = [], iri.find(text, 1)
    while at != -1:
        found.append(iri[:at])
        at = iri.find(text, at + 1)
    return found


class _Unknown(Exception):
    pass


def _same(variable):
    return variable


class _Walker:
    """Walks the SPARQL algebra, recording each triple pattern with the patterns co-matched with it."""

    TRANSPARENT = ("Extend", "Distinct", "Reduced", "OrderBy", "Group", "AggregateJoin", "Project")

    def __init__(self, focus: tuple):
        self.found: list[tuple[tuple, list[tuple], bool]] = []
        self.scopes = count(1)
        self.focus = [focus]  # `?this a <class>`: every row matches it
        self.restrictable = True  # every subquery that projects ?this may be restricted to the focus nodes
        self.subqueries_of_this = 0  # those that project ?this first

    def required(self, node, rename) -> list[tuple]:
        """Patterns every solution of `node` matches (a subset is safe)."""
        if not isinstance(node, CompValue):
            return []
        name = node.name
        if name in ("BGP", "TriplesBlock"):
            return [self._triple(t, rename) for t in node.triples]
        if name == "Join":
            return self.required(node.p1, rename) + self.required(node.p2, rename)
        if name in ("LeftJoin", "Minus"):
            return self.required(node.p1, rename)
        if name == "Extend":
            inner = self.required(node.p, rename)
            return inner + self._alias(node, inner, rename)
        if name == "Filter" or name in self.TRANSPARENT:
            return self.required(node.p, rename)
        if name == "Union":
            return self._union([self.required(node.p1, rename), self.required(node.p2, rename)])
        if name == "ToMultiSet":
            projection = self._projection(node.p, rename)
            return [] if projection is None else self.required(projection[0], projection[1])
        return []  # Slice, VALUES: nothing certain (safe)

    @staticmethod
    def _alias(extend, inner: list[tuple], rename) -> list[tuple]:
        """`BIND (?a AS ?b)` where the group binds ?a on every row: ?b is ?a, a step of length zero. (A computed
        value, such as an aggregate's, is no alias: rdflib names it by a variable no pattern binds.)"""
        if isinstance(extend.expr, rdflib.Variable):
            source = rename(extend.expr)
            if any(source in (t[0], t[2]) for t in inner):
                return [(rename(extend.var), Either(((),)), source)]
        return []

    @staticmethod
    def _union(branches: list[list[tuple]]) -> list[tuple]:
        """What every solution of a UNION matches: for two variables each branch binds, a step through each branch
        (its shortest chain between them, through its own patterns)."""
        graphs = [_graph(patterns) for patterns in branches]
        common = set.intersection(*(set(g.nodes) for g in graphs))
        links = []
        for a, b in sorted((a, b) for a in common for b in common if str(a) < str(b)):
            ways = [_steps(g, nx.shortest_path(g, a, b)) if nx.has_path(g, a, b) else None for g in graphs]
            if all(way is not None for way in ways):
                links.append((a, Either(tuple(ways)), b))
        return links

    def walk(self, node, context: list[tuple], rename, local: bool) -> None:
        if isinstance(node, (list, tuple)):
            for value in node:
                self.walk(value, context, rename, local)
            return
        if not isinstance(node, CompValue):
            return
        name = node.name
        if name in ("BGP", "TriplesBlock"):
            triples = [self._triple(t, rename) for t in node.triples]
            for t in triples:
                self.found.append((t, context + triples, local))
        elif name == "Join":
            self.walk(node.p1, context + self.required(node.p2, rename), rename, local)
            self.walk(node.p2, context + self.required(node.p1, rename), rename, local)
        elif name == "LeftJoin":
            # The right side is co-matched with the left only: a solution it extends may then fail a later join
            # (`?w :d ?this` after `OPTIONAL { ?w :c ?x }`), so what is joined around the OPTIONAL is left out.
            self.walk(node.p1, context, rename, local)
            left = self.required(node.p1, rename)
            self.walk(node.p2, self.focus + left, rename, local)
            self._expression(node.get("expr"), self.focus + left + self.required(node.p2, rename), rename, local)
        elif name == "Minus":  # its right side shares only the left side's variables
            self.walk(node.p1, context, rename, local)
            self.walk(node.p2, self.focus + self.required(node.p1, rename), rename, local)
        elif name == "Union":
            self.walk(node.p1, context, rename, local)
            self.walk(node.p2, context, rename, local)
        elif name in ("Filter", "Extend"):  # (NOT) EXISTS sees the solution of `p` only
            alias = self._alias(node, self.required(node.p, rename), rename) if name == "Extend" else []
            self.walk(node.p, context + alias, rename, local)
            self._expression(node.get("expr"), self.focus + self.required(node.p, rename), rename, local)
        elif name == "ToMultiSet":
            self._subquery(node.p, context, rename, local)
        elif name == "Slice":  # LIMIT: a solution anywhere can push another out
            self.walk(node.p, context, rename, False)
        elif name in self.TRANSPARENT:
            self.walk(node.p, context, rename, local)
            if name == "AggregateJoin":
                self._expression(node.get("A"), context, rename, local)
        elif name in ("values", "ValuesClause"):
            return
        else:
            raise _Unknown(name)

    def _subquery(self, node, context, rename, local) -> None:
        """A subquery: only what it projects is shared with the outside (`_projection`)."""
        projection = self._projection(node, rename)
        if projection is None:
            return
        body, inner, limited, variables = projection
        local = local and not limited
        if THIS in variables:
            # Restricting this subquery to the focus nodes too (VALUES ?this first in its group) drops only rows
            # that no final row can use: its ?this is the focus node's (every enclosing subquery projects it),
            # what the group starts with binds it on every row (triples, each branch of a UNION, or a subquery
            # grouped by it: `_starts_with`), so the VALUES is a filter on them, before any OPTIONAL, MINUS or
            # BIND; and no LIMIT picks among its rows. `_focused_select` finds such a subquery by its text,
            # `SELECT ?this ...`: ?this projected first, as counted here.
            if not (inner(THIS) == THIS and local and _starts_with(body, THIS)):  # ?this grouped on, not renamed
                self.restrictable = False
            if variables[0] == THIS:
                self.subqueries_of_this += 1
        self.walk(body, context, inner, local)

    def _projection(self, node, rename):
        """(its body, the renaming of its variables, whether a LIMIT picks among its rows, the variables it selects) of a
        subquery; None for one that is only VALUES. Grouped, only its group keys keep their values (an
        aggregate's result is computed, not matched); every other variable is its own, renamed in a new scope."""
        limited = False
        while isinstance(node, CompValue) and node.name in ("Distinct", "Reduced", "OrderBy"):
            node = node.p
        if isinstance(node, CompValue) and node.name == "Slice":
            limited, node = True, node.p
            while isinstance(node, CompValue) and node.name in ("Distinct", "Reduced", "OrderBy"):
                node = node.p
        if not isinstance(node, CompValue) or node.name != "Project":
            if isinstance(node, CompValue) and node.name not in ("values", "ValuesClause"):
                raise _Unknown(f"a subquery of the form {node.name}")
            return None
        projected = set(node.PV)
        group = _find(node.p, "Group")
        if group is not None:
            keys = group.get("expr") or []
            projected &= {k for k in keys if isinstance(k, rdflib.Variable)}
        scope = next(self.scopes)

        def inner(variable):
            return rename(variable) if variable in projected else rdflib.Variable(f"{variable}@{scope}")

        return node.p, inner, limited, list(node.PV)

    def _expression(self, expression, context, rename, local) -> None:
        """EXISTS and NOT EXISTS graphs inside an expression: co-matched with the solution the expression tests."""
        if isinstance(expression, (list, tuple)):
            for value in expression:
                self._expression(value, context, rename, local)
        elif isinstance(expression, CompValue):
            if expression.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
                self.walk(expression.graph, context, rename, local)
            else:
                for value in expression.values():
                    self._expression(value, context, rename, local)

    @staticmethod
    def _triple(triple, rename) -> tuple:
        s, p, o = triple
        if not isinstance(p, rdflib.URIRef):
            raise _Unknown("a property path or a variable predicate")
        if isinstance(s, rdflib.BNode) or isinstance(o, rdflib.BNode):
            raise _Unknown("a blank node in a pattern (a variable that is not named)")
        return (rename(s) if isinstance(s, rdflib.Variable) else s, p,
                rename(o) if isinstance(o, rdflib.Variable) else o)


def _starts_with(node, variable) -> bool:
    """Whether the triples a group starts with bind `variable`: its leftmost triple block, down the left of joins,
    OPTIONALs, MINUS, FILTER, BIND, grouping and projection; for a UNION, in each branch; for a subquery that
    projects it (and groups on it, if grouped), in the subquery's group. False if it starts otherwise (VALUES, a
    subquery that does not project it)."""
    while isinstance(node, CompValue):
        name = node.name
        if name in ("BGP", "TriplesBlock"):
            return any(variable in (t[0], t[2]) for t in node.triples)
        if name == "Union":
            return _starts_with(node.p1, variable) and _starts_with(node.p2, variable)
        if name == "ToMultiSet":
            projection = node.p
            while isinstance(projection, CompValue) and projection.name in ("Distinct", "Reduced", "OrderBy"):
                projection = projection.p
            if not (isinstance(projection, CompValue) and projection.name == "Project" and variable in projection.PV):
                return False
            group = _find(projection.p, "Group")
            if group is not None and variable not in (group.get("expr") or []):
                return False
            node = projection.p
            continue
        if name in ("Join", "LeftJoin", "Minus"):
            node = node.p1
        elif name in ("Filter", "Extend", "Distinct", "Reduced", "OrderBy", "Group", "AggregateJoin", "Project"):
            node = node.p
        else:
            return False
    return False


def _bindings(node) -> Counter:
    """How often each variable is bound anywhere in the body, subqueries included: once per triple pattern it is in,
    per BIND or aggregate to it, per VALUES and per GRAPH that names it."""
    found: Counter = Counter()
    pending = [node]
    while pending:
        node = pending.pop()
        if isinstance(node, (list, tuple)):
            pending += node
            continue
        if not isinstance(node, CompValue):
            continue
        if node.name == "BGP":
            found.update(str(term) for t in node.triples for term in t if isinstance(term, rdflib.Variable))
        elif node.name == "Extend":
            found[str(node.var)] += 1
        elif node.name == "values":
            found.update({str(v) for row in node.res for v in row})
        elif node.name == "Graph" and isinstance(node.term, rdflib.Variable):
            found[str(node.term)] += 1
        pending += [v for k, v in node.items() if k != "_vars"]
    return found


def _binds_on_every_row(node):
    """(variable, expression) of each BIND on every row: along Join, Filter, Extend and the left side of an OPTIONAL
    or MINUS from the root, never inside a UNION branch, an OPTIONAL or a subquery."""
    pending = [node]
    while pending:
        node = pending.pop()
        if not isinstance(node, CompValue):
            continue
        name = node.name
        if name == "Extend":
            yield str(node.var), node.expr
            pending.append(node.p)
        elif name in ("Project", "Filter", "Distinct", "Reduced", "OrderBy"):
            pending.append(node.p)
        elif name == "Join":
            pending += [node.p1, node.p2]
        elif name in ("LeftJoin", "Minus"):
            pending.append(node.p1)


def _first_triples(node) -> list:
    """The first block of triples of the root group, which the rest of the group (its FILTERs, BINDs, OPTIONALs,
    MINUS) evaluates over: down the left of Join, LeftJoin and Minus, through Filter and Extend; none where the
    group opens otherwise (a UNION, a subquery, VALUES, OPTIONAL, BIND or GRAPH)."""
    while isinstance(node, CompValue):
        if node.name == "BGP":
            return list(node.triples)
        if node.name in ("Project", "Filter", "Distinct", "Reduced", "OrderBy", "Extend"):
            node = node.p
        elif node.name in ("Join", "LeftJoin", "Minus"):
            node = node.p1
        else:
            break
    return []


def _minted_parts(expression) -> tuple[str, ...] | None:
    """The string parts of IRI (CONCAT (...)) or IRI ("..."), which every IRI it makes contains; None for another
    expression."""
    if not (isinstance(expression, CompValue) and expression.name == "Builtin_IRI"):
        return None
    argument = expression.arg
    parts = argument.arg if isinstance(argument, CompValue) and argument.name == "Builtin_CONCAT" else [argument]
    return tuple(str(p) for p in parts if isinstance(p, rdflib.Literal))


def _made_from_variable(expression) -> tuple[str, str, bool] | None:
    """(source, text, whole) for IRI (CONCAT (STR (?source), "text", ...)); None for another expression."""
    if not (isinstance(expression, CompValue) and expression.name == "Builtin_IRI"):
        return None
    argument = expression.arg
    if not (isinstance(argument, CompValue) and argument.name == "Builtin_CONCAT" and len(argument.arg) >= 2):
        return None
    first, text = argument.arg[0], argument.arg[1]
    if isinstance(first, CompValue) and first.name == "Builtin_STR" and isinstance(first.arg, rdflib.Variable) \
            and isinstance(text, rdflib.Literal) and text.language is None and str(text):
        return str(first.arg), str(text), len(argument.arg) == 2
    return None


def _find(node, name: str) -> CompValue | None:
    """The first node of that name under `node`, not descending into subqueries."""
    if isinstance(node, CompValue):
        if node.name == name:
            return node
        if node.name == "ToMultiSet":
            return None
        for value in node.values():
            found = _find(value, name)
            if found is not None:
                return found
    elif isinstance(node, (list, tuple)):
        for value in node:
            found = _find(value, name)
            if found is not None:
                return found
    return None


def _reach(triple: tuple, context: list[tuple], local: bool) -> Reach:
    s, p, o = triple
    constant = lambda t: None if isinstance(t, rdflib.Variable) else t  # noqa: E731
    chains: list[tuple[str, tuple[Step, ...]]] = []
    if local:
        # Not the pattern's own edge: a chain from one of its ends through the other is the other's chain, one
        # step longer.
        graph = _graph([t for t in context if tuple(t) != tuple(triple)])
        for start, variable in (("s", s), ("o", o)):
            if isinstance(variable, rdflib.Variable):
                chains += [(start, steps) for steps in _chains_from(graph, variable)]
    chains.sort(key=lambda chain: len(chain[1]))  # stable: the subject's first where they are as short
    if not chains:
        return Reach(constant(s), str(p), constant(o), "s", None)
    (start, steps), *others = chains[:CHAINS]
    return Reach(constant(s), str(p), constant(o), start, steps, tuple(others))


def _graph(patterns: list[tuple]) -> nx.Graph:
    """Variables joined by the patterns (triples, and UNION steps): between two variables, the edge of the first
    predicate (deterministic), a triple's before a UNION's."""
    graph = nx.Graph()
    for cs, cp, co in sorted(patterns, key=lambda t: (isinstance(t[1], Either), str(t[1]))):
        if isinstance(cs, rdflib.Variable) and isinstance(co, rdflib.Variable) and cs != co \
                and not graph.has_edge(cs, co):
            graph.add_edge(cs, co, step=cp if isinstance(cp, Either) else (str(cp), True), subject=cs)
    return graph


def _steps(graph: nx.Graph, nodes: list) -> tuple[Step, ...]:
    """A path of variables as the steps that walk it, each edge taken from `a` to `b`."""
    steps = []
    for a, b in zip(nodes, nodes[1:]):
        edge = graph.edges[a, b]
        step = edge["step"]
        if edge["subject"] != a:
            step = step.reversed() if isinstance(step, Either) else (step[0], False)
        if isinstance(step, Either) and len(step.branches) == 1:
            steps += step.branches[0]  # an alias: no step at all
        else:
            steps.append(step)
    return tuple(steps)


def _chains_from(graph: nx.Graph, variable) -> list[tuple[Step, ...]]:
    """The shortest simple paths from `variable` to ?this (at most CHAINS), as steps."""
    if variable == THIS:
        return [()]
    if variable not in graph or THIS not in graph or not nx.has_path(graph, variable, THIS):
        return []
    return [_steps(graph, nodes) for nodes in islice(nx.shortest_simple_paths(graph, variable, THIS), CHAINS)]


# --- at update time ---------------------------------------------------------------------------------------------


def reached(entries: Iterable[Reach], edited: dict[str, list], step: Callable[[object, str, bool], Iterable],
            constant: Callable[[object], object], limit: int) -> set | None:
    """The focus nodes the edited triples (by predicate IRI) reach through `entries`; None for all of them (a
    pattern with no chain matched, or more than `limit` were reached). `step(term, predicate, forward)` gives the
    terms one edge away in the data, before and after the edit. Of a pattern's chains, each that stays within the
    limit narrows what the pattern reaches."""
    focus: set = set()
    memo: dict[tuple, set | None] = {}

    def follow(value, steps: tuple[Step, ...]) -> set | None:
        found = memo.get((value, steps), False)
        if found is False:
            found = memo[value, steps] = _walk({value}, steps, step, limit)
        return found

    for entry in entries:
        for triple in edited.get(entry.predicate, ()):
            if entry.subject is not None and triple.subject != constant(entry.subject):
                continue
            if isinstance(entry.object, rdflib.URIRef) and triple.object != constant(entry.object):
                continue  # a literal constant is not compared (its lexical form may differ): it may match
            if entry.steps is None:
                return None
            narrowest = None
            for start, steps in ((entry.start, entry.steps), *entry.others):
                if narrowest is not None and len(narrowest) <= NARROW_ENOUGH:
                    break
                found = follow(triple.subject if start == "s" else triple.object, steps)
                if found is not None:
                    narrowest = found if narrowest is None else narrowest & found
            if narrowest is None:
                return None
            focus |= narrowest
            if len(focus) > limit:
                return None
    return focus


def _walk(found: set, steps: tuple[Step, ...], step: Callable[[object, str, bool], Iterable],
          limit: int) -> set | None:
    """What `found` reaches through `steps`; None past `limit`. Not a closure that calls itself: that would be a
    reference cycle holding `step`, its update (incremental._Changes) and all the update read, which only the
    cyclic collector frees, and `incremental.update` freezes it out of the collector's reach first."""
    for one in steps:
        if isinstance(one, Either):
            ways = [_walk(found, branch, step, limit) for branch in one.branches]
            found = None if any(way is None for way in ways) else set().union(*ways)
        else:
            predicate, forward = one
            found = {n for term in found for n in step(term, predicate, forward)}
        if found is None or len(found) > limit:
            return None
    return found
