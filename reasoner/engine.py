"""Forward chaining to a fixpoint over an Oxigraph store, stratum by stratum, keeping every derivation.

Each rule is a `SELECT *` (see rules.py) whose rows instantiate conclusions and premises. Rows arrive as term
ids, and conclusions and derivations are kept as integers (provenance.py); terms and triples are built only
for what is new. Strata without recursion run once, in dependency order; a recursive stratum re-runs only
the rules whose inputs received new triples in the previous round, each joining only those new triples where
its body allows (semi_naive.py). Evaluation order and output order are fixed, and rows are
taken in the order of their text, not the store's (which follows how it was filled): the same facts give
the same derivations and explanations, however the description was written and whether the reasoning was
computed at once or updated (incremental.py).

While the main thread turns one rule's rows into conclusions, a second thread already evaluates the bodies
of later rules whose inputs are complete (see `_Lookahead`): Oxigraph evaluates without holding the GIL,
so the two overlap on two cores.
"""

from __future__ import annotations

import gc
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable

import pyoxigraph as ox
import rdflib

from . import resources
from .collector import without_cyclic_gc
from .compact_triples import CompactTriples
from .description import Description
from .provenance import NAMED, UNBOUND, Provenance, Terms, to_ox, triple_key
from .rules import Pattern, Rule, RuleBase, load_rule_base, matches
from .semi_naive import DELTA, delta_variants

MAX_ALTERNATIVES = 8
MAX_MERGED_ROWS = 32


@dataclass
class RuleStats:
    rule_id: str
    runs: int = 0
    rows: int = 0
    new_triples: int = 0
    seconds: float = 0.0  # evaluating the body (on either thread) and turning its rows into conclusions


@dataclass
class Reasoning:
    """The result of inference: the store (asserted + inferred graphs) and the provenance of derived triples."""

    store: ox.Store
    description: Description
    rule_base: RuleBase
    asserted_graph: ox.NamedNode
    inferred_graph: ox.NamedNode
    derivations: Provenance = field(init=False, repr=False)  # derived triple -> its derivations
    stats: dict[str, RuleStats] = field(default_factory=dict)
    rounds: int = 0
    # (predicate, class for rdf:type) pairs present in the asserted graphs: a conclusion of another kind
    # cannot already be asserted, so it needs no lookup.
    asserted_predicates: frozenset = frozenset()
    cells: dict = field(default_factory=lambda: _cell_index(), repr=False)  # TSV cell -> its term's id (_rows)
    # rule id -> the focus node's term id (None for a body without ?this) -> keys of the triples its rows concluded
    concluded_by_rule: dict | None = field(default=None, repr=False)  # (incremental.py)
    background: bool = True  # the ontology and the catalog are in the store (see `infer`)
    # diagnoses.py: the records read last ((base, deployment, name), diagnosis IRI -> (record, its reads)), and
    # what an incremental update changed since (hashes, headlines.touched_by); None: everything may have.
    diagnosis_records: tuple | None = field(default=None, repr=False)
    touched: set | None = field(default=None, repr=False)

    def __post_init__(self):
        self.derivations = Provenance(self.store)

    @property
    def derived(self) -> int:
        """How many triples the rules derived that were not asserted."""
        return len(self.derivations)

    def inferred_triples(self) -> list[ox.Triple]:
        return sorted((q.triple for q in self.store.quads_for_pattern(None, None, None, self.inferred_graph)),
                      key=str)

    def query(self, sparql: str):
        return self.store.query(sparql, use_default_graph_as_union=True)


def graph_names(description: Description) -> tuple[ox.NamedNode, ox.NamedNode]:
    return (ox.NamedNode(description.base + "graph/asserted"), ox.NamedNode(description.base + "graph/inferred"))


ONTOLOGY_GRAPH = ox.NamedNode(resources.ONTOLOGY_IRI)
CATALOG_GRAPH = ox.NamedNode(resources.ONTOLOGY_IRI + "/catalog")


def load_store(description: Description, store: ox.Store | None = None, background: bool = True) -> ox.Store:
    """The description in its graph, with the ontology and the catalog in theirs unless `background` is off.
    The description keeps its triples as term ids from then on (`CompactTriples`: the same, in order)."""
    store = store if store is not None else ox.Store()
    asserted, _ = graph_names(description)
    if background:
        store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, ONTOLOGY_GRAPH)
                          for t in resources.ontology_triples())
        store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, CATALOG_GRAPH) for t in resources.catalog_triples())
    description.triples = CompactTriples.of(description.triples)
    store.bulk_extend(description.triples.quads(asserted))
    return store


