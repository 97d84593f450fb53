"""The per-worker key cache: hits touch no database; changes reach every worker via the feed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from strongroom.kms.domain import ciphertext
from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.ids import new_account_id, new_key_id, new_material_id
from strongroom.kms.domain.key import AliasRecord, KeyRecord
from strongroom.kms.domain.principals import Account
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.errors import InvalidCiphertextException
from strongroom.kms.keystores.software import SoftwareKeyStore
from strongroom.kms.service.cache import KeyCache
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.engine import sqlite_url
from strongroom.kms.storage.identity import IdentityRepository
from strongroom.kms.storage.keys import KeyRepository

NOW = datetime(2026, 11, 29, tzinfo=UTC)


class Worker:
    """One worker's view: its own engine (connection pool), repository and cache."""

    def __init__(self, path: Path, store: SoftwareKeyStore) -> None:
        self.db = Database.open(sqlite_url(path))
        self.repo = KeyRepository(self.db)
        self.cache = KeyCache(self.db, self.repo, store)
        self.statements = 0
        self.reads = 0  # SELECT statements (a read transaction also sends BEGIN)
        event.listen(self.db.engine, "before_cursor_execute", self._count)

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements += 1
        self.reads += statement.lstrip().upper().startswith("SELECT")

    @contextmanager
    def no_queries(self) -> Iterator[None]:
        before = self.statements
        yield
        assert self.statements == before, "the cache went to the database"


@pytest.fixture
def store() -> SoftwareKeyStore:
    return SoftwareKeyStore("s", Secret(os.urandom(32)))


@pytest.fixture
def workers(tmp_path: Path, store: SoftwareKeyStore) -> tuple[Worker, Worker]:
    return Worker(tmp_path, store), Worker(tmp_path, store)


def _create(worker: Worker, store: SoftwareKeyStore) -> KeyRecord:
    account = new_account_id()
    IdentityRepository(worker.db).create_account(Account(account, "t", NOW))
    key = KeyRecord(
        new_key_id(),
        account,
        "us-east-1",
        NOW,
        KeyState.ENABLED,
        current_material_id=new_material_id(),
    )
    wrapped = store.new_material(key.arn, key.current_material_id or "")
    worker.repo.create_key(key, store.store_id, wrapped, {})
    return key


def test_hits_do_not_query(workers: tuple[Worker, Worker], store: SoftwareKeyStore) -> None:
    a, _ = workers
    key = _create(a, store)
    material_id = key.current_material_id or ""
    assert a.cache.key(key.region, key.key_id) == key
    a.cache.material(key, material_id)
    with a.no_queries():
        for _ in range(100):
            assert a.cache.key(key.region, key.key_id) == key
            a.cache.material(key, material_id).encrypt(b"x", b"")


def test_change_in_one_worker_reaches_the_other(
    workers: tuple[Worker, Worker], store: SoftwareKeyStore
) -> None:
    a, b = workers
    key = _create(a, store)
    b.cache.poll()  # catch up with the creation
    assert b.cache.key(key.region, key.key_id) == key
    disabled = a.repo.update_key(key.key_id, NOW, lambda k: k.with_state(KeyState.DISABLED))
    a.cache.put_key(disabled)
    assert a.cache.key(key.region, key.key_id) == disabled
    assert b.cache.key(key.region, key.key_id) == key  # stale until it polls
    changes = b.cache.poll()
    assert [c.key_id for c in changes] == [key.key_id]
    assert b.cache.key(key.region, key.key_id) == disabled
    assert b.cache.poll() == []


def test_aliases_negative_entries_are_evicted_too(
    workers: tuple[Worker, Worker], store: SoftwareKeyStore
) -> None:
    a, b = workers
    key = _create(a, store)
    assert b.cache.alias_target(key.account_id, key.region, "alias/new") is None
    with b.no_queries():
        assert b.cache.alias_target(key.account_id, key.region, "alias/new") is None
    a.repo.create_alias(AliasRecord(key.account_id, key.region, "alias/new", key.key_id, NOW, NOW))
    b.cache.poll()
    assert b.cache.alias_target(key.account_id, key.region, "alias/new") == key.key_id


def test_material_of_another_key_is_invalid_ciphertext(
    workers: tuple[Worker, Worker], store: SoftwareKeyStore
) -> None:
    a, _ = workers
    first, second = _create(a, store), _create(a, store)
    a.cache.material(first, first.current_material_id or "")
    with pytest.raises(InvalidCiphertextException):
        a.cache.material(second, first.current_material_id or "")
    with pytest.raises(InvalidCiphertextException):
        a.cache.material(first, "ff" * 32)


