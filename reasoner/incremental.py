"""Re-diagnosis after an edit: the inferred graph is updated in place, re-running only the rules whose inputs
changed, and leaves the store and the provenance exactly as a full run over the edited description would.

The unit of recomputation is the rule and its focus nodes, not the tuple. A rule whose inputs changed is re-run
against a store whose earlier strata are already up to date, and the result replaces what it derived before: that
is what keeps negation (FILTER NOT EXISTS, MINUS), OPTIONAL and aggregates right, which delta rules at tuple level
would each need a case of their own for. A rule whose inputs did not change keeps its derivations: its body reads
the same triples and gives the same rows (in the order of their text, see engine._rows).

A SHACL-AF rule's rows for a focus node depend only on what its body matches for that node, so a rule is re-run
only for the focus nodes the edit reaches through its body (focus_paths.py), with the body restricted to them by
VALUES: those rows replace the rows of the same focus nodes. Where that could not give what a full re-run gives
(no chain from an edited pattern to ?this, a recursive stratum, too many focus nodes), the rule re-runs in full.
At 100k triples a changed measurement re-runs 21 rules, each for 1 to 16 focus nodes (benchmarks/incremental_run.py).

The inputs of a rule are what it reads (`Rule.reads`, the keys stratification orders by) and, for what it
concludes, what is asserted: an asserted triple is never derived. Provenance has one more coupling: a triple's
derivations are kept in rule order, at most MAX_ALTERNATIVES of them (see `_Changes.rerun`).

A re-run rule sees what later rules derived before the edit. That is harmless for the reason stratification
itself is sound: a later rule writes nothing an earlier one reads, and where reads are refined by subject
class (the product's rule base, not a foreign file) that rests on the ontology's disjoint classes.
"""

from __future__ import annotations

import gc
import re
import time
from collections import Counter
from itertools import chain
from dataclasses import dataclass, fields

import pyoxigraph as ox
import rdflib

from .collector import without_cyclic_gc
from .description import Description
from .engine import (MAX_ALTERNATIVES, RDF_TYPE, Reasoning, _apply, _cell_index, _conclusion_terms, _conclusions,
                     _evaluate, _fixpoint, _infer, _Lookahead, _touches, asserted_key)
from .focus_paths import made_from, reached
from .headlines import touched_by
from .provenance import to_ox, triple_key
from .rules import ANY, SELECT_ALL, Rule, RuleBase, matches


# Above this share of the rule base reachable from an edit (by stratification) and re-run in full wherever reached
# (recursive, or without focus paths), a full inference is cheaper than re-running rule by rule.
FULL_INFERENCE_ABOVE = 0.5
# A rule the edit reaches at more focus nodes than this, or than this share of its target class, re-runs in full:
# a focused re-run checks each triple its rows conclude against the derivations kept, a full one does not (at 100k,
# S06 for all its 416 measurements: 0.66 s focused, 0.29 s in full).
MAX_FOCUS = 2000
MAX_FOCUS_SHARE = 0.25
MAX_WIDENINGS = 3  # focus nodes added because their rows conclude the same triples (`rerun_focused`)


@dataclass
class Update:
    asserted_added: int
    asserted_removed: int
    inferred_added: int  # net: a triple removed and derived again during the update counts as neither
    inferred_removed: int
    rerun: tuple[str, ...]  # the rules re-run, in order
    seconds: float
    full: bool = False  # the edit reached most of the rule base: a full inference was cheaper
    focused: tuple[str, ...] = ()  # those of `rerun` re-run only for the focus nodes the edit reaches


def update(reasoning: Reasoning, description: Description) -> Update:
    """Make `reasoning` what `infer(description)` would give, `description` being an edit of the one it holds
    (a description of another name has other graph names: that is a full inference, into the same store).
    Should it raise, the reasoning is left half-updated: infer again."""
    gc.unfreeze()
    result = without_cyclic_gc(_update)(reasoning, description)
    gc.freeze()  # as `infer` does: the provenance lives on, and full collections would rescan it
    return result