def infer(description: Description, rule_base: RuleBase | None = None, store: ox.Store | None = None,
          progress: Callable[[str], None] | None = None, background: bool = True) -> Reasoning:
    """Derive everything the rules derive. `background=False` leaves the ontology and the catalog out of the data,
    for a foreign rule file (`load_rule_files`) that does not reason about SORT-AI descriptions."""
    gc.unfreeze()  # what an earlier call froze becomes collectable again (long-running processes)
    # Reasoning allocates millions of small objects that all live until the end: the cyclic collector would
    # rescan them again and again (a third of the time at 1M triples) to free nothing.
    return without_cyclic_gc(_infer)(description, rule_base, store, progress, background)


def _infer(description: Description, rule_base: RuleBase | None, store: ox.Store | None,
           progress: Callable[[str], None] | None, background: bool) -> Reasoning:
    rule_base = rule_base or load_rule_base()
    store = load_store(description, store, background)
    asserted, inferred = graph_names(description)
    reasoning = Reasoning(store, description, rule_base, asserted, inferred, background=background)
    reasoning.asserted_predicates = frozenset(
        asserted_key(t) for t in (*description.triples.one_of_each_kind(RDF_TYPE),
                                  *resources.ontology_triples(), *resources.catalog_triples()))
    with _Lookahead(reasoning) as lookahead:
        for stratum, recursive in zip(rule_base.strata, rule_base.recursive):
            if progress:
                progress(", ".join(r.rule_id for r in stratum))
            if recursive:
                _fixpoint(stratum, reasoning, lookahead)
            else:
                reasoning.rounds += 1
                _apply(stratum[0], reasoning, lookahead.take(stratum[0]))
            lookahead.completed(stratum)
    reasoning.cells = _cell_index()  # the rows keep their term ids; the cells' text was needed while rows arrived
    # The result lives as long as the caller explains from it; moving its millions of objects out of the
    # collector's generations keeps a later full collection from pausing an explanation for ~0.3 s.
    gc.freeze()
    return reasoning


def asserted_key(triple: ox.Triple) -> tuple[str, str | None]:
    """How `Reasoning.asserted_predicates` holds a triple: its predicate, and its class if it is a type triple."""
    predicate = triple.predicate.value
    return (predicate, triple.object.value if predicate == RDF_TYPE else None)


def _fixpoint(stratum: list[Rule], reasoning: Reasoning, lookahead: "_Lookahead",
              concluded: dict[str, dict] | None = None, order: dict[int, int] | None = None) -> list[ox.Quad]:
    """Rounds of a recursive stratum until nothing is new, returning what it derived; after its first run, a rule
    joins only the triples derived since it last ran (semi_naive.py), unless its body must be re-run in full."""
    store = reasoning.store
    writes = frozenset().union(*(r.writes for r in stratum))
    log: list[ox.Quad] = []  # what the stratum derived, in order
    seen: dict[str, int] = {}  # rule id -> how much of the log existed when it last ran
    pending = list(stratum)
    while pending:
        reasoning.rounds += 1
        changed: set[tuple[str, str]] = set()
        for rule in pending:
            variants = delta_variants(rule, writes) if rule.rule_id in seen else None
            start = len(log)
            mine = None if concluded is None else concluded[rule.rule_id]
            if variants is None:
                changed |= _apply(rule, reasoning, log=log, concluded=mine, order=order)
            else:
                with lookahead.paused():  # the worker's queries read the union of all graphs, DELTA too
                    store.extend(ox.Quad(q.subject, q.predicate, q.object, DELTA) for q in log[seen[rule.rule_id]:])
                    graphs = [g for g in store.named_graphs() if g != DELTA]
                    try:
                        results = [_evaluate(store, text, default_graph=graphs, named_graphs=[DELTA])
                                   for text in variants]
                    finally:
                        store.remove_graph(DELTA)
                # What one variant concludes, the others do not see; it is in the log for the rule's next run.
                for rows in results:
                    changed |= _apply(rule, reasoning, rows, log=log, concluded=mine, order=order)
            seen[rule.rule_id] = start
        if not changed:
            break
        pending = [r for r in stratum if any(_touches(w, r.reads) for w in changed)]
    return log


