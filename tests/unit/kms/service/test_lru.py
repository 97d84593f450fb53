"""The bounded LRU map of the per-worker caches."""

from __future__ import annotations

import pytest

from strongroom.kms.service.lru import GroupedLru, Lru


def test_the_least_recently_used_entry_goes_first_and_is_counted() -> None:
    lru: Lru[str, int] = Lru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a", None) == 1  # "a" is now more recent than "b"
    lru.put("c", 3)
    assert "b" not in lru and lru.get("a", None) == 1 and lru.get("c", None) == 3
    assert lru.evictions == 1 and len(lru) == 2
    lru.put("a", 10)  # replacing an entry evicts nothing
    assert lru.evictions == 1 and lru.get("a", None) == 10


def test_absent_entries_and_none_values_are_told_apart() -> None:
    missing = object()
    lru: Lru[str, int | None] = Lru(3)
    lru.put("negative", None)
    assert lru.get("negative", missing) is None
    assert lru.get("never", missing) is missing
    assert lru.pop("negative", missing) is None and lru.pop("negative", missing) is missing
    with pytest.raises(ValueError):
        Lru(0)


def test_a_group_is_dropped_whole_and_nothing_else() -> None:
    cache: GroupedLru[str] = GroupedLru(10)
    for key_id in ("k1", "k2"):
        for material_id in ("m1", "m2", "m3"):
            cache.put((key_id, material_id), f"{key_id}/{material_id}")
    assert cache.pop_group("k1") == 3
    assert [cache.get(("k1", m), None) for m in ("m1", "m2", "m3")] == [None, None, None]
    assert [cache.get(("k2", m), None) for m in ("m1", "m2", "m3")] == ["k2/m1", "k2/m2", "k2/m3"]
    assert len(cache) == 3 and cache.groups() == 1
    assert cache.pop_group("k1") == 0  # already gone
    assert cache.pop(("k2", "m2"), None) == "k2/m2"
    assert cache.pop_group("k2") == 2
    assert len(cache) == 0 and cache.groups() == 0


def test_evicted_entries_leave_the_group_index() -> None:
    """The index never outgrows the bound: evictions and pops take their members out."""
    cache: GroupedLru[int] = GroupedLru(3)
    for n in range(100):
        cache.put((f"k{n}", "m"), n)
    assert len(cache) == 3 and cache.groups() == 3 and cache.evictions == 97
    assert cache.pop_group("k0") == 0  # evicted long ago
    assert cache.pop_group("k99") == 1
    assert cache.groups() == 2
