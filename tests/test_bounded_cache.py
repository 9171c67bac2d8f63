"""The explainer's and the provenance's bounded caches (reasoner/bounded_cache.py)."""

from sortai.reasoner.bounded_cache import BoundedCache, memoised


def test_it_holds_the_last_size_entries_and_never_twice_as_many():
    cache = BoundedCache(100)
    for key in range(10_000):
        cache.put(key, key * key)
        assert len(cache) <= 200
        assert all(k in cache for k in range(max(0, key - 99), key + 1, 7))  # `in` moves nothing
    assert [cache.get(k) for k in range(9_900, 10_000)] == [k * k for k in range(9_900, 10_000)]
    assert cache.get(0) is None and 0 not in cache


def test_the_oldest_entries_go_first():
    cache = BoundedCache(5)
    for key in range(5):
        cache.put(key, str(key))
    for key in range(5, 8):  # the first five became the old generation; each new entry drains its oldest
        cache.put(key, str(key))
    assert [k for k in range(8) if k in cache] == [3, 4, 5, 6, 7]


def test_an_entry_used_again_outlives_those_that_are_not():
    cache = BoundedCache(5)
    for key in range(5):
        cache.put(key, str(key))
    cache.put(5, "5")  # 0..4 are the old generation now; 0 is drained
    assert cache.get(1) == "1"  # found in the old generation: moved into the young one
    for key in range(6, 9):
        cache.put(key, str(key))  # the young generation is full now and the old one empty
    cache.put(9, "9")  # the young generation, 1 among it, becomes the old one
    assert cache.get(1) == "1"
    assert [k for k in range(5) if k in cache] == [1]


def test_a_stored_none_or_falsy_value_is_a_hit():
    calls = []

    def nothing(key):
        calls.append(key)
        return None if key % 2 else 0

    lookup = memoised(nothing, 16)
    assert [lookup(k) for k in (1, 2, 1, 2)] == [None, 0, None, 0]
    assert calls == [1, 2]
    assert lookup.cache.misses == 2


def test_memoised_computes_again_what_was_evicted():
    calls = []
    lookup = memoised(lambda key: calls.append(key) or -key, 2)
    for key in (1, 2, 3, 4, 5, 6, 1):
        assert lookup(key) == -key
    assert calls == [1, 2, 3, 4, 5, 6, 1]
