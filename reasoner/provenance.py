"""Which rule concluded which derived triple, from which rows of bindings: integers, not Python objects.

A 1M-triple fleet derives 2.5M triples from 1.4M binding rows. Held as objects (an `ox.Triple` key costs
about 380 bytes, a list per triple and a tuple per row about 130 each) that provenance took about 1.5 GB.
Here a term is an id (`Terms`), a triple one integer (its three ids), a derivation one integer (which rule
application, which of its rows), and the rows are ids in one flat int32 array per rule application,
row after row. `Derivation` objects are built only when asked for (explanations, exports, headlines); their
premises are instantiated from the rows then, as before.
"""

from __future__ import annotations

from array import array
from itertools import islice
from typing import Iterable, Iterator

import pyoxigraph as ox
import rdflib

from .rules import Pattern, Rule

# Term kinds, as the generated conclusion functions check them (engine._conclusion_terms): odd for a term that
# can be a subject, 1 for one that can be a predicate, 0 only for an unbound value.
UNBOUND, NAMED, LITERAL, BLANK, QUOTED = 0, 1, 2, 3, 5
_KIND = {ox.NamedNode: NAMED, ox.Literal: LITERAL, ox.BlankNode: BLANK, ox.Triple: QUOTED}

TERM_BITS = 32  # a triple's key is s << 64 | p << 32 | o
TERM_MASK = (1 << TERM_BITS) - 1
_COUNT_BITS = 6  # a derivation's ref is application << 40 | first row << 6 | (rows - 1)
_ROW_BITS = 34
_APPLICATION_SHIFT = _ROW_BITS + _COUNT_BITS
MAX_ROWS = 1 << _COUNT_BITS  # of one derivation (engine.MAX_MERGED_ROWS is 32)
# Triples looked up or built from keys are remembered for a while (`Provenance.key`, `Provenance.triple_of`):
# explaining one diagnosis looks up ~600 triples, most of them again across a fleet's diagnoses, and a key
# from the three terms costs three getters and three hashes. At 100k, remembering 65k of them still left
# half the lookups to that.
RECENT_TRIPLES = 250_000  # ~100 MB at most


class Terms:
    """Each distinct term once, by id (0 is the unbound value), with its kind."""

    __slots__ = ("terms", "ids", "kinds")

    def __init__(self):
        self.terms: list = [None]
        self.ids: dict = {}
        self.kinds = bytearray([UNBOUND])

    def id(self, term) -> int:
        found = self.ids.get(term)
        if found is None:
            found = self.ids[term] = len(self.terms)
            self.terms.append(term)
            self.kinds.append(_KIND[type(term)])
        return found

    def key(self, triple: ox.Triple) -> int | None:
        """The triple's key, or None if one of its terms was never seen (so no derivation concludes it)."""
        ids = self.ids
        s, p, o = ids.get(triple.subject), ids.get(triple.predicate), ids.get(triple.object)
        if s is None or p is None or o is None:
            return None
        return triple_key(s, p, o)

    def triple(self, key: int) -> ox.Triple:
        terms = self.terms
        return ox.Triple(terms[key >> 2 * TERM_BITS], terms[key >> TERM_BITS & TERM_MASK], terms[key & TERM_MASK])


def triple_key(s: int, p: int, o: int) -> int:
    return s << 2 * TERM_BITS | p << TERM_BITS | o


class Application:
    """One evaluation of a rule's body: its variables, and the rows its derivations kept, as term ids."""

    __slots__ = ("rule", "names", "cells", "rows")

    def __init__(self, rule: Rule, names: tuple[str, ...]):
        self.rule, self.names, self.cells, self.rows = rule, names, array("i"), 0