def _key(triple: ox.Triple) -> tuple[str, str]:
    """What a triple is, as rules read and write it: its predicate, and its class if it is a type triple."""
    predicate = triple.predicate.value
    return (predicate, triple.object.value if predicate == RDF_TYPE else ANY)


def _update(reasoning: Reasoning, description: Description) -> Update:
    started = time.perf_counter()
    store, rule_base = reasoning.store, reasoning.rule_base
    asserted, inferred = reasoning.asserted_graph, reasoning.inferred_graph
    before, after = set(reasoning.description.triples), set(description.triples)
    added, removed = after - before, before - after
    edited = {_key(t) for t in added | removed}  # what a body may now read differently
    unasserted = {_key(t) for t in removed}  # what a rule may now derive, no longer being asserted
    reachable = _reachable(rule_base, edited, unasserted)
    in_full = {r.rule_id for stratum, recursive in zip(rule_base.strata, rule_base.recursive) for r in stratum
               if recursive or r.focus_paths is None}
    if len(reachable & in_full) > FULL_INFERENCE_ABOVE * len(rule_base.rules) \
            or description.base != reasoning.description.base:
        return _full(reasoning, description, started, len(added), len(removed))
    for t in removed:
        store.remove(ox.Quad(t.subject, t.predicate, t.object, asserted))
    store.extend(ox.Quad(t.subject, t.predicate, t.object, asserted) for t in added)
    reasoning.description = description
    reasoning.asserted_predicates |= {asserted_key(t) for t in added}

    changes = _Changes(reasoning, added, removed)
    provenance = reasoning.derivations
    for t in added:
        key = provenance.terms.key(t)
        if key is not None and provenance.has(key):  # asserted now: derived no more, as in a full run
            provenance.set_refs(key, [])
            store.remove(_quad(t, inferred))
            changes.touched.add(key)

    no_longer_asserted = _by_predicate(removed)
    forced: dict[str, set[int]] = {}  # rule id -> keys of triples it may have derivations of that had no room
    rerun: list[str] = []
    focused: list[str] = []
    by_id = rule_base.by_id()
    # The second thread evaluates ahead only what re-runs in full anyway; a focused re-run is a small query.
    ahead = {r for r in reachable if by_id[r].focus_paths is None}
    with _Lookahead(reasoning, ahead) as lookahead:
        for stratum, recursive in zip(rule_base.strata, rule_base.recursive):
            read_changed = edited | changes.keys()
            if any(rule.rule_id in forced or any(_touches(k, rule.reads) for k in read_changed)
                   or any(_touches(k, rule.writes) for k in unasserted) for rule in stratum):
                rule = stratum[0]
                focus = None if recursive else changes.focus_of(rule, no_longer_asserted, forced.get(rule.rule_id))
                later = None if focus is None else changes.rerun_focused(rule, focus)
                if later is not None:
                    if focus:
                        rerun.append(rule.rule_id)
                        focused.append(rule.rule_id)
                else:
                    later = changes.rerun(stratum, recursive, lookahead)
                    rerun += [r.rule_id for r in stratum]
                for rule_id, keys in later.items():
                    forced.setdefault(rule_id, set()).update(keys)
            lookahead.completed(stratum)
    reasoning.cells = _cell_index()
    if reasoning.touched is not None:  # what the diagnoses read again (diagnoses.py)
        terms = provenance.terms
        reasoning.touched |= touched_by(chain(added, removed, (terms.triple(k) for k in changes.touched)))
    net = changes.net.values()
    return Update(len(added), len(removed), sum(present for present, _ in net),
                  sum(not present for present, _ in net), tuple(rerun), time.perf_counter() - started,
                  focused=tuple(focused))


