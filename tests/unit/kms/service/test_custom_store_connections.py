"""A worker's cache of custom key store records: a change it made itself is never overwritten
by an older read."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from strongroom.kms.domain.custom_key_stores import (
    ConnectionState,
    CustomKeyStore,
    new_custom_key_store_id,
)
from strongroom.kms.domain.ids import new_account_id
from strongroom.kms.domain.principals import Account
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.keystores.software import SoftwareKeyStore
from strongroom.kms.service.custom_store_connections import CustomKeyStoreConnections
from strongroom.kms.storage.custom_key_stores import CustomKeyStoreRepository
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.engine import sqlite_url
from strongroom.kms.storage.identity import IdentityRepository

NOW = datetime(2026, 12, 5, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(sqlite_url(tmp_path))


@pytest.fixture
def connections(db: Database) -> CustomKeyStoreConnections:
    secrets = SoftwareKeyStore("s", Secret(os.urandom(32)))
    return CustomKeyStoreConnections(CustomKeyStoreRepository(db), secrets)


def _create(db: Database, connections: CustomKeyStoreConnections) -> CustomKeyStore:
    account_id = new_account_id()
    IdentityRepository(db).create_account(Account(account_id, "t", NOW))
    store = CustomKeyStore(
        custom_key_store_id=new_custom_key_store_id(),
        account_id=account_id,
        name="store",
        cluster_id=None,
        trust_anchor=None,
        connection_state=ConnectionState.DISCONNECTED,
        connection_error_code=None,
        created_at=NOW,
    )
    connections.repo.create_store(store, b"sealed", max_per_account=10)
    return store


def test_a_read_racing_this_workers_own_change_is_not_kept(
    tmp_path: Path, db: Database, connections: CustomKeyStoreConnections
) -> None:
    """The interleaving CI once hit: the change-feed thread reads a store (DISCONNECTED), a
    request commits CONNECTED and puts the new record, then the feed thread's read stores its
    older answer. DescribeCustomKeyStores must say CONNECTED after that."""
    store = _create(db, connections)
    store_id = store.custom_key_store_id
    request_side = CustomKeyStoreRepository(Database.open(sqlite_url(tmp_path)))
    interleaved: list[CustomKeyStore] = []

    def connect_during_read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Once, right after the read's SELECT ran: its answer is the old record.
        if not interleaved and statement.lstrip().upper().startswith("SELECT"):
            updated = request_side.update_store(
                store_id, NOW, lambda s: s.with_connection(ConnectionState.CONNECTED)
            )
            connections.put(updated)
            interleaved.append(updated)

    event.listen(db.engine, "after_cursor_execute", connect_during_read)
    first = connections.record(store_id)
    event.remove(db.engine, "after_cursor_execute", connect_during_read)
    assert first is not None and first.connection_state is ConnectionState.DISCONNECTED
    assert interleaved and interleaved[0].connected
    assert connections.is_connected(store_id)
    second = connections.record(store_id)
    assert second is not None and second.connection_state is ConnectionState.CONNECTED


def test_records_are_read_once_until_something_changes(
    db: Database, connections: CustomKeyStoreConnections
) -> None:
    store = _create(db, connections)
    selects: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(db.engine, "after_cursor_execute", count)
    assert connections.record(store.custom_key_store_id) == store
    assert connections.record(store.custom_key_store_id) == store
    assert len(selects) == 1
    connections.forget(store.custom_key_store_id)
    assert connections.record(store.custom_key_store_id) == store
    assert len(selects) == 2
    event.remove(db.engine, "after_cursor_execute", count)