class Derivation:
    """One application of a rule: the rows of bindings it matched, from which its premises follow.

    A view built on demand from the compact record; two views of the same record are equal.
    """

    __slots__ = ("provenance", "ref", "_row_ids")

    def __init__(self, provenance: "Provenance", ref: int):
        self.provenance, self.ref, self._row_ids = provenance, ref, None

    def __eq__(self, other) -> bool:
        return isinstance(other, Derivation) and other.provenance is self.provenance and other.ref == self.ref

    def __hash__(self) -> int:
        return hash(self.ref)

    def __repr__(self) -> str:
        return f"Derivation({self.rule.rule_id}, {self.names}, {len(self.row_ids)} rows)"

    @property
    def application(self) -> Application:
        return self.provenance.application_of(self.ref)

    @property
    def rule(self) -> Rule:
        return self.application.rule

    @property
    def names(self) -> tuple[str, ...]:
        return self.application.names

    @property
    def row_ids(self) -> tuple[tuple[int, ...], ...]:
        if self._row_ids is None:
            self._row_ids = self.provenance.row_ids(self.ref)
        return self._row_ids

    @property
    def rows(self) -> tuple[tuple, ...]:
        """One row, or the rows an aggregating rule merged (at most engine.MAX_MERGED_ROWS), as terms."""
        terms = self.provenance.terms.terms
        return tuple(tuple(terms[i] for i in row) for row in self.row_ids)

    @property
    def omitted_rows(self) -> int:
        """Rows an aggregate also merged, left out of the explanation to keep it readable."""
        return self.provenance.omitted.get(self.ref, 0)

    @property
    def bindings(self) -> tuple[tuple[str, object], ...]:
        return self.provenance.bindings(self.ref)

    @property
    def premises(self) -> tuple[ox.Triple, ...]:
        # Not cached: on a large fleet cached tuples grew the long-lived heap until the collector's full passes
        # paused explanations for up to a second; recomputing costs microseconds.
        return self.provenance.premises(self.ref, self.row_ids)


