"""A bounded map that forgets its least recently used entries, and counts what it forgot.

The per-worker caches (service/cache.py) hold one entry per key, alias and material version a
worker has used. With many keys (100,000 in an account, used at random) a cache that was
simply emptied when full made every key cold at once; this one evicts one entry per insertion
beyond the bound, the one used longest ago, so memory stays bounded and the hot keys stay.
"""

from __future__ import annotations

import threading
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


_ABSENT = object()


class GroupedLru(Lru[tuple[str, str], V]):
    """An :class:`Lru` keyed by (group, member) pairs that drops a whole group at once
    (a key's materials: (record id, material id)) without looking at any other entry.

    Forgetting a key used to scan every entry of three such tables: ~100 ms on the event loop
    per key change with 100,000 keys cached. The index is kept on the miss path only (``put``,
    ``pop``, evictions), under a lock because requests run in threads too; ``get`` is the
    plain LRU lookup.
    """

    __slots__ = ("_groups", "_lock")

    def __init__(self, max_entries: int) -> None:
        super().__init__(max_entries)
        self._groups: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def put(self, key: tuple[str, str], value: V) -> None:
        entries = self._entries
        with self._lock:
            entries[key] = value
            entries.move_to_end(key)
            self._groups.setdefault(key[0], set()).add(key[1])
            while len(entries) > self._max:
                evicted, _ = entries.popitem(last=False)
                self._unindex(evicted)
                self.evictions += 1

    def pop(self, key: tuple[str, str], default: D) -> V | D:
        with self._lock:
            value = self._entries.pop(key, _ABSENT)
            if value is _ABSENT:
                return default
            self._unindex(key)
            return value  # type: ignore[return-value]

    def pop_group(self, group: str) -> int:
        """Drop every entry of ``group``; how many there were."""
        with self._lock:
            members = self._groups.pop(group, ())
            for member in members:
                self._entries.pop((group, member), None)
            return len(members)

    def groups(self) -> int:
        """How many groups have entries (the index never outgrows the entries)."""
        return len(self._groups)

    def _unindex(self, key: tuple[str, str]) -> None:
        members = self._groups.get(key[0])
        if members is not None:
            members.discard(key[1])
            if not members:
                del self._groups[key[0]]
