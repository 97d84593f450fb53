"""The bounded LRU map of the per-worker caches."""

from __future__ import annotations

import pytest

from strongroom.kms.service.lru import Lru


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
