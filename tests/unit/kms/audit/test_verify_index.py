"""Editing a column or index row that export, filtering or lookups trust is named by verify.

The trail: 1 Alice's own Decrypt; 2 Bob's Decrypt with Alice's key (Alice's export finds it
through the account index); 3 a ProviderAccess event in Alice's trail (indexed by name);
4 Alice's Encrypt. Each test edits one thing straight in the SQLite file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.kms.audit.export import export_account
from strongroom.kms.audit.record import PROVIDER_ACCESS_EVENT
from strongroom.kms.audit.verify import verify_chain
from strongroom.kms.audit.writer import ChainedAuditLog
from strongroom.kms.keystores.software import SoftwareKeyStore
from strongroom.kms.storage.database import Database
from tests.unit.kms.audit.helpers import (
    ALICE,
    BOB,
    CAROL,
    REGION,
    db_path,
    event,
    key_arn,
    new_store,
    open_db,
)

Trail = tuple[Database, SoftwareKeyStore, Path]


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[Trail]:
    db, store = open_db(tmp_path), new_store()
    sink = ChainedAuditLog(db, store, REGION)
    sink.record(event(1, ALICE))
    sink.record(event(2, BOB, (key_arn(ALICE),)))
    sink.record(event(3, ALICE, operation=PROVIDER_ACCESS_EVENT))
    sink.record(event(4, ALICE, operation="Encrypt"))
    sink.flush()
    yield db, store, db_path(tmp_path)
    db.engine.dispose()


def problem_after(trail: Trail, statement: str) -> tuple[str, int | None, str]:
    db, store, path = trail
    assert verify_chain(db, store).ok
    with sqlite3.connect(path) as conn:
        changed = conn.execute(statement).rowcount
    assert changed >= 1, statement
    verdict = verify_chain(db, store)
    assert verdict.problem is not None, statement
    return verdict.problem.kind, verdict.problem.seq, verdict.problem.message


def alice_sees(trail: Trail) -> list[str]:
    return [line for line in export_account(trail[0], ALICE) if '"req-' in line]


def test_an_event_moved_to_another_account(trail: Trail) -> None:
    assert len(alice_sees(trail)) == 4
    kind, seq, message = problem_after(
        trail, "UPDATE audit_events SET account_id = '333333333333' WHERE seq = 4"
    )
    assert (kind, seq) == ("column", 4)
    assert message == (
        f"seq 4: the account_id column says {CAROL} but the record belongs to {ALICE}; "
        "the column was altered (export filters on it)"
    )
    assert len(alice_sees(trail)) == 3  # what the edit did: the event left Alice's export


def test_a_changed_event_time(trail: Trail) -> None:
    kind, seq, message = problem_after(
        trail, "UPDATE audit_events SET event_time = '2030-01-01 00:00:00.000000' WHERE seq = 1"
    )
    assert (kind, seq) == ("column", 1)
    assert message.startswith("seq 1: the event_time column (2030-01-01T00:00:00+00:00) is not")
    assert "eventTime (2026-01-01T00:01:00.000000Z)" in message


def test_a_deleted_account_index_row_that_hid_an_event_from_its_key_owner(trail: Trail) -> None:
    kind, seq, message = problem_after(trail, "DELETE FROM audit_event_accounts")
    assert (kind, seq) == ("index", 2)
    assert message == (
        f"seq 2: the account index lacks account {ALICE}, which the record names; the index "
        "was altered, hiding the event from that account's export"
    )


def test_an_account_index_row_pointed_at_another_account(trail: Trail) -> None:
    kind, seq, message = problem_after(
        trail, "UPDATE audit_event_accounts SET account_id = '333333333333'"
    )
    assert (kind, seq) == ("index", 2)
    assert "lacks account 111111111111" in message


def test_an_added_account_index_row(trail: Trail) -> None:
    kind, seq, message = problem_after(
        trail,
        "INSERT INTO audit_event_accounts VALUES ('333333333333', 4, '2026-01-01 00:04:00')",
    )
    assert (kind, seq) == ("index", 4)
    assert message == (
        f"seq 4: the account index names account {CAROL}, which the record does not; the "
        "index was altered"
    )


def test_an_account_index_row_with_another_time(trail: Trail) -> None:
    kind, seq, message = problem_after(
        trail, "UPDATE audit_event_accounts SET event_time = '2020-01-01 00:00:00.000000'"
    )
    assert (kind, seq) == ("index", 2)
    assert "has another time than the record" in message


def test_an_account_index_row_for_an_event_that_does_not_exist(trail: Trail) -> None:
    kind, seq, message = problem_after(
        trail,
        "INSERT INTO audit_event_accounts VALUES ('333333333333', 99, '2026-01-01 00:04:00')",
    )
    assert (kind, seq) == ("index", 99)
    assert message.startswith("the account index has a row for seq 99, which is not an event")


def test_a_deleted_event_name_index_row(trail: Trail) -> None:
    kind, seq, message = problem_after(trail, "DELETE FROM audit_named_events")
    assert (kind, seq) == ("index", 3)
    assert (
        message
        == (
            "seq 3: the event-name index lacks for this event; the index was altered "
            "(ProviderAccess lookups trust it)"
        )
        or "lacks" in message
    )


def test_an_event_name_index_row_moved_to_another_event(trail: Trail) -> None:
    kind, seq, _ = problem_after(trail, "UPDATE audit_named_events SET seq = 4")
    assert (kind, seq) == ("index", 3)


def test_an_event_name_index_row_added_for_another_event(trail: Trail) -> None:
    kind, seq, message = problem_after(
        trail, "INSERT INTO audit_named_events VALUES ('ProviderAccess', '111111111111', 4)"
    )
    assert (kind, seq) == ("index", 4)
    assert message == (
        "seq 4: the event-name index has a row (ProviderAccess, 111111111111) that the record "
        "does not justify; the index was altered"
    )


def test_an_event_name_index_row_moved_to_another_account(trail: Trail) -> None:
    kind, seq, message = problem_after(
        trail, "UPDATE audit_named_events SET account_id = '222222222222'"
    )
    assert (kind, seq) == ("index", 3)
    assert "lacks the row of this ProviderAccess event" in message
