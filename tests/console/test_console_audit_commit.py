"""A console page is sent only once the audit events of its KMS calls are committed, under the
KMS's default ``before-response`` durability, exactly like an API response (ADR 0013)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from tests.support.console import Answer, ConsoleClient
from tests.support.servers import in_process_server


def _events(db: Path, name: str) -> int:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT record FROM audit_events").fetchall()
    return sum(1 for (record,) in rows if json.loads(record)["eventName"] == name)


def test_a_page_waits_for_the_commit_of_its_audit_events(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "data", chained_audit=True) as server:
        client = ConsoleClient(server.endpoint)
        assert client.sign_in(server.admin_key).status == 303
        key_id = server.client().create_key()["KeyMetadata"]["KeyId"]
        db_path = server.data_dir / "strongroom.db"
        before = _events(db_path, "ListKeys")
        # Hold SQLite's write lock: the audit writer cannot commit until it is released.
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        answers: list[Answer] = []
        page = threading.Thread(target=lambda: answers.append(client.get("/console/keys")))
        try:
            page.start()
            page.join(1.5)
            assert page.is_alive(), "the page was sent before its audit events were committed"
            assert answers == []
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        page.join(20)
        assert [a.status for a in answers] == [200]
        assert key_id in answers[0].body
        # Sent after the commit: the page's ListKeys is in the trail already, no waiting.
        assert _events(db_path, "ListKeys") == before + 1