def _full(reasoning: Reasoning, description: Description, started: float, added: int, removed: int) -> Update:
    """A full inference into the same store: an edit that reaches most of the rule base re-runs nearly every rule,
    and one rule at a time (with the bookkeeping of what it derived before) that cost 1.3 × a full inference."""
    old = reasoning.derivations
    store = reasoning.store
    store.clear()
    fresh = _infer(description, reasoning.rule_base, store, None, reasoning.background)
    for f in fields(Reasoning):
        setattr(reasoning, f.name, getattr(fresh, f.name))
    return Update(added, removed, fresh.derivations.count_not_in(old), old.count_not_in(fresh.derivations),
                  tuple(r.rule_id for stratum in reasoning.rule_base.strata for r in stratum),
                  time.perf_counter() - started, full=True)


class _Changes:
    """What the update did to the inferred graph so far (net), and which rule concluded which triple."""

    def __init__(self, reasoning: Reasoning, added: set[ox.Triple], removed: set[ox.Triple]):
        self.reasoning = reasoning
        order = [rule for stratum in reasoning.rule_base.strata for rule in stratum]
        self.position = {id(rule): i for i, rule in enumerate(order)}
        self.order = order
        # triple key -> (True: derived now and not before, or False: the reverse; the keys it counts for)
        self.net: dict[int, tuple[bool, frozenset]] = {}
        self.counts: Counter = Counter()
        if reasoning.concluded_by_rule is None:
            reasoning.concluded_by_rule = {}
        self.concluded = reasoning.concluded_by_rule  # rule id -> focus node id -> keys (`_concluded`)
        # What a body may now match differently (asserted or derived, either way), by predicate; and what is gone,
        # for following chains through the data as it was (`focus_of`).
        self.edited: dict[str, list[ox.Triple]] = {}
        self.gone_forward: dict[tuple, list] = {}
        self.gone_backward: dict[tuple, list] = {}
        self.predicates: dict[str, ox.NamedNode] = {}
        self.constants: dict = {}
        self.instances: dict[str, int] = {}  # target class -> its instances, when the update first asked
        self.touched: set[int] = set()  # keys of the triples whose presence or derivations a re-run may have changed
        for t in added:
            self._edited(t, True)
        for t in removed:
            self._edited(t, False)

    def keys(self) -> set[tuple[str, str]]:
        return {k for k, n in self.counts.items() if n}

    def focus_of(self, rule: Rule, no_longer_asserted: dict[str, list[ox.Triple]],
                 room: set[int] | None = None) -> set | None:
        """The focus nodes whose rows of the rule the edit so far can change (focus_paths.py), and those whose
        rows conclude a triple (key in `room`) that may now have room for derivations left out; None for all."""
        paths = rule.focus_paths
        if paths is None:
            return None
        found = reached(paths.body, self.edited, self._step, self._constant, MAX_FOCUS)
        if found is None:
            return None
        more = reached(paths.template, no_longer_asserted, self._step, self._constant, MAX_FOCUS)
        if more is None:
            return None
        found |= more
        if room:
            terms = self.reasoning.derivations.terms
            concluding = self._concluding(rule, [terms.triple(k) for k in room])
            if concluding is None:
                return None
            found |= {terms.terms[i] for i in concluding}
        if len(found) > min(MAX_FOCUS, MAX_FOCUS_SHARE * self._instances(rule.target_class)):
            return None
        return found if all(isinstance(f, ox.NamedNode) for f in found) else None  # VALUES holds no blank node

    def _instances(self, target_class: str) -> int:
        found = self.instances.get(target_class)
        if found is None:
            found = self.instances[target_class] = sum(1 for _ in self.reasoning.store.quads_for_pattern(
                None, ox.NamedNode(RDF_TYPE), ox.NamedNode(target_class)))
        return found

    def rerun_focused(self, rule: Rule, focus: set[ox.NamedNode]) -> dict[str, set[int]] | None:
        """Re-run a rule (of a stratum of its own, not recursive) for these focus nodes only, in place of what their
        rows derived before; the later rules that must re-run as well. None, having changed nothing, where that
        would not give what a full re-run gives: a triple it concludes has derivations from rows of other focus
        nodes (their order among the rule's own is the order of all its rows), or rows the list had no room for."""
        if not focus:
            return {}  # no row of the rule can have changed
        reasoning = self.reasoning
        provenance = reasoning.derivations
        terms, rule_of, position = provenance.terms, provenance.rule_of, self.position
        if rule.aggregates and any(rule_of(r) is rule for r in provenance.omitted):
            return None  # a merge cut short: the focus nodes of the rows it left out are not known
        ids = {terms.id(f) for f in focus}
        mine = position[id(rule)]
        by_focus = self.concluded.get(rule.rule_id)  # kept up to date where an earlier update built it
        queried: set[int] = set()  # keys whose focus nodes were all looked up (`_concluding`)
        for _ in range(MAX_WIDENINGS + 1):
            tsv = _evaluate(reasoning.store, _focused_select(rule, {terms.terms[i] for i in ids}),
                            use_default_graph_as_union=True)
            grouped = names, rows = _conclusions(rule, reasoning, tsv)
            if "this" not in names or not _same_columns(provenance, rule, names):
                return None
            this_at = names.index("this")
            old = self._keys_of(rule, ids)
            new = {triple_key(k[i], k[i + 1], k[i + 2]) for k in rows for i in range(0, len(k), 3)}
            before: dict[int, list[int]] = {}
            others: set[int] = set()  # focus nodes whose rows also conclude one of these triples
            unknown: list[int] = []  # keys some of whose rows may not be kept: a full list, a merge cut short
            for key in old | new:
                known = provenance.refs(key)
                full = sum(1 for r in known if position[id(rule_of(r))] <= mine) >= MAX_ALTERNATIVES
                for r in known:
                    if rule_of(r) is rule:
                        full = full or r in provenance.omitted
                        others.update(row[this_at] for row in provenance.row_ids(r))
                        before[key] = known
                if full and key not in queried:
                    unknown.append(key)
            if unknown:
                found = self._concluding(rule, [terms.triple(k) for k in unknown])
                if found is None:
                    return None
                others |= found
                queried.update(unknown)
            others -= ids
            if not others:
                break
            ids |= others  # re-run them too: the order of the rule's derivations is the order of all its rows
            if len(ids) > MAX_FOCUS or not all(isinstance(terms.terms[i], ox.NamedNode) for i in others):
                return None  # VALUES holds no blank node
        else:
            return None
        for key, known in before.items():
            provenance.set_refs(key, [r for r in known if rule_of(r) is not rule])
        if by_focus is not None:
            for f in ids:
                by_focus.pop(f, None)
        log: list[ox.Quad] = []
        _apply(rule, reasoning, log=log, concluded=by_focus, order=position, grouped=grouped)
        return self._settle(before, log, [rule])

    def _concluding(self, rule: Rule, triples: list[ox.Triple]) -> set[int] | None:
        """The focus nodes (term ids) whose rows conclude these triples, kept or not: the body, joined with the
        values each template pattern gives its variables (one evaluation). None where that cannot be asked."""
        terms = self.reasoning.derivations.terms
        paths = rule.focus_paths
        minted = dict(paths.minted) if paths is not None else {}
        made = paths.minted_from if paths is not None else ()
        found: set[int] = set()
        rows: set[tuple] = set()  # (variable, term) pairs of one instance of a template pattern
        for pattern in rule.template:
            for t in triples:
                values = {}
                for term, value in ((pattern.s, t.subject), (pattern.p, t.predicate), (pattern.o, t.object)):
                    if isinstance(term, rdflib.Variable):
                        parts = minted.get(str(term))
                        if parts is not None and not (isinstance(value, ox.NamedNode)
                                                      and all(part in value.value for part in parts)):
                            break  # an IRI the rule's BIND cannot make
                        values[str(term)] = value
                    elif self._constant(term) != value:
                        break
                else:
                    if not values:
                        return None  # a ground template triple: every focus node's rows conclude it
                    for instance in _with_sources(values, made):
                        if "this" in instance:
                            found.add(terms.id(instance["this"]))
                        else:
                            rows.add(tuple(sorted(instance.items())))
        if not rows:
            return found
        variables = sorted({name for row in rows for name, _ in row})
        # The rows join the body's results; those of its first triples' variables open it as well, which Oxigraph
        # evaluates first (at 100k, D05 for one diagnosis: 52 ms at the end, 0.5 ms at the start too).
        opening = [v for v in variables if v in (paths.leading if paths is not None else ())]
        query = rule.select.replace(SELECT_ALL, "SELECT DISTINCT ?this WHERE { " + _values(opening, rows), 1) + \
            "\n" + _values(variables, rows)
        for solution in self.reasoning.store.query(query, use_default_graph_as_union=True):
            this = solution["this"]
            if not isinstance(this, ox.NamedNode):
                return None
            found.add(terms.id(this))
        return found

    def _keys_of(self, rule: Rule, ids: set[int]) -> set[int]:
        """The keys of the triples the rule's rows for these focus nodes (term ids) conclude: from the index where
        there is one, else from the rows the provenance holds."""
        index = self.concluded.get(rule.rule_id)
        if index is not None:
            return set().union(*(index.get(f, ()) for f in ids))
        return {key for _, keys in self._row_conclusions(rule, ids) for key in keys}

    def _concluded(self, rule: Rule) -> dict[int | None, set[int]]:
        """The focus node of each of the rule's rows (its term id; None for a body without ?this) -> the keys of the
        triples those rows conclude. Made the first time an update needs it, then kept by the updates: it may
        name triples no longer derived, never miss one."""
        index = self.concluded.get(rule.rule_id)
        if index is None:
            index = self.concluded[rule.rule_id] = {}
            for focus, keys in self._row_conclusions(rule):
                index.setdefault(focus, set()).update(keys)
        return index

    def _row_conclusions(self, rule: Rule, ids: set[int] | None = None):
        """(focus node id or None, keys it concludes) of each row the provenance holds of the rule (every kept
        derivation's), or only of the rows whose ?this is one of `ids`."""
        provenance = self.reasoning.derivations
        for application in provenance.applications:
            names = application.names
            if application.rule is not rule or not application.rows or (ids is not None and "this" not in names):
                continue
            width, cells = len(names), application.cells
            at = names.index("this") if "this" in names else None
            if ids is None:
                starts = range(0, application.rows * width, width) if width else [0]
            else:
                column = cells[at:application.rows * width:width]
                starts = [i * width for i, v in enumerate(column) if v in ids]
            if not starts:
                continue
            conclude = _conclusion_terms(rule.template, {n: i for i, n in enumerate(names)}, provenance.terms)
            for start in starts:
                row = tuple(cells[start:start + width])
                flat = conclude(row)
                yield (None if at is None else row[at],
                       [triple_key(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)])

    def rerun(self, stratum: list[Rule], recursive: bool, lookahead: _Lookahead) -> dict[str, set[int]]:
        """Re-run the stratum in place of what it derived before; the later rules that must re-run as well, each
        with the keys of the triples it may have derivations of that had no room.

        A triple's derivations stay in rule order: the stratum's go in before those of later rules (`order` in
        engine._apply), which may push the last of them past MAX_ALTERNATIVES, as in a full run. Where a list
        was full and is now shorter, a later rule may have had derivations it left out; those rules re-run too.
        """
        reasoning = self.reasoning
        store, graph, provenance = reasoning.store, reasoning.inferred_graph, reasoning.derivations
        terms, rule_of = provenance.terms, provenance.rule_of
        mine = {id(r) for r in stratum}
        before: dict[int, list[int]] = {}  # triple key -> its derivations' refs before the re-run
        for key in set().union(*(keys for r in stratum for keys in self._concluded(r).values())):
            known = provenance.refs(key)
            if not any(id(rule_of(r)) in mine for r in known):
                continue  # no longer concluded by the stratum (the index only ever grows stale)
            before[key] = known
            kept = [r for r in known if id(rule_of(r)) not in mine]
            provenance.set_refs(key, kept)
            if not kept and recursive:  # the stratum reads what it writes: it must not see what it derived before
                store.remove(_quad(terms.triple(key), graph))
        log: list[ox.Quad] = []
        concluded: dict[str, dict] = {r.rule_id: {} for r in stratum}
        if recursive:
            log = _fixpoint(stratum, reasoning, lookahead, concluded, self.position)
        else:
            rule = stratum[0]
            _apply(rule, reasoning, lookahead.take(rule), log=log, concluded=concluded[rule.rule_id],
                   order=self.position)
        self.concluded.update(concluded)
        return self._settle(before, log, stratum)

    def _settle(self, before: dict[int, list[int]], log: list[ox.Quad], stratum: list[Rule]) -> dict[str, set[int]]:
        """Record what the re-run changed; the later co-writers whose left-out derivations now have room."""
        reasoning = self.reasoning
        store, graph, provenance = reasoning.store, reasoning.inferred_graph, reasoning.derivations
        terms = provenance.terms
        last = max(self.position[id(r)] for r in stratum)
        for key, known in before.items():  # what the diagnoses read again: derivations that differ, not new refs
            if not _same_derivations(provenance, known, provenance.refs(key)):
                self.touched.add(key)
        self.touched.update(k for k in (terms.key(quad.triple) for quad in log) if k not in before)
        forced: dict[str, set[int]] = {}
        for key, known in before.items():
            now = provenance.refs(key)
            if len(known) == MAX_ALTERNATIVES and len(now) < MAX_ALTERNATIVES:
                kind = _key(terms.triple(key))
                for r in self.order[last + 1:]:
                    if any(matches(kind, w) for w in r.writes):
                        forced.setdefault(r.rule_id, set()).add(key)
            if not now:
                store.remove(_quad(terms.triple(key), graph))
                self._record(key, False, known)
        for quad in log:
            key = terms.key(quad.triple)
            if key not in before:
                self._record(key, True, provenance.refs(key))
        return forced

    def _record(self, key: int, present: bool, refs: list[int]) -> None:
        # Counted under its writers' keys, refined by subject class where their rules fix one: a changed severity
        # score of a diagnosis then does not look like a changed severity score of a condition.
        provenance = self.reasoning.derivations
        triple = provenance.terms.triple(key)
        kind = _key(triple)
        keys = frozenset(w for r in refs for w in provenance.rule_of(r).writes if matches(kind, w)) \
            or frozenset({kind})
        self._edited(triple, present)
        previous = self.net.pop(key, None)
        if previous is not None:
            self.counts.subtract(previous[1])
            if previous[0] != present:
                return  # back as it was before the update
        self.net[key] = (present, keys)
        self.counts.update(keys)

    def _edited(self, triple: ox.Triple, present: bool) -> None:
        predicate = triple.predicate.value
        self.edited.setdefault(predicate, []).append(triple)
        if not present:
            self.gone_forward.setdefault((triple.subject, predicate), []).append(triple.object)
            self.gone_backward.setdefault((triple.object, predicate), []).append(triple.subject)

    def _step(self, term, predicate: str, forward: bool) -> list:
        """The terms one edge away from `term` along `predicate`, in the store or among the triples gone."""
        iri = self.predicates.get(predicate)
        if iri is None:
            iri = self.predicates[predicate] = ox.NamedNode(predicate)
        store = self.reasoning.store
        if forward:
            here = [] if isinstance(term, ox.Literal) else [q.object for q in store.quads_for_pattern(term, iri, None)]
            return here + self.gone_forward.get((term, predicate), [])
        return [q.subject for q in store.quads_for_pattern(None, iri, term)] + \
            self.gone_backward.get((term, predicate), [])

    def _constant(self, term):
        found = self.constants.get(term)
        if found is None:
            found = self.constants[term] = to_ox(term)
        return found