def test_a_key_new_to_the_worker_costs_one_read(
    workers: tuple[Worker, Worker], store: SoftwareKeyStore
) -> None:
    """Encrypt's first use of a key: the record and its current material in one query."""
    a, b = workers
    key = _create(a, store)
    b.cache.poll()
    before = b.reads
    record = b.cache.key(key.region, key.key_id)
    assert record == key
    sealed = b.cache.material(key, key.current_material_id or "").encrypt(b"x", b"aad")
    assert b.reads - before == 1
    with b.no_queries():
        b.cache.material(key, key.current_material_id or "").decrypt(*sealed, b"aad")
    absent = new_key_id()
    assert (
        b.cache.key(key.region, absent) is None
    )  # an unknown key: read once, remembered as absent
    with b.no_queries():
        assert b.cache.key(key.region, absent) is None


def test_the_cache_is_bounded_and_keeps_what_is_used(
    tmp_path: Path, store: SoftwareKeyStore
) -> None:
    worker = Worker(tmp_path, store)
    cache = KeyCache(worker.db, worker.repo, store, max_entries=2)
    hot, second, third = (_create(worker, store) for _ in range(3))
    for key in (hot, second, hot, third):  # `second` is the least recently used when full
        assert cache.key(key.region, key.key_id) == key
        cache.material(key, key.current_material_id or "")
    assert (cache.evictions, cache.material_evictions) == (1, 1)  # second: record, material
    with worker.no_queries():
        assert cache.key(hot.region, hot.key_id) == hot
        assert cache.key(third.region, third.key_id) == third
        cache.material(hot, hot.current_material_id or "")
    before = worker.reads
    assert cache.key(second.region, second.key_id) == second  # forgotten: read again, once
    assert worker.reads - before == 1


def test_a_read_racing_a_change_is_not_kept(
    workers: tuple[Worker, Worker], store: SoftwareKeyStore
) -> None:
    """The interleaving: b reads the key (before a's change commits), a disables it, b's
    poller applies the change, and only then does b's read store its answer. The stale
    record must not be served after that."""
    a, b = workers
    key = _create(a, store)
    b.cache.poll()
    interleaved: list[KeyRecord] = []

    def change_during_read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Once, right after the read's SELECT ran: its answer is the old record.
        if not interleaved and statement.lstrip().upper().startswith("SELECT"):
            interleaved.append(
                a.repo.update_key(key.key_id, NOW, lambda k: k.with_state(KeyState.DISABLED))
            )
            b.cache.poll()

    event.listen(b.db.engine, "after_cursor_execute", change_during_read)
    first = b.cache.key(key.region, key.key_id)
    event.remove(b.db.engine, "after_cursor_execute", change_during_read)
    assert first is not None and first.state is KeyState.ENABLED  # read before the change
    assert interleaved and interleaved[0].state is KeyState.DISABLED
    second = b.cache.key(key.region, key.key_id)
    assert second is not None and second.state is KeyState.DISABLED


def test_an_alias_read_racing_a_change_is_not_kept(
    workers: tuple[Worker, Worker], store: SoftwareKeyStore
) -> None:
    a, b = workers
    key = _create(a, store)
    b.cache.poll()
    done: list[bool] = []

    def change_during_read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not done and statement.lstrip().upper().startswith("SELECT"):
            done.append(True)
            a.repo.create_alias(
                AliasRecord(key.account_id, key.region, "alias/raced", key.key_id, NOW, NOW)
            )
            b.cache.poll()

    event.listen(b.db.engine, "after_cursor_execute", change_during_read)
    assert b.cache.alias_target(key.account_id, key.region, "alias/raced") is None
    event.remove(b.db.engine, "after_cursor_execute", change_during_read)
    assert b.cache.alias_target(key.account_id, key.region, "alias/raced") == key.key_id


def test_sealing_gives_the_header_with_the_cipher_in_one_lookup(
    workers: tuple[Worker, Worker], store: SoftwareKeyStore
) -> None:
    """Encrypt's lookup: the blob header kept with the unwrapped material, a cold key still one
    read, a material of another key still an invalid ciphertext."""
    a, b = workers
    key, other = _create(a, store), _create(a, store)
    material_id = key.current_material_id or ""
    b.cache.poll()
    before = b.reads
    assert b.cache.key(key.region, key.key_id) == key
    header, cipher = b.cache.sealing(key, material_id)
    assert b.reads - before == 1
    assert header == ciphertext.header_for(key.key_id, material_id)
    hits = b.cache.material_hits
    with b.no_queries():
        again, same = b.cache.sealing(key, material_id)
        nonce, sealed = cipher.encrypt(b"x", header)
        assert b.cache.material(key, material_id).decrypt(nonce, sealed, again) == b"x"
    assert (again, same, b.cache.material_hits) == (header, cipher, hits + 2)
    with pytest.raises(InvalidCiphertextException):
        b.cache.sealing(other, material_id)
