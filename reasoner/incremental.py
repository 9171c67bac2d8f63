"""Re-diagnosis after an edit: the inferred graph is updated in place, re-running only the rules whose inputs
changed, and leaves the store and the provenance exactly as a full run over the edited description would.

The unit of recomputation is the rule, not the tuple. A rule whose inputs changed is re-run in full against a
store whose earlier strata are already up to date, and the result replaces what it derived before: that is
what keeps negation (FILTER NOT EXISTS, MINUS), OPTIONAL and aggregates right, which delta rules at tuple
level would each need a case of their own for. A rule whose inputs did not change keeps its derivations: its
body reads the same triples and gives the same rows (in the order of their text, see engine._rows). A changed
measurement re-runs about a fifth of the rule base; a remedy that changes which nodes serve a pool re-runs most
of it, and then costs about as much as a full inference (benchmarks/incremental_run.py).

The inputs of a rule are what it reads (`Rule.reads`, the keys stratification orders by) and, for what it
concludes, what is asserted: an asserted triple is never derived. Provenance has one more coupling: a triple's
derivations are kept in rule order, at most MAX_ALTERNATIVES of them (see `_Changes.rerun`).

A re-run rule sees what later rules derived before the edit. That is harmless for the reason stratification
itself is sound: a later rule writes nothing an earlier one reads, and where reads are refined by subject
class (the product's rule base, not a foreign file) that rests on the ontology's disjoint classes.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from dataclasses import dataclass, fields

import pyoxigraph as ox

from .collector import without_cyclic_gc
from .description import Description
from .engine import (MAX_ALTERNATIVES, RDF_TYPE, Reasoning, _apply, _cell_index, _fixpoint, _infer, _Lookahead,
                     _touches, asserted_key)
from .rules import ANY, Rule, RuleBase, matches


# Above this share of the rule base reachable from an edit (by stratification), a full inference is cheaper
# than re-running rule by rule: a changed measurement reaches 30 of the 107 rules, a remedy that changes which
# nodes serve a pool 81 (benchmarks/incremental_run.py).
FULL_INFERENCE_ABOVE = 0.5


@dataclass
class Update:
    asserted_added: int
    asserted_removed: int
    inferred_added: int  # net: a triple removed and derived again during the update counts as neither
    inferred_removed: int
    rerun: tuple[str, ...]  # the rules re-run, in order
    seconds: float
    full: bool = False  # the edit reached most of the rule base: a full inference was cheaper


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
    if len(reachable) > FULL_INFERENCE_ABOVE * len(rule_base.rules) or description.base != reasoning.description.base:
        return _full(reasoning, description, started, len(added), len(removed))
    for t in removed:
        store.remove(ox.Quad(t.subject, t.predicate, t.object, asserted))
    store.extend(ox.Quad(t.subject, t.predicate, t.object, asserted) for t in added)
    reasoning.description = description
    reasoning.asserted_predicates |= {asserted_key(t) for t in added}

    changes = _Changes(reasoning)
    provenance = reasoning.derivations
    for t in added:
        key = provenance.terms.key(t)
        if key is not None and provenance.has(key):  # asserted now: derived no more, as in a full run
            provenance.set_refs(key, [])
            store.remove(_quad(t, inferred))

    forced: set[str] = set()
    rerun: list[str] = []
    with _Lookahead(reasoning, reachable) as lookahead:
        for stratum, recursive in zip(rule_base.strata, rule_base.recursive):
            read_changed = edited | changes.keys()
            if any(rule.rule_id in forced or any(_touches(k, rule.reads) for k in read_changed)
                   or any(_touches(k, rule.writes) for k in unasserted) for rule in stratum):
                forced |= changes.rerun(stratum, recursive, lookahead)
                rerun += [r.rule_id for r in stratum]
            lookahead.completed(stratum)
    reasoning.cells = _cell_index()
    net = changes.net.values()
    return Update(len(added), len(removed), sum(present for present, _ in net),
                  sum(not present for present, _ in net), tuple(rerun), time.perf_counter() - started)


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

    def __init__(self, reasoning: Reasoning):
        self.reasoning = reasoning
        order = [rule for stratum in reasoning.rule_base.strata for rule in stratum]
        self.position = {id(rule): i for i, rule in enumerate(order)}
        self.order = order
        # triple key -> (True: derived now and not before, or False: the reverse; the keys it counts for)
        self.net: dict[int, tuple[bool, frozenset]] = {}
        self.counts: Counter = Counter()
        self.concluded = _concluded_by_rule(reasoning)

    def keys(self) -> set[tuple[str, str]]:
        return {k for k, n in self.counts.items() if n}

    def rerun(self, stratum: list[Rule], recursive: bool, lookahead: _Lookahead) -> set[str]:
        """Re-run the stratum in place of what it derived before; the later rules that must re-run as well.

        A triple's derivations stay in rule order: the stratum's go in before those of later rules (`order` in
        engine._apply), which may push the last of them past MAX_ALTERNATIVES, as in a full run. Where a list
        was full and is now shorter, a later rule may have had derivations it left out; those rules re-run too.
        """
        reasoning = self.reasoning
        store, graph, provenance = reasoning.store, reasoning.inferred_graph, reasoning.derivations
        terms, rule_of = provenance.terms, provenance.rule_of
        mine = {id(r) for r in stratum}
        before: dict[int, list[int]] = {}  # triple key -> its derivations' refs before the re-run
        for key in set().union(*(self.concluded.get(r.rule_id, ()) for r in stratum)):
            known = provenance.refs(key)
            if not any(id(rule_of(r)) in mine for r in known):
                continue  # no longer concluded by the stratum (the index only ever grows stale)
            before[key] = known
            kept = [r for r in known if id(rule_of(r)) not in mine]
            provenance.set_refs(key, kept)
            if not kept and recursive:  # the stratum reads what it writes: it must not see what it derived before
                store.remove(_quad(terms.triple(key), graph))
        log: list[ox.Quad] = []
        concluded: dict[str, set] = {r.rule_id: set() for r in stratum}
        if recursive:
            log = _fixpoint(stratum, reasoning, lookahead, concluded, self.position)
        else:
            rule = stratum[0]
            _apply(rule, reasoning, lookahead.take(rule), log=log, concluded=concluded[rule.rule_id],
                   order=self.position)
        self.concluded.update(concluded)
        last = max(self.position[id(r)] for r in stratum)
        forced: set[str] = set()
        for key, known in before.items():
            now = provenance.refs(key)
            if len(known) == MAX_ALTERNATIVES and len(now) < MAX_ALTERNATIVES:
                kind = _key(terms.triple(key))
                forced |= {r.rule_id for r in self.order[last + 1:] if any(matches(kind, w) for w in r.writes)}
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
        kind = _key(provenance.terms.triple(key))
        keys = frozenset(w for r in refs for w in provenance.rule_of(r).writes if matches(kind, w)) \
            or frozenset({kind})
        previous = self.net.pop(key, None)
        if previous is not None:
            self.counts.subtract(previous[1])
            if previous[0] != present:
                return  # back as it was before the update
        self.net[key] = (present, keys)
        self.counts.update(keys)


def _quad(triple: ox.Triple, graph: ox.NamedNode) -> ox.Quad:
    return ox.Quad(triple.subject, triple.predicate, triple.object, graph)


def _concluded_by_rule(reasoning: Reasoning) -> dict[str, set[int]]:
    """The keys of the triples each rule derived: built on the first update, kept up to date by later ones."""
    index = reasoning.concluded_by_rule
    if index is None:
        index = reasoning.concluded_by_rule = {}
        rule_of = reasoning.derivations.rule_of
        for key, refs in reasoning.derivations.items_compact():
            for r in refs:
                index.setdefault(rule_of(r).rule_id, set()).add(key)
    return index


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