def _values(variables: list[str], rows: set[tuple]) -> str:
    """A VALUES block of these variables, one row per distinct projection of the rows ((variable, term) pairs);
    empty for no variables."""
    if not variables:
        return ""
    table = sorted({" ".join(str(dict(row).get(v, "UNDEF")) for v in variables) for row in rows})
    return f"VALUES ({' '.join('?' + v for v in variables)}) {{ {' '.join(f'({r})' for r in table)} }}"


def _with_sources(values: dict, made) -> list[dict]:
    """The values, with what each IRI made from another variable gives that variable (`FocusPaths.minted_from`):
    one instance per way the IRI can have been made, none where it cannot."""
    instances = [values]
    for variable, source, text, whole in made:
        if variable not in values:
            continue
        sources = [node for prefix in made_from(values[variable].value, text, whole)
                   if (node := _named_node(prefix)) is not None]
        instances = [{**i, source: node} for i in instances for node in sources
                     if i.get(source, node) == node]
    return instances


def _named_node(iri: str) -> ox.NamedNode | None:
    try:
        return ox.NamedNode(iri)
    except ValueError:
        return None


def _same_derivations(provenance, known: list[int], now: list[int]) -> bool:
    """Whether two lists of derivations say the same (rule, rows, rows left out), whatever their refs."""
    return len(known) == len(now) and all(
        provenance.rule_of(a) is provenance.rule_of(b) and provenance.row_ids(a) == provenance.row_ids(b)
        and provenance.omitted.get(a, 0) == provenance.omitted.get(b, 0) for a, b in zip(known, now))