class Provenance:
    """Derived triple → its derivations (at most engine.MAX_ALTERNATIVES, in rule order), as a mapping.

    Keyed by `ox.Triple` for its readers. The engine and incremental updates work on the integer keys and
    refs directly (`by_key`, `refs`, `set_refs`), which is what keeps reasoning free of per-triple objects.
    """

    def __init__(self, store: ox.Store):
        self.store = store
        self.terms = Terms()
        self.applications: list[Application] = []
        self.omitted: dict[int, int] = {}  # ref -> rows an aggregate merged beyond those kept
        self.by_key: dict[int, int | list[int]] = {}  # triple key -> one ref, or a list of them in rule order
        self._plans: dict[tuple, list] = {}  # (id(rule), column order) -> its premise plan (`premise_keys`)
        self._recent: dict[ox.Triple, int] = {}  # triple -> key, for those looked up or built lately (`key`)

    # --- compact form: the engine's and the incremental update's ---------------------------------------

    def application(self, rule: Rule, names: tuple[str, ...]) -> int:
        self.applications.append(Application(rule, names))
        return len(self.applications) - 1

    def application_of(self, ref: int) -> Application:
        return self.applications[ref >> _APPLICATION_SHIFT]

    def record(self, application: int, rows: tuple[tuple[int, ...], ...], omitted: int = 0) -> int:
        """Keep rows (ids) of one derivation in the application's array; its ref."""
        if not 0 < len(rows) <= MAX_ROWS:
            raise ValueError(f"a derivation holds 1 to {MAX_ROWS} rows, not {len(rows)}")
        kept = self.applications[application]
        first = kept.rows
        for row in rows:
            kept.cells.extend(row)
        kept.rows += len(rows)
        ref = application << _APPLICATION_SHIFT | first << _COUNT_BITS | (len(rows) - 1)
        if omitted:
            self.omitted[ref] = omitted
        return ref

    def row_ids(self, ref: int) -> tuple[tuple[int, ...], ...]:
        kept = self.applications[ref >> _APPLICATION_SHIFT]
        count = (ref & ((1 << _COUNT_BITS) - 1)) + 1
        width = len(kept.names)
        if not width:
            return ((),) * count
        start = (ref >> _COUNT_BITS & ((1 << _ROW_BITS) - 1)) * width
        if count == 1:
            return (tuple(kept.cells[start:start + width]),)
        cells = kept.cells[start:start + count * width].tolist()
        return tuple(tuple(cells[i:i + width]) for i in range(0, count * width, width))

    def first_row(self, ref: int) -> tuple[int, ...]:
        kept = self.applications[ref >> _APPLICATION_SHIFT]
        width = len(kept.names)
        start = (ref >> _COUNT_BITS & ((1 << _ROW_BITS) - 1)) * width
        return tuple(kept.cells[start:start + width])

    def bindings(self, ref: int) -> tuple[tuple[str, object], ...]:
        """The variables its first row binds, with their terms."""
        terms = self.terms.terms
        return tuple((n, terms[v]) for n, v in zip(self.application_of(ref).names, self.first_row(ref)) if v)

    def same(self, ref: int, rule: Rule, rows: tuple[tuple[int, ...], ...]) -> bool:
        """Whether the derivation is the rule's, from these rows (a recursive rule can match a row again)."""
        return self.applications[ref >> _APPLICATION_SHIFT].rule is rule and self.row_ids(ref) == rows

    def premise_keys(self, ref: int, rows: tuple[tuple[int, ...], ...] | None = None) -> list[int]:
        """The keys of a derivation's premises, in the order of its rows and patterns, each once; an OPTIONAL
        pattern's instance only where it holds."""
        kept = self.applications[ref >> _APPLICATION_SHIFT]
        # By the rule itself: two rules can share their text and differ in their target (Q03 and Q04), which
        # is a premise too. The applications hold their rules, so an id is never reused here.
        plan = self._plans.get((id(kept.rule), kept.names))
        if plan is None:
            plan = self._plans[id(kept.rule), kept.names] = _premise_plan(
                kept.rule.premise_patterns, {n: i for i, n in enumerate(kept.names)}, self.terms)
        found: dict[int, None] = {}
        kinds = self.terms.kinds
        for row in rows if rows is not None else self.row_ids(ref):
            for s_at, s_in_row, p_at, p_in_row, o_at, o_in_row, optional in plan:
                s = row[s_at] if s_in_row else s_at
                p = row[p_at] if p_in_row else p_at
                o = row[o_at] if o_in_row else o_at
                # An instance no RDF triple can be: a literal subject, a predicate not an IRI, an unbound value.
                if not (kinds[s] & 1 and kinds[p] == NAMED and o):
                    continue
                key = triple_key(s, p, o)
                if key in found:
                    continue
                if optional:
                    t = self.triple_of(key)
                    if next(iter(self.store.quads_for_pattern(t.subject, t.predicate, t.object, None)), None) is None:
                        continue
                found[key] = None
        return list(found)

    def premises(self, ref: int, rows: tuple[tuple[int, ...], ...] | None = None) -> tuple[ox.Triple, ...]:
        return tuple(map(self.triple_of, self.premise_keys(ref, rows)))

    def triple_of(self, key: int) -> ox.Triple:
        """The triple of a key, remembered for a while (`key`): explaining looks each premise up right after."""
        triple = self.terms.triple(key)
        self._remember(triple, key)
        return triple

    def _remember(self, triple: ox.Triple, key: int) -> None:
        recent = self._recent
        if len(recent) >= RECENT_TRIPLES:
            # The oldest sixteenth at a time: clearing all 250k at once paused an explanation at 1M for 0.1 s.
            for old in list(islice(recent, RECENT_TRIPLES // 16)):
                del recent[old]
        recent[triple] = key

    def key(self, triple: ox.Triple) -> int | None:
        """The triple's key (None if a term was never seen); remembered, as explaining asks again and again."""
        key = self._recent.get(triple)
        if key is None:
            key = self.terms.key(triple)
            if key is not None:
                self._remember(triple, key)
        return key

    def rule_of(self, ref: int) -> Rule:
        return self.applications[ref >> _APPLICATION_SHIFT].rule

    def refs(self, key: int) -> list[int]:
        found = self.by_key.get(key)
        if found is None:
            return []
        return [found] if isinstance(found, int) else list(found)

    def count_not_in(self, other: "Provenance") -> int:
        """How many of these derived triples the other provenance does not hold; each numbers its terms itself."""
        ids = other.terms.ids
        theirs = [ids.get(t, -1) for t in self.terms.terms]
        theirs[UNBOUND] = -1
        held = other.by_key
        missing = 0
        for key in self.by_key:
            s, p, o = theirs[key >> 2 * TERM_BITS], theirs[key >> TERM_BITS & TERM_MASK], theirs[key & TERM_MASK]
            if s < 0 or p < 0 or o < 0 or triple_key(s, p, o) not in held:
                missing += 1
        return missing

    def set_refs(self, key: int, refs: list[int]) -> None:
        if not refs:
            self.by_key.pop(key, None)
        else:
            self.by_key[key] = refs[0] if len(refs) == 1 else refs

    def has(self, key: int) -> bool:
        return key in self.by_key

    def items_compact(self) -> Iterator[tuple[int, list[int]]]:
        for key, found in self.by_key.items():
            yield key, [found] if isinstance(found, int) else found

    # --- the mapping its readers see --------------------------------------------------------------------

    def _derivations(self, found) -> list[Derivation]:
        return [Derivation(self, found)] if isinstance(found, int) else [Derivation(self, r) for r in found]

    def get(self, triple: ox.Triple, default=None):
        key = self.key(triple)
        found = None if key is None else self.by_key.get(key)
        return default if found is None else self._derivations(found)

    def __getitem__(self, triple: ox.Triple) -> list[Derivation]:
        found = self.get(triple)
        if found is None:
            raise KeyError(triple)
        return found

    def __contains__(self, triple) -> bool:
        key = self.key(triple) if isinstance(triple, ox.Triple) else None
        return key is not None and key in self.by_key

    def __len__(self) -> int:
        return len(self.by_key)

    def __iter__(self) -> Iterator[ox.Triple]:
        return map(self.terms.triple, list(self.by_key))

    def keys(self) -> Iterator[ox.Triple]:
        return iter(self)

    def items(self) -> Iterator[tuple[ox.Triple, list[Derivation]]]:
        for key, found in list(self.by_key.items()):
            yield self.terms.triple(key), self._derivations(found)

    def values(self) -> Iterator[list[Derivation]]:
        for found in list(self.by_key.values()):
            yield self._derivations(found)


# --- premises, instantiated from a derivation's rows when asked for ----------------------------------------


def to_ox(term):
    """A rule pattern's constant (rdflib) as an Oxigraph term."""
    if isinstance(term, rdflib.URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, rdflib.Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise ValueError(f"unsupported constant in a rule pattern: {term!r}")


def _premise_plan(patterns: Iterable[Pattern], index: dict[str, int], terms: Terms) -> list:
    """Each premise pattern as (s, s in the row?, p, p in the row?, o, o in the row?, optional?): a column of the
    row or a constant's term id. Plain tuples, read in `premise_keys`: generated functions cost 75 ms of
    compiling in the first explanation at 1M. Patterns over a variable the SELECT never binds are dropped."""
    plan = []
    for p in patterns:
        parts = []
        for t in (p.s, p.p, p.o):
            if isinstance(t, rdflib.Variable):
                if str(t) not in index:
                    break
                parts += [index[str(t)], True]
            else:
                parts += [terms.id(to_ox(t)), False]
        else:
            plan.append((*parts, p.context == "optional"))
    return plan
