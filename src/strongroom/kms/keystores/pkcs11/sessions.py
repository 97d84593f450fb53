"""Pooled PIN-less sessions and the resolution of key refs to python-pkcs11 objects in them."""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11 import exceptions as p11x

from strongroom.kms.keystores.pkcs11.errors import TokenKeyNotFound
from strongroom.kms.keystores.pkcs11.keys import KeyRef


class PooledSession:
    """A PIN-less session and the python-pkcs11 objects it resolved, by handle."""

    __slots__ = ("broken", "generation", "objects", "raw")

    def __init__(self, raw: Any, generation: int) -> None:
        self.raw = raw
        self.generation = generation
        self.objects: dict[int, Any] = {}
        self.broken = False


def find_keys(
    session: PooledSession, label: str, key_id: bytes | None, *, token_only: bool = False
) -> list[Any]:
    return find_keys_in(session.raw, label, key_id, token_only=token_only)


def find_keys_in(
    raw: Any, label: str, key_id: bytes | None, *, token_only: bool = False
) -> list[Any]:
    query: dict[Attribute, Any] = {
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: KeyType.AES,
        Attribute.LABEL: label,
    }
    if key_id is not None:
        query[Attribute.ID] = key_id
    if token_only:
        query[Attribute.TOKEN] = True
    return list(raw.get_objects(query))


def resolve(session: PooledSession, ref: KeyRef) -> Any:
    """This session's python-pkcs11 object for ``ref`` (found by label and id on first use)."""
    cached = session.objects.get(ref.handle)
    if cached is not None:
        return cached
    found = find_keys(session, ref.label, ref.key_id)
    # By handle; else (new sessions after a reconnect) the token object: a session copy of it
    # (see TokenConnection.session_copy) has the same label and id.
    match = (
        [key for key in found if key.handle == ref.handle]
        or [key for key in found if key[Attribute.TOKEN]]
        or found
    )
    if len(match) != 1:
        raise TokenKeyNotFound(
            f"key {ref.label!r} is not on the token"
            if not match
            else f"{len(match)} keys match {ref.label!r}"
        )
    key = match[0]
    ref.handle = key.handle
    session.objects[key.handle] = key
    return key


def close_quietly(session: Any) -> None:
    with contextlib.suppress(p11x.PKCS11Error):  # already gone with its token
        session.close()


@dataclass(frozen=True, slots=True)
class PoolStats:
    """The session pools of one token in this process (the metrics read them)."""

    token: str
    in_use: int
    idle: int
    limit: int
    waits: int  # checkouts that found every session in use and waited
    timeouts: int  # of those, the ones no session became free for in time
    errors: int  # sessions lost or failed to open, operations the token failed


class SessionPool:
    """At most ``max_sessions`` PIN-less sessions; a caller waits when all are in use.

    One lock (and a ``threading.Condition`` on it, for waiting) guards the idle list and the
    count of open sessions; the common path (an idle session is there) is one round trip of
    that lock each way, taken directly (``Condition.__enter__`` is a Python-level call), cheaper
    than a semaphore plus a lock. ``max_sessions=1`` is one session behind a lock. The counters
    the metrics read are only touched off the common path (a wait, a timeout, an error).
    """

    def __init__(self, open_session: Callable[[], Any], max_sessions: int, token: str = "") -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self._open_session = open_session
        self._max = max_sessions
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._idle: list[PooledSession] = []
        self._open = 0
        self._waiting = 0
        self.generation = 0
        self.closed = False
        self.token = token
        self._waits = self._timeouts = self._errors = 0
        _POOLS.add(self)

    def take(self, timeout: float) -> PooledSession | None:
        """An idle or new session; None if the pool is closed or none became free in time."""
        with self._lock:
            while True:
                if self.closed:
                    return None
                if self._idle:
                    return self._idle.pop()
                if self._open < self._max:
                    self._open += 1
                    generation = self.generation
                    break
                self._waiting += 1
                self._waits += 1
                try:
                    if not self._cond.wait(timeout):
                        self._timeouts += 1
                        return None
                finally:
                    self._waiting -= 1
        try:
            return PooledSession(self._open_session(), generation)
        except BaseException:
            self._forget(failed=True)
            raise

    def give(self, session: PooledSession) -> None:
        """Return a session; a broken one, or one from before a reconnect, is closed."""
        with self._lock:
            keep = not (self.closed or session.broken or session.generation != self.generation)
            self._errors += session.broken
            if keep:
                self._idle.append(session)
            else:
                self._open -= 1
            if self._waiting:
                self._cond.notify()
        if not keep:
            close_quietly(session.raw)

    def count_error(self) -> None:
        """An operation the token failed (the session itself is fine)."""
        with self._cond:
            self._errors += 1

    def stats(self) -> PoolStats:
        with self._cond:
            idle = len(self._idle)
            return PoolStats(
                self.token,
                self._open - idle,
                idle,
                self._max,
                self._waits,
                self._timeouts,
                self._errors,
            )

    def forget_key(self, handle: int) -> None:
        with self._cond:
            for session in self._idle:
                session.objects.pop(handle, None)

    def reset(self) -> None:
        """Close the idle sessions; sessions in use are closed when given back."""
        self._drain(close=False)

    def close(self) -> bool:
        """Close the pool for good; True for the one call that closed it."""
        return self._drain(close=True)

    def _drain(self, *, close: bool) -> bool:
        with self._cond:
            was_closed = self.closed
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self.generation += 1
            self.closed = self.closed or close
            self._cond.notify_all()
        for session in idle:
            close_quietly(session.raw)
        closed_now = close and not was_closed
        if closed_now:
            _retire(self)
        return closed_now

    def _forget(self, *, failed: bool = False) -> None:
        with self._cond:
            self._open -= 1
            self._errors += failed
            self._cond.notify()


# Every pool of this process, and the counters of closed ones by token, so that a token's
# counters never go down when a connection to it is closed and opened again.
_POOLS: weakref.WeakSet[SessionPool] = weakref.WeakSet()
_RETIRED: dict[str, tuple[int, int, int]] = {}
_RETIRED_LOCK = threading.Lock()


def _retire(pool: SessionPool) -> None:
    stats = pool.stats()
    with _RETIRED_LOCK:
        _POOLS.discard(pool)
        waits, timeouts, errors = _RETIRED.get(pool.token, (0, 0, 0))
        _RETIRED[pool.token] = (
            waits + stats.waits,
            timeouts + stats.timeouts,
            errors + stats.errors,
        )


def pool_stats() -> list[PoolStats]:
    """Every token's pools in this process, summed by token label, sorted by label."""
    with _RETIRED_LOCK:
        pools = list(_POOLS)
        totals = {t: [0, 0, 0, w, o, e] for t, (w, o, e) in _RETIRED.items()}
    for pool in pools:
        stats = pool.stats()
        row = totals.setdefault(stats.token, [0, 0, 0, 0, 0, 0])
        for i, value in enumerate(
            (stats.in_use, stats.idle, stats.limit, stats.waits, stats.timeouts, stats.errors)
        ):
            row[i] += value
    return [PoolStats(token, *row) for token, row in sorted(totals.items())]
