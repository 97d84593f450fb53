from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import orjson

from strongroom.kms.audit.export import export_account
from strongroom.kms.audit.writer import ChainedAuditLog
from strongroom.kms.storage.database import Database
from tests.unit.kms.audit.helpers import (
    ALICE,
    BOB,
    CAROL,
    REGION,
    T0,
    db_path,
    event,
    key_arn,
    new_store,
    open_db,
)


def filled(tmp_path: Path) -> Database:
    db = open_db(tmp_path)
    sink = ChainedAuditLog(db, new_store(), REGION)
    sink.record(event(1, ALICE))  # Alice's own key
    sink.record(event(2, BOB))  # Bob's own key
    sink.record(event(3, BOB, (key_arn(ALICE),)))  # Bob uses Alice's key
    sink.record(event(4, CAROL, (key_arn(BOB),), error_code="DisabledException"))
    sink.record(event(5, ALICE, ()))  # no resource (ListKeys)
    sink.record(event(6, CAROL, (key_arn(ALICE),), error_code="AccessDeniedException"))
    sink.flush()
    return db


def request_ids(db: Database, account: str, **bounds: object) -> list[str]:
    return [
        orjson.loads(line)["requestID"]
        for line in export_account(db, account, **bounds)  # type: ignore[arg-type]
    ]


def test_an_account_gets_its_own_events_and_those_about_its_keys(tmp_path: Path) -> None:
    db = filled(tmp_path)
    assert request_ids(db, ALICE) == [f"req-{ALICE}-1", f"req-{BOB}-3", f"req-{ALICE}-5"]
    assert request_ids(db, BOB) == [f"req-{BOB}-2", f"req-{BOB}-3", f"req-{CAROL}-4"]
    assert request_ids(db, CAROL) == [f"req-{CAROL}-4", f"req-{CAROL}-6"]
    assert request_ids(db, "999999999999") == []


def test_a_cross_account_access_denial_is_only_the_callers_event(tmp_path: Path) -> None:
    db = filled(tmp_path)
    assert f"req-{CAROL}-6" not in request_ids(db, ALICE)  # Carol probing Alice's key
    assert f"req-{CAROL}-6" in request_ids(db, CAROL)


def test_lines_are_the_stored_cloudtrail_records(tmp_path: Path) -> None:
    db = filled(tmp_path)
    line = next(iter(export_account(db, CAROL)))
    record = orjson.loads(line)
    assert record["eventSource"] == "kms.amazonaws.com"
    assert record["errorCode"] == "DisabledException"
    assert record["userIdentity"]["accountId"] == CAROL
    assert record["resources"][0]["accountId"] == BOB
    assert "\n" not in line


def test_since_is_inclusive_and_until_exclusive(tmp_path: Path) -> None:
    db = filled(tmp_path)
    since, until = T0 + timedelta(minutes=2), T0 + timedelta(minutes=4)
    assert request_ids(db, BOB, since=since) == [f"req-{BOB}-2", f"req-{BOB}-3", f"req-{CAROL}-4"]
    assert request_ids(db, BOB, until=until) == [f"req-{BOB}-2", f"req-{BOB}-3"]
    assert request_ids(db, BOB, since=since + timedelta(seconds=1), until=until) == [f"req-{BOB}-3"]


def test_a_damaged_index_does_not_leak_another_tenants_event(tmp_path: Path) -> None:
    db = filled(tmp_path)
    with sqlite3.connect(db_path(tmp_path)) as conn:
        conn.execute(
            "INSERT INTO audit_event_accounts VALUES (?, 2, '2026-01-01 00:02:00')", (CAROL,)
        )
        conn.execute(
            "INSERT INTO audit_event_accounts VALUES (?, 6, '2026-01-01 00:06:00')", (ALICE,)
        )
        conn.execute("UPDATE audit_events SET account_id = ? WHERE seq = 1", (CAROL,))
    assert request_ids(db, CAROL) == [f"req-{CAROL}-4", f"req-{CAROL}-6"]
    # (Alice's event 1, no longer found by its damaged column, is missing: not leaked.)
    assert request_ids(db, ALICE) == [f"req-{BOB}-3", f"req-{ALICE}-5"]
