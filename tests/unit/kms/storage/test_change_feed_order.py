"""The change feed is read in commit order: a poller never skips a change that committed late
with an earlier sequence number (docs/adr/0012), on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime

from strongroom.kms.storage.database import Database, commit_hook
from strongroom.kms.storage.unit_of_work import Transaction

WHEN = datetime(2026, 12, 5, tzinfo=UTC)


class SlowCommit:
    """A commit hook that holds the transaction open after its feed rows are written."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def before_commit(self, tx: Transaction) -> None:
        time.sleep(self.seconds)


def test_a_poller_sees_every_committed_change_however_commits_interleave(
    database_url: str,
) -> None:
    db = Database.open(database_url)
    written: list[str] = []
    seen: list[str] = []
    done = threading.Event()
    lock = threading.Lock()

    def writer(name: str) -> None:
        chance = random.Random(name)
        for i in range(15):
            key = f"{name}-{i}"
            with commit_hook(SlowCommit(chance.uniform(0, 0.03))), db.write_connection() as conn:
                Database.record_change(conn, WHEN, key_id=key)
            with lock:
                written.append(key)

    def poller() -> None:
        last = 0
        while True:
            finished = done.is_set()
            for change in db.changes_since(last):
                assert change.seq > last
                last = change.seq
                seen.append(str(change.key_id))
            if finished:
                return
            time.sleep(0.002)

    try:
        reading = threading.Thread(target=poller)
        reading.start()
        writers = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(4)]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(timeout=120)
        done.set()
        reading.join(timeout=30)
        assert len(written) == 60
        assert sorted(seen) == sorted(written)  # none skipped, none twice
    finally:
        db.engine.dispose()


def test_a_rolled_back_transaction_adds_nothing_to_the_feed(database_url: str) -> None:
    db = Database.open(database_url)
    try:
        before = db.last_change_seq()
        try:
            with db.write_connection() as conn:
                Database.record_change(conn, WHEN, key_id="never")
                raise RuntimeError("abort")
        except RuntimeError:
            pass
        with db.write_connection() as conn:
            Database.record_change(conn, WHEN, key_id="kept")
        assert [c.key_id for c in db.changes_since(before)] == ["kept"]
    finally:
        db.engine.dispose()
