"""Commit hooks: ``commit_hook`` runs in every write transaction of its scope,
``commit_hook_if_changed`` only in one that recorded a change (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from strongroom.kms.storage.database import Database, commit_hook, commit_hook_if_changed
from strongroom.kms.storage.unit_of_work import Transaction

WHEN = datetime(2026, 12, 5, tzinfo=UTC)


class Counted:
    def __init__(self) -> None:
        self.runs = 0

    def before_commit(self, tx: Transaction) -> None:
        assert not tx.read_only
        self.runs += 1


def test_a_conditional_hook_runs_only_where_something_changed(database_url: str) -> None:
    db = Database.open(database_url)
    try:
        always, changed = Counted(), Counted()
        with commit_hook(always), db.write_connection():
            pass  # e.g. a conditional delete that found nothing due
        with commit_hook_if_changed(changed), db.write_connection():
            pass
        assert (always.runs, changed.runs) == (1, 0)
        before = db.last_change_seq()
        with commit_hook_if_changed(changed), db.write_connection() as conn:
            db.record_change(conn, WHEN, key_id="k-1")
        assert changed.runs == 1
        assert [c.key_id for c in db.changes_since(before)] == ["k-1"]
        with db.write_connection():  # outside the scope: no hook at all
            pass
        assert changed.runs == 1
    finally:
        db.engine.dispose()