class _Lookahead:
    """Evaluates rule bodies on a second thread, ahead of the main thread, once everything they read is final.

    A rule's inputs are final when every rule that writes what it reads has been applied; stratification
    puts all such writers in earlier strata (or the rule's own, if recursive: those rules run inline). The
    result is then the same set of rows, in the same order, as an evaluation at the rule's turn: later
    conclusions are triples the body does not read. The rows come as SPARQL TSV (`_evaluate`), because
    Oxigraph's serializer evaluates the whole query without the GIL, whereas iterating the rows takes the
    GIL back at every row. At 100k triples that moved about 2.3 s of evaluation off the main thread.
    """

    def __init__(self, reasoning: Reasoning, only: set[str] | None = None):
        """`only`: the rules that may be asked for (an incremental update's); the others are never evaluated ahead."""
        self.store = reasoning.store
        self.stats = reasoning.stats
        rule_base = reasoning.rule_base
        self.order = [rule for stratum, recursive in zip(rule_base.strata, rule_base.recursive) if not recursive
                      for rule in stratum if only is None or rule.rule_id in only]
        self.waiting_on = {rule.rule_id: set(rule_base.reads_from[rule.rule_id]) - {rule.rule_id}
                           for rule in self.order}
        self.futures: dict[str, Future] = {}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sortai-lookahead")
        self.evaluating = threading.Lock()

    def __enter__(self) -> "_Lookahead":
        self._submit_ready()
        return self

    def __exit__(self, *exc) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)

    def completed(self, stratum: list[Rule]) -> None:
        done = {rule.rule_id for rule in stratum}
        for waiting in self.waiting_on.values():
            waiting -= done
        self._submit_ready()

    def take(self, rule: Rule) -> bytes | None:
        """The rule's rows (TSV) if the worker has them or is evaluating them; None to evaluate inline."""
        future = self.futures.pop(rule.rule_id, None)
        if future is None or future.cancel():
            return None  # not started: the main thread evaluates it now rather than wait for the queue ahead
        seconds, rows = future.result()
        self.stats.setdefault(rule.rule_id, RuleStats(rule.rule_id)).seconds += seconds
        return rows

    @contextmanager
    def paused(self):
        """No evaluation ahead meanwhile (waits for one that is running to finish)."""
        with self.evaluating:
            yield

    def _submit_ready(self) -> None:
        for rule in self.order:
            if rule.rule_id not in self.futures and rule.rule_id in self.waiting_on \
                    and not self.waiting_on[rule.rule_id]:
                del self.waiting_on[rule.rule_id]
                self.futures[rule.rule_id] = self.executor.submit(self._timed, rule.select)

    def _timed(self, select: str) -> tuple[float, bytes]:
        with self.evaluating:
            started = time.perf_counter()
            rows = _evaluate(self.store, select, use_default_graph_as_union=True)
            return time.perf_counter() - started, rows


def _evaluate(store: ox.Store, select: str, **dataset) -> bytes:
    """A rule body's rows as SPARQL TSV: Oxigraph evaluates and serialises them without holding the GIL."""
    return store.query(select, **dataset).serialize(format=ox.QueryResultsFormat.TSV)


def _cell_index() -> dict:
    return {"": UNBOUND}  # an empty TSV cell is an unbound value


def _rows(tsv: bytes, cells: dict, terms: Terms) -> tuple[tuple[str, ...], list[tuple[int, ...]]]:
    """Variable names and rows of a TSV result, as term ids; each distinct cell is parsed once.

    Splitting is safe: SPARQL TSV writes a tab or line break inside a literal as an escape, and an unbound
    value as an empty cell. Parsing only the cells not seen before (one Oxigraph parse per result) is half
    the cost of parsing every row: the 100k fleet's rows hold about 1.5M values but only 32k distinct ones.
    """
    lines = tsv.decode("utf-8").split("\n")
    header, body = lines[0], lines[1:-1]  # every line, the last too, ends with a line break
    body.sort()  # the store's order depends on how it was filled: which rows an explanation keeps must not
    if not header:
        return (), [()] * len(body)  # a body without variables: one empty row per solution
    names = tuple(v[1:] for v in header.split("\t"))
    if not body:
        return names, []
    flat = "\t".join(body).split("\t")  # every cell, row after row: one split instead of one per row
    if len(flat) != len(body) * len(names):
        raise ValueError(f"a SPARQL TSV result with {len(names)} variables has a row of another width")
    new = list(set(flat).difference(cells))
    if new:
        parsed = ox.parse_query_results(("?v\n" + "\n".join(new) + "\n").encode("utf-8"),
                                        format=ox.QueryResultsFormat.TSV)
        cells.update(zip(new, (terms.id(solution[0]) for solution in parsed)))
    ids = map(cells.__getitem__, flat)
    return names, list(zip(*[ids] * len(names)))  # consecutive cells, a row's worth at a time


