"""Signed-out console sessions through the database: what one worker records, another learns
at its next re-read; records end with the session they revoke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from strongroom.kms.api.console_sessions import PREFIX, SignedOutSessions
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.engine import sqlite_url

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def test_a_sign_out_reaches_another_worker_at_its_next_read(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    now = [NOW]
    ticks = Ticks()
    here = SignedOutSessions(db, lambda: now[0], 0.2, ticks)
    there = SignedOutSessions(db, lambda: now[0], 0.2, ticks)
    assert not there.is_revoked("s1")  # read once: nothing signed out
    end = (NOW + timedelta(hours=8)).timestamp()
    here.revoke("s1", end)
    assert here.is_revoked("s1")  # at once where it was signed out
    assert not there.is_revoked("s1")  # the other worker's set is 0 s old
    ticks.value += 0.2
    assert there.is_revoked("s1")
    assert not there.is_revoked("s2")


def test_records_of_ended_sessions_are_pruned(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    now = [NOW]
    sessions = SignedOutSessions(db, lambda: now[0], 0.2, Ticks())
    sessions.revoke("old", (NOW + timedelta(minutes=1)).timestamp())
    now[0] = NOW + timedelta(minutes=2)
    sessions.revoke("new", (now[0] + timedelta(hours=8)).timestamp())
    with db.read() as tx:
        names = [lease.name for lease in tx.leases.live("", NOW - timedelta(days=1))]
    assert names == [PREFIX + "new"]
