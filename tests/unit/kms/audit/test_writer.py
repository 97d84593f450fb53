"""The audit writer: group commit before the response, the backlog bound, failure and recovery.

Commits are made to fail for real: an SQLite trigger refuses every insert into audit_events
(what a full disk or a read-only database does to the writer), and is dropped to recover.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from strongroom.kms.audit.events import new_ticket
from strongroom.kms.audit.policy import Durability, WhenUnavailable, WriterPolicy
from strongroom.kms.audit.verify import verify_chain
from strongroom.kms.audit.writer import DROPPED_EVENT, ChainedAuditLog
from strongroom.kms.errors import DependencyTimeoutException
from strongroom.kms.storage.database import Database
from tests.unit.kms.audit.helpers import REGION, db_path, event, new_store, open_db

BUFFERED = WriterPolicy(durability=Durability.BUFFERED, max_pending=100)


def sql(path: Path, statement: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute(statement))


def break_commits(path: Path) -> None:
    sql(
        path,
        "CREATE TRIGGER refuse BEFORE INSERT ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    )


def mend_commits(path: Path) -> None:
    sql(path, "DROP TRIGGER refuse")


def stored_request_ids(path: Path) -> list[str]:
    rows = sql(path, "SELECT record FROM audit_events ORDER BY seq")
    return [orjson.loads(str(r[0]))["requestID"] for r in rows]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path)
    yield database
    database.engine.dispose()


def test_a_response_waits_for_its_commit_and_concurrent_ones_share_commits(
    db: Database, tmp_path: Path
) -> None:
    store = new_store()
    sink = ChainedAuditLog(db, store, REGION)
    sink.start()

    async def one_request(n: int) -> None:
        ticket = new_ticket()  # each task has its own context, as each request does
        sink.record(event(n))
        assert ticket.seq > 0
        await sink.wait_committed(ticket)
        # Acknowledged: the event is in the database now, not merely queued.
        assert f"req-111111111111-{n}" in stored_request_ids(db_path(tmp_path))

    async def many() -> None:
        await asyncio.gather(*(one_request(n) for n in range(1, 201)))

    try:
        asyncio.run(many())
    finally:
        sink.stop()
    heads = sql(db_path(tmp_path), "SELECT count(*) FROM audit_signed_heads")[0][0]
    assert len(stored_request_ids(db_path(tmp_path))) == 200
    assert isinstance(heads, int) and heads < 200  # group commit: fewer commits than events
    assert verify_chain(db, store).ok


def test_events_recorded_in_one_turn_of_the_loop_share_one_commit(
    db: Database, tmp_path: Path
) -> None:
    """The writer is woken after the loop has run what is ready, not by the first event: a
    request that releases the GIL (os.urandom, a socket write) does not let it commit the
    first event alone while the loop still holds the others."""
    sink = ChainedAuditLog(db, new_store(), REGION)
    sink.start()

    def heads() -> int:
        return int(str(sql(db_path(tmp_path), "SELECT count(*) FROM audit_signed_heads")[0][0]))

    async def turn() -> None:
        first = new_ticket()
        sink.record(event(0))
        await sink.wait_committed(first)  # the sink now knows its loop
        while not sink._idle:  # the writer is back to waiting for events
            await asyncio.sleep(0.001)
        before = heads()
        tickets = []
        for n in range(1, 6):  # five requests handled in one turn of the loop
            tickets.append(new_ticket())
            sink.record(event(n))
            time.sleep(0.01)  # the GIL released, as a request's system calls do
        for ticket in tickets:
            await sink.wait_committed(ticket)
        assert heads() == before + 1

    async def as_requests() -> None:
        # Each request in its own context (its own ticket), all in one synchronous turn.
        await asyncio.get_running_loop().create_task(turn())

    try:
        asyncio.run(as_requests())
    finally:
        sink.stop()


def test_events_recorded_while_the_writer_waits_for_the_lock_join_its_commit(
    db: Database, tmp_path: Path
) -> None:
    """Another worker's commit holds the database's writer lock: the events recorded while
    this writer waits for it are committed with the batch it had taken (docs/adr/0038)."""
    sink = ChainedAuditLog(db, new_store(), REGION, policy=BUFFERED)
    sink.record(event(0))
    sink.flush()  # the chain head and the signing key exist

    def heads() -> int:
        return int(str(sql(db_path(tmp_path), "SELECT count(*) FROM audit_signed_heads")[0][0]))

    before = heads()
    other_worker = open_db(tmp_path)
    committing = threading.Thread(target=sink.flush)
    try:
        with other_worker.transaction():  # holds the writer lock
            sink.record(event(1))
            committing.start()
            deadline = time.monotonic() + 30
            while sink.pending and time.monotonic() < deadline:  # the writer took event 1
                time.sleep(0.005)
            assert sink.pending == 0
            for n in range(2, 6):
                sink.record(event(n))
            assert sink.pending == 4
        committing.join(timeout=30)
    finally:
        other_worker.engine.dispose()
    assert not committing.is_alive()
    assert sink.pending == 0
    assert heads() == before + 1  # one commit for all five
    assert stored_request_ids(db_path(tmp_path))[-5:] == [
        f"req-111111111111-{n}" for n in range(1, 6)
    ]


@pytest.mark.parametrize("when", list(WhenUnavailable), ids=[w.value for w in WhenUnavailable])
def test_a_response_waits_no_longer_than_wait_seconds(db: Database, when: WhenUnavailable) -> None:
    """No commit comes (the writer is not running): after ``wait_seconds`` the response is
    refused, or, with ``serve``, answered unaudited; every waiter, late arrivals included."""
    policy = WriterPolicy(when_unavailable=when, wait_seconds=0.2)
    sink = ChainedAuditLog(db, new_store(), REGION, policy=policy)

    async def one_request(n: int, delay: float) -> tuple[str, float]:
        await asyncio.sleep(delay)
        ticket = new_ticket()
        sink.record(event(n))
        started = time.monotonic()
        try:
            await sink.wait_committed(ticket)
        except DependencyTimeoutException:
            return "refused", time.monotonic() - started
        return "served", time.monotonic() - started

    async def both_loops() -> list[tuple[str, float]]:
        return list(await asyncio.gather(one_request(1, 0.0), one_request(2, 0.1)))

    for _ in range(2):  # a second event loop gets its own timer
        outcomes = asyncio.run(both_loops())
        expected = "refused" if when is WhenUnavailable.REFUSE else "served"
        assert [o for o, _ in outcomes] == [expected, expected]
        assert all(0.19 <= waited < 5 for _, waited in outcomes), outcomes
    assert sink.pending == 4  # nothing was committed


def test_a_failed_commit_refuses_the_waiting_response_and_new_calls_then_recovers(
    db: Database, tmp_path: Path
) -> None:
    path = db_path(tmp_path)
    store = new_store()
    sink = ChainedAuditLog(db, store, REGION)
    sink.flush()  # creates the tables' first rows (signing key) before the trigger
    break_commits(path)
    sink.start()

    async def refused() -> None:
        ticket = new_ticket()
        sink.record(event(1))
        with pytest.raises(DependencyTimeoutException):
            await sink.wait_committed(ticket)

    try:
        asyncio.run(refused())
        assert sink.failing
        with pytest.raises(DependencyTimeoutException) as refusal:
            sink.admit()  # the next call is refused before it runs
        assert refusal.value.status == 503
        assert "audit trail" in refusal.value.message
        mend_commits(path)

        async def served() -> None:
            ticket = new_ticket()
            sink.record(event(2))
            await asyncio.wait_for(sink.wait_committed(ticket), 10)

        asyncio.run(served())
    finally:
        sink.stop()
    assert not sink.failing
    sink.admit()
    # The refused call's event was kept and committed once the trail took events again.
    assert stored_request_ids(path) == ["req-111111111111-1", "req-111111111111-2"]
    assert verify_chain(db, store).ok


def test_buffered_refuses_calls_once_the_backlog_is_full(db: Database, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    sink = ChainedAuditLog(db, new_store(), REGION, policy=BUFFERED)
    sink.flush()
    break_commits(path)
    for n in range(99):
        sink.admit()
        sink.record(event(n))
    sink.admit()  # 99 waiting: still room for one
    sink.record(event(99))
    with pytest.raises(DependencyTimeoutException):
        sink.admit()
    with pytest.raises(Exception, match="disk is full"):
        sink.flush()
    assert sink.pending == 100  # nothing lost by the failed commit
    mend_commits(path)
    sink.flush()
    sink.admit()
    assert len(stored_request_ids(path)) == 100


def test_serve_policy_drops_beyond_the_bound_and_says_so_in_the_trail(
    db: Database, tmp_path: Path
) -> None:
    path = db_path(tmp_path)
    policy = WriterPolicy(
        durability=Durability.BUFFERED, max_pending=100, when_unavailable=WhenUnavailable.SERVE
    )
    sink = ChainedAuditLog(db, new_store(), REGION, policy=policy)
    for n in range(130):
        sink.admit()  # never refuses
        sink.record(event(n))
    assert sink.pending == 100
    sink.flush()
    rows = sql(path, "SELECT record FROM audit_events ORDER BY seq")
    assert len(rows) == 101
    dropped = orjson.loads(str(rows[-1][0]))
    assert dropped["eventName"] == DROPPED_EVENT
    assert dropped["recipientAccountId"] == "provider"
    assert dropped["additionalEventData"]["droppedEvents"] == 30


def test_buffered_commits_within_the_flush_interval_without_a_flush_call(
    db: Database, tmp_path: Path
) -> None:
    sink = ChainedAuditLog(db, new_store(), REGION, policy=BUFFERED)
    sink.start()
    committed = threading.Event()
    try:
        sink.record(event(1))
        for _ in range(100):  # up to 5 s on a loaded machine; the interval is 0.5 s
            if stored_request_ids(db_path(tmp_path)):
                committed.set()
                break
            committed.wait(0.05)
    finally:
        sink.stop()
    assert committed.is_set()


def test_a_failing_commit_logs_one_line_that_quotes_no_record(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = db_path(tmp_path)
    sink = ChainedAuditLog(db, new_store(), REGION, policy=BUFFERED)
    sink.flush()
    break_commits(path)
    caplog.set_level(logging.INFO, logger="strongroom.kms.audit.writer")
    for n in range(20):
        sink.record(event(n))
    for _ in range(50):
        with pytest.raises(Exception, match="disk is full"):
            sink.flush()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1, lines
    assert "cannot commit 20 events" in lines[0]
    assert "database or disk is full" in lines[0]
    assert "req-" not in lines[0] and "arn:" not in lines[0]
    mend_commits(path)
    sink.flush()
    assert any("commits succeed again" in r.getMessage() for r in caplog.records)


def test_an_idle_writer_returns_its_connection_to_the_pool(db: Database) -> None:
    """The writer keeps its connection between commits while busy (docs/adr/0038), not while
    it has nothing to do, nor once stopped."""
    sink = ChainedAuditLog(db, new_store(), REGION)
    sink.start()
    try:
        new_ticket()
        sink.record(event(1))
        deadline = time.monotonic() + 30
        while sink.committed < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sink.committed == 1
        while db.engine.pool.checkedout() and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.05)
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        sink.record(event(2))
        while sink.committed < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sink.committed == 2
    finally:
        sink.stop()
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