def _touches(written: tuple[str, str], reads: Iterable[tuple[str, str]]) -> bool:
    return any(matches(written, r) for r in reads)


# --- applying one rule ---------------------------------------------------------------------------------


RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _asserted(store: ox.Store, triple: ox.Triple, inferred: ox.NamedNode) -> bool:
    """In a graph other than the inferred one: during an incremental update (incremental.py) a triple can still
    be in the inferred graph while no rule has derived it again yet; in a full run that never happens."""
    return any(q.graph_name != inferred
               for q in store.quads_for_pattern(triple.subject, triple.predicate, triple.object, None))


def _conclusion_terms(template: Iterable[Pattern], index: dict[str, int], terms: Terms) -> Callable[[tuple], tuple]:
    """A function from a row (term ids) to the ids of its conclusions, flat: (s1, p1, o1, s2, p2, o2, ...).

    Generated once per rule and column order, since it runs for every row. It builds no term and no triple:
    many rows repeat a conclusion, so triples are built once per new conclusion instead. A pattern is left
    out where an RDF triple cannot be made of it (unbound, a literal subject, a predicate that is not an IRI),
    as `provenance._premise_plan` leaves out a premise.
    """
    constants: dict[str, int] = {}
    lines = ["def conclude(v):", "    k = ()"]
    for p in template:
        names, checks = [], []
        for position, t in zip("spo", (p.s, p.p, p.o)):
            if isinstance(t, rdflib.Variable):
                if str(t) not in index:
                    break  # never bound by the SELECT: the pattern can never be instantiated
                name = f"{position}{len(lines)}"
                lines.append(f"    {name} = v[{index[str(t)]}]")
                names.append(name)
                checks.append({"s": f"K[{name}] & 1", "p": f"K[{name}] == {NAMED}", "o": name}[position])
            else:
                name = f"c{len(constants)}"
                constants[name] = terms.id(to_ox(t))
                names.append(name)
        else:
            line = f"k += ({', '.join(names)},)"
            lines.append(f"    if {' and '.join(checks)}: {line}" if checks else f"    {line}")
    lines.append("    return k")
    namespace = {"K": terms.kinds, **constants}
    exec("\n".join(lines), namespace)  # noqa: S102 - the source is built above from variable indexes only
    # Taken out of its own globals: left there, the function and its namespace would be a reference cycle,
    # which only the cyclic collector frees (and `incremental.update` freezes it before it can).
    return namespace.pop("conclude")


def _conclusions(rule: Rule, reasoning: Reasoning, tsv: bytes) -> tuple[tuple[str, ...], dict[tuple, list[tuple]]]:
    """The rule's variable names, and its rows (term ids) grouped by the flat ids of what they conclude."""
    terms = reasoning.derivations.terms
    names, solutions = _rows(tsv, reasoning.cells, terms)
    conclude = _conclusion_terms(rule.template, {name: i for i, name in enumerate(names)}, terms)
    rows: dict[tuple, list[tuple]] = {}  # flat conclusion ids -> the rows that conclude them
    for values in solutions:
        key = conclude(values)
        if key:
            group = rows.get(key)
            if group is None:
                rows[key] = [values]
            else:
                group.append(values)
    reasoning.stats.setdefault(rule.rule_id, RuleStats(rule.rule_id)).rows += len(solutions)
    return names, rows


