"""What the metrics read of PKCS#11 session pools: use, waits, timeouts and errors by token."""

from __future__ import annotations

import threading
import uuid

import pytest

from strongroom.kms.keystores.pkcs11 import TokenConnection
from strongroom.kms.keystores.pkcs11.sessions import PoolStats, SessionPool, pool_stats
from tests.support.softhsm import SoftHsmToken


class _Raw:
    """What the pool holds of a python-pkcs11 session: something to close."""

    closed = False

    def close(self) -> None:
        self.closed = True


def _token_stats(token: str) -> PoolStats:
    (found,) = [s for s in pool_stats() if s.token == token]
    return found


def test_a_pool_counts_waits_timeouts_and_broken_sessions() -> None:
    token = f"t-{uuid.uuid4().hex[:8]}"
    pool = SessionPool(_Raw, 1, token)
    first = pool.take(1.0)
    assert first is not None
    assert _token_stats(token) == PoolStats(token, 1, 0, 1, 0, 0, 0)
    assert pool.take(0.01) is None  # the only session is in use
    released = threading.Timer(0.05, pool.give, [first])
    released.start()
    second = pool.take(5.0)  # waits for the timer to give it back
    released.join()
    assert second is first
    second.broken = True
    pool.give(second)
    assert second.raw.closed
    assert _token_stats(token) == PoolStats(token, 0, 0, 1, 2, 1, 1)


def test_a_failed_open_is_an_error_and_counts_survive_closing() -> None:
    token = f"t-{uuid.uuid4().hex[:8]}"

    def refuse() -> object:
        raise OSError("no session")

    pool = SessionPool(refuse, 2, token)
    with pytest.raises(OSError):
        pool.take(1.0)
    pool.count_error()
    assert pool.close()
    assert _token_stats(token) == PoolStats(token, 0, 0, 0, 0, 0, 2)
    again = SessionPool(_Raw, 3, token)  # a new connection to the same token
    session = again.take(1.0)
    assert session is not None
    assert _token_stats(token) == PoolStats(token, 1, 0, 3, 0, 0, 2)
    again.give(session)


def test_a_token_connection_reports_its_pool_by_token_label(softhsm_token: SoftHsmToken) -> None:
    conn = TokenConnection.open(
        softhsm_token.module, softhsm_token.label, softhsm_token.pin, max_sessions=3
    )
    try:
        conn.random(16)
        stats = _token_stats(softhsm_token.label)
        assert (stats.in_use, stats.idle, stats.limit, stats.errors) == (0, 1, 3, 0)
        assert softhsm_token.pin not in repr(stats)
    finally:
        conn.close()
