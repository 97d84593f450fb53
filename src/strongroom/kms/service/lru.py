"""A bounded map that forgets its least recently used entries, and counts what it forgot.

The per-worker caches (service/cache.py) hold one entry per key, alias and material version a
worker has used. With many keys (100,000 in an account, used at random) a cache that was
simply emptied when full made every key cold at once; this one evicts one entry per insertion
beyond the bound, the one used longest ago, so memory stays bounded and the hot keys stay.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")


class Lru(Generic[K, V]):
    """At most ``max_entries`` entries; ``evictions`` counts those pushed out by new ones."""

    __slots__ = ("_entries", "_max", "evictions")

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("an LRU holds at least one entry")
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._max = max_entries
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: K, default: D) -> V | D:
        """The entry (now the most recently used), or ``default``."""
        entries = self._entries
        try:
            entries.move_to_end(key)  # one lookup when found (the hot path); raises if not
        except KeyError:
            return default
        return entries[key]

    def put(self, key: K, value: V) -> None:
        entries = self._entries
        entries[key] = value
        entries.move_to_end(key)
        while len(entries) > self._max:
            entries.popitem(last=False)
            self.evictions += 1

    def pop(self, key: K, default: D) -> V | D:
        return self._entries.pop(key, default)

    def items(self) -> list[tuple[K, V]]:
        return list(self._entries.items())