def _by_predicate(triples) -> dict[str, list[ox.Triple]]:
    found: dict[str, list[ox.Triple]] = {}
    for t in triples:
        found.setdefault(t.predicate.value, []).append(t)
    return found


# Keywords in any case, the variable exactly: `?This` is another variable.
_SUBQUERY_OF_THIS = re.compile(r"(?i:SELECT)\s+(?:(?i:DISTINCT|REDUCED)\s+)?[?$]this\b[^{}]*?(?:(?i:WHERE)\s*)?\{")


def _focused_select(rule: Rule, focus: set[ox.NamedNode]) -> str:
    """The rule's body for these focus nodes only: the rows of a full run whose ?this is one of them, in the same
    columns (every row binds ?this first, by `?this a <class>`). Where the analysis allows it, the subqueries that
    project ?this are restricted too: Oxigraph evaluates a subquery whole before it joins it (at 100k, Q20 for 3
    focus nodes: 103 ms, 3 ms restricted inside)."""
    values = "VALUES ?this { " + " ".join(sorted(str(f) for f in focus)) + " } "
    select = rule.select
    at = select.index(SELECT_ALL) + len(SELECT_ALL)
    head, body = select[:at], select[at:]
    paths = rule.focus_paths
    if paths is not None and paths.restrict_subqueries and paths.subqueries_of_this:
        restricted, found = _SUBQUERY_OF_THIS.subn(lambda m: m.group(0) + " " + values, body)
        if found == paths.subqueries_of_this:  # else the text says it elsewhere too (a string, a comment)
            body = restricted
    return f"{head} {values}{body}"


def _same_columns(provenance, rule: Rule, names: tuple[str, ...]) -> bool:
    """Whether the rows come in the columns of the rule's earlier applications (as a full run gives them)."""
    for application in reversed(provenance.applications):
        if application.rule is rule:
            return application.names == names
    return True


def _quad(triple: ox.Triple, graph: ox.NamedNode) -> ox.Quad:
    return ox.Quad(triple.subject, triple.predicate, triple.object, graph)


def _reachable(rule_base: RuleBase, edited: set, unasserted: set) -> set[str]:
    """The rules an edit can make re-run, as far as stratification tells (besides later co-writers it forces):
    the second thread evaluates them ahead, as in a full run; the update re-runs those whose inputs did change."""
    readers: dict[str, set[str]] = {}
    for rule_id, writers in rule_base.reads_from.items():
        for writer in writers:
            readers.setdefault(writer, set()).add(rule_id)
    found = {r.rule_id for r in rule_base.rules if any(_touches(k, r.reads) for k in edited)
             or any(_touches(k, r.writes) for k in unasserted)}
    pending = list(found)
    while pending:
        for reader in readers.get(pending.pop(), ()):
            if reader not in found:
                found.add(reader)
                pending.append(reader)
    return found
