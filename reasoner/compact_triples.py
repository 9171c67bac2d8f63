"""A description's triples as term ids, for as long as a reasoning keeps the description (issue 13: memory).

Once the store holds the asserted graph, inference reads no asserted triple from Python again; remedies,
what-if, `diff` and incremental updates read them later, in their order. As `ox.Triple` objects they took
about 470 bytes each (1M triples: 470 MB); here each distinct term is kept once, and a triple is three 32-bit
ids in three columns. Reading gives the same triples, in the same order, built when asked for.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence

import pyoxigraph as ox


class CompactTriples(Sequence):
    """A read-only sequence of `ox.Triple`, equal to the list it was made from."""

    __slots__ = ("terms", "subjects", "predicates", "objects")

    def __init__(self, triples: Iterable[ox.Triple]):
        ids: dict = {}
        self.terms: list = []
        self.subjects, self.predicates, self.objects = array("I"), array("I"), array("I")
        columns = (self.subjects, self.predicates, self.objects)
        for triple in triples:
            for column, term in zip(columns, (triple.subject, triple.predicate, triple.object)):
                found = ids.get(term)
                if found is None:
                    found = ids[term] = len(self.terms)
                    self.terms.append(term)
                column.append(found)

    @classmethod
    def of(cls, triples: Sequence[ox.Triple]) -> "CompactTriples":
        return triples if isinstance(triples, cls) else cls(triples)

    def __len__(self) -> int:
        return len(self.subjects)

    def __iter__(self) -> Iterator[ox.Triple]:
        terms, triple = self.terms, ox.Triple
        for s, p, o in zip(self.subjects, self.predicates, self.objects):
            yield triple(terms[s], terms[p], terms[o])

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        terms = self.terms
        s, p, o = self.subjects[index], self.predicates[index], self.objects[index]
        return ox.Triple(terms[s], terms[p], terms[o])

    def __eq__(self, other) -> bool:
        if not isinstance(other, (list, tuple, CompactTriples)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # as a list's

    def __add__(self, other: Iterable[ox.Triple]) -> list[ox.Triple]:
        return [*self, *other]

    def __radd__(self, other: Iterable[ox.Triple]) -> list[ox.Triple]:
        return [*other, *self]

    def __repr__(self) -> str:
        return f"<CompactTriples: {len(self)} triples, {len(self.terms)} terms>"

    def quads(self, graph: ox.NamedNode) -> Iterator[ox.Quad]:
        """The triples in `graph`, without building a triple first."""
        terms, quad = self.terms, ox.Quad
        for s, p, o in zip(self.subjects, self.predicates, self.objects):
            yield quad(terms[s], terms[p], terms[o], graph)

    def one_of_each_kind(self, typing: str) -> Iterator[ox.Triple]:
        """A triple for each predicate, and for each object of the predicate `typing` (rdf:type): what
        `engine.asserted_key` tells apart, without building every triple."""
        first: dict[tuple[int, int], int] = {}
        terms = self.terms
        typing_ids = {p for p in set(self.predicates) if terms[p].value == typing}
        for index, (p, o) in enumerate(zip(self.predicates, self.objects)):
            first.setdefault((p, o if p in typing_ids else -1), index)
        return (self[index] for index in first.values())