def _apply(rule: Rule, reasoning: Reasoning, tsv: bytes | None = None, log: list[ox.Quad] | None = None,
           concluded: dict | None = None, order: dict[int, int] | None = None,
           grouped: tuple[tuple[str, ...], dict] | None = None) -> set[tuple[str, str]]:
    """Run one rule (or take the rows evaluated ahead, or already grouped by `_conclusions`); conclusions first,
    rows kept only for the derivations kept.

    `log` receives the new quads, `concluded` (focus node id -> keys) the key of every triple the rule kept a
    derivation of. `order` (rule identity → position) is for an incremental update (incremental.py), where a
    triple may already hold derivations of later rules: the rule's own go in before them, as in a full run, and
    the list is cut back to MAX_ALTERNATIVES.
    """
    started = time.perf_counter()
    stats = reasoning.stats.setdefault(rule.rule_id, RuleStats(rule.rule_id))
    stats.runs += 1
    store = reasoning.store
    if grouped is None:
        if rule.focus_ask is not None and not reasoning.query(rule.focus_ask):
            stats.seconds += time.perf_counter() - started
            return set()  # a rule without $this whose shape has no focus node: pySHACL never runs it
        if tsv is None:
            tsv = _evaluate(store, rule.select, use_default_graph_as_union=True)
        grouped = _conclusions(rule, reasoning, tsv)
    names, rows = grouped
    provenance = reasoning.derivations
    terms = provenance.terms
    this_at = names.index("this") if "this" in names else None
    asserted_predicates = reasoning.asserted_predicates
    graph = reasoning.inferred_graph
    term = terms.terms
    rdf_type = terms.id(ox.NamedNode(RDF_TYPE))
    known_refs = provenance.by_key  # the hot loop reads and writes the compact form directly
    same = provenance.same
    application = None

    def keep(merged: tuple[tuple[int, ...], ...], omitted: int) -> int:
        """The rows of a derivation that is kept (most rows conclude nothing new): its ref."""
        nonlocal application
        if application is None:
            application = provenance.application(rule, names)
        return provenance.record(application, merged, omitted)

    new_quads: list[ox.Quad] = []
    changed: set[tuple[str, str]] = set()
    # predicate id, or (rdf:type, class id) -> (whether such a triple may be asserted, its `changed` entry):
    # worked out once per kind, not for each of a rule's new triples
    kinds: dict = {}
    for key, group in rows.items():
        conclusions = [(triple_key(s, p, o), s, p, o) for s, p, o in zip(key[::3], key[1::3], key[2::3])]
        if rule.aggregates:
            merges = [(tuple(group[:MAX_MERGED_ROWS]), max(0, len(group) - MAX_MERGED_ROWS))]
        else:
            merges = [((values,), 0) for values in group[:MAX_ALTERNATIVES]]
        for merged, omitted in merges:
            ref = None
            for tk, s, p, o in conclusions:
                found = known_refs.get(tk)
                if found is None:
                    kind_key = (p, o) if p == rdf_type else p
                    kind = kinds.get(kind_key)
                    if kind is None:
                        predicate = term[p].value
                        typed = term[o].value if p == rdf_type else None
                        kind = kinds[kind_key] = ((predicate, typed) in asserted_predicates,
                                                  (predicate, typed if typed is not None else "*"))
                    if kind[0] and _asserted(store, ox.Triple(term[s], term[p], term[o]), graph):
                        continue  # asserted already: nothing to derive, nothing to explain
                    if ref is None:
                        ref = keep(merged, omitted)
                    known_refs[tk] = ref
                    new_quads.append(ox.Quad(term[s], term[p], term[o], graph))
                    changed.add(kind[1])
                else:
                    known = [found] if isinstance(found, int) else found
                    if order is None and len(known) >= MAX_ALTERNATIVES:
                        continue  # as many alternatives as are kept, whether or not this one is among them
                    if any(same(r, rule, merged) for r in known):
                        continue
                    if order is None:
                        at = len(known)
                    else:
                        mine = order[id(rule)]
                        at = sum(1 for r in known if order[id(provenance.rule_of(r))] <= mine)
                        if at >= MAX_ALTERNATIVES:
                            continue
                    if ref is None:
                        ref = keep(merged, omitted)
                    known = known[:at] + [ref] + known[at:MAX_ALTERNATIVES - 1]
                    known_refs[tk] = known
                if concluded is not None:
                    for values in merged:
                        concluded.setdefault(None if this_at is None else values[this_at], set()).add(tk)
    if new_quads:
        store.extend(new_quads)
        if log is not None:
            log.extend(new_quads)
    stats.new_triples += len(new_quads)
    stats.seconds += time.perf_counter() - started
    return changed
