"""A bounded cache that never pauses to rebuild itself: two generations of plain dicts, the older drained entry by
entry while the younger fills.

A dict kept bounded by evicting entries as it goes (`functools.lru_cache`, an `OrderedDict` used first in first
out, a dict cut back in batches) fills with its deleted entries' dummies until Python rebuilds it whole: at 200k
entries each rebuild takes 17–29 ms, and at 1M triples the explainer's five caches made some explanations take
75–150 ms instead of 10–25. Here new entries go into the young dict, which is never deleted from, and each one
inserted deletes the oldest remaining entry of the old dict, which is never inserted into; when the young one
holds `size` entries, it becomes the old one. Neither is ever rebuilt for its deletions and nothing is freed in
bulk. An entry found in the old dict moves into the young one, so what is used stays. The last `size` entries
put or found again are all held, as in an LRU cache of that size, and never more than twice as many.
"""

from __future__ import annotations

from typing import Callable, Generic, Hashable, Iterator, TypeVar

V = TypeVar("V")

_MISSING = object()


class BoundedCache(Generic[V]):
    __slots__ = ("size", "young", "old", "draining", "misses")

    def __init__(self, size: int):
        self.size = max(1, size)
        self.young: dict = {}
        self.old: dict = {}
        self.draining: Iterator = iter(())  # the old dict's keys, oldest first
        self.misses = 0  # entries put: for a caller that watches how much it has cached

    def get(self, key: Hashable, default=None):
        found = self.young.get(key, _MISSING)
        if found is not _MISSING:
            return found
        found = self.old.get(key, _MISSING)
        if found is _MISSING:
            return default
        self._insert(key, found)
        return found

    def put(self, key: Hashable, value: V) -> V:
        self.misses += 1
        self._insert(key, value)
        return value

    def _insert(self, key: Hashable, value) -> None:
        young = self.young
        if len(young) >= self.size:
            self.old.clear()  # already empty, or nearly: it was drained while this one filled
            self.old, self.young = young, {}
            self.draining = iter(list(young))  # a copy of its keys: one pointer each, about 1 ms per 100k
            young = self.young
        young[key] = value
        gone = next(self.draining, _MISSING)
        if gone is not _MISSING:
            self.old.pop(gone, None)

    def __len__(self) -> int:
        return len(self.young) + len(self.old)

    def __contains__(self, key: Hashable) -> bool:
        return key in self.young or key in self.old


def memoised(function: Callable[[Hashable], V], size: int) -> Callable[[Hashable], V]:
    """`function` of one argument, its results kept in a `BoundedCache` (on the wrapper, as `.cache`)."""
    cache: BoundedCache[V] = BoundedCache(size)
    get, put = cache.get, cache.put

    def lookup(key):
        found = get(key, _MISSING)
        return put(key, function(key)) if found is _MISSING else found

    lookup.cache = cache  # type: ignore[attr-defined]
    return lookup
