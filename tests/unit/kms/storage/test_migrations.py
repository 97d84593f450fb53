"""Versioned migrations on SQLite and PostgreSQL: fresh, from the previous revision, from a data
directory made before migrations existed, refusals, and several openers at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, insert, inspect, select, text

from strongroom.kms.domain.key import AliasRecord
from strongroom.kms.storage import migrate, schema
from strongroom.kms.storage.database import Database, DuplicateRecord
from strongroom.kms.storage.engine import make_engine
from strongroom.kms.storage.keys import KeyRepository

WHEN = datetime(2026, 12, 1, tzinfo=UTC)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_fresh_database_gets_exactly_the_schema_of_schema_py(database_url: str) -> None:
    db = Database.open(database_url)
    try:
        assert migrate.current(db.engine) == migrate.head()
        with db.engine.connect() as conn:
            differences = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), schema.metadata
            )
        assert differences == []
    finally:
        db.engine.dispose()


def test_the_head_constant_is_the_newest_revision() -> None:
    assert migrate.revisions()[-1] == migrate.HEAD
    assert migrate._scripts().get_current_head() == migrate.HEAD


def test_the_baseline_table_list_is_what_revision_0001_creates(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine, migrate.BASELINE)
        assert migrate.current(engine) == migrate.BASELINE
    finally:
        engine.dispose()
    assert _tables(database_url) == {*migrate.BASELINE_TABLES, "alembic_version"}


def test_a_database_of_the_previous_revision_is_upgraded_keeping_its_rows(
    database_url: str,
) -> None:
    previous = migrate.revisions()[-2]
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine, previous)
        with engine.begin() as conn:
            conn.execute(
                insert(schema.accounts).values(account_id="111122223333", name="a", created_at=WHEN)
            )
    finally:
        engine.dispose()
    db = Database.open(database_url)
    try:
        assert migrate.current(db.engine) == migrate.head()
        with db.read_connection() as conn:
            names = conn.execute(select(schema.accounts.c.name)).scalars().all()
        assert names == ["a"]
        with db.transaction() as tx:
            tx.meta.put("after", "upgrade")
        with db.read() as tx:
            assert tx.meta.get("after") == "upgrade"
    finally:
        db.engine.dispose()


def _pre_migration_database(url: str, version: str, missing: str | None = None) -> None:
    """What ``create_all`` left before migrations existed: tables, meta.schema_version."""
    engine = make_engine(url)
    try:
        tables = [schema.metadata.tables[n] for n in migrate.BASELINE_TABLES if n != missing]
        schema.metadata.create_all(engine, tables=tables)
        with engine.begin() as conn:
            conn.execute(insert(schema.meta).values(name="schema_version", value=version))
            conn.execute(insert(schema.meta).values(name="default_store_id", value="s1"))
    finally:
        engine.dispose()


def test_a_data_directory_from_before_migrations_is_adopted_in_place(database_url: str) -> None:
    _pre_migration_database(database_url, "4", missing="protection_policies")
    db = Database.open(database_url)
    try:
        assert migrate.current(db.engine) == migrate.head()
        with db.read() as tx:
            assert tx.meta.get("default_store_id") == "s1"
            assert tx.meta.get("schema_version") is None
    finally:
        db.engine.dispose()
    assert "protection_policies" in _tables(database_url)
    assert "leases" in _tables(database_url)


def test_an_older_unversioned_schema_is_refused_with_a_message(database_url: str) -> None:
    _pre_migration_database(database_url, "3")
    with pytest.raises(migrate.SchemaError, match="schema version 3"):
        Database.open(database_url)
    assert "leases" not in _tables(database_url)


def test_a_database_from_a_newer_strongroom_is_refused(database_url: str) -> None:
    Database.open(database_url).engine.dispose()
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(migrate.SchemaError, match="revision 9999"):
        Database.open(database_url)


def test_nodes_starting_at_once_migrate_once(database_url: str) -> None:
    errors: list[BaseException] = []
    opened: list[Database] = []

    def open_one() -> None:
        try:
            opened.append(Database.open(database_url))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(opened) == 4
    for db in opened:
        assert migrate.current(db.engine) == migrate.head()
        db.engine.dispose()


def test_revision_0006_gives_aliases_the_old_region_and_keeps_every_row(database_url: str) -> None:
    """A data directory of one region (revision 0005) upgraded: its aliases get the region it
    served, keys and materials are unchanged, and the same alias name is then free in another
    region."""
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine, "0005")
        with engine.begin() as conn:
            rows: dict[str, list[dict[str, object]]] = {
                "meta": [{"name": "region", "value": "eu-west-1"}],
                "accounts": [{"account_id": "111122223333", "name": "a", "created_at": WHEN}],
            }
            for table, values in rows.items():
                conn.execute(insert(schema.metadata.tables[table]), values)
            conn.execute(
                text(
                    "INSERT INTO keys (key_id, account_id, region, created_at, state, "
                    "description, key_spec, key_usage, origin, key_manager, policy) VALUES "
                    "('k1', '111122223333', 'eu-west-1', :t, 'Enabled', '', 'SYMMETRIC_DEFAULT', "
                    "'ENCRYPT_DECRYPT', 'AWS_KMS', 'CUSTOMER', '{}')"
                ),
                {"t": WHEN.replace(tzinfo=None)},
            )
            conn.execute(
                text(
                    "INSERT INTO key_materials (material_id, key_id, store_id, wrapped, "
                    "created_at, version) VALUES ('m1', 'k1', 's', :w, :t, 1)"
                ),
                {"w": b"wrapped", "t": WHEN.replace(tzinfo=None)},
            )
            conn.execute(
                text(
                    "INSERT INTO aliases (account_id, alias_name, key_id, created_at, updated_at) "
                    "VALUES ('111122223333', 'alias/app', 'k1', :t, :t)"
                ),
                {"t": WHEN.replace(tzinfo=None)},
            )
    finally:
        engine.dispose()
    db = Database.open(database_url)
    try:
        assert migrate.current(db.engine) == migrate.head()
        keys = KeyRepository(db)
        alias = keys.get_alias("111122223333", "eu-west-1", "alias/app")
        assert alias is not None and alias.target_key_id == "k1"
        assert keys.get_alias("111122223333", "us-east-1", "alias/app") is None
        key = keys.get_key("k1")
        assert key is not None and key.arn == "arn:aws:kms:eu-west-1:111122223333:key/k1"
        assert keys.get_material("k1", "m1") == ("s", b"wrapped")
        # Alias names are now unique per account and region.
        keys.create_alias(AliasRecord("111122223333", "us-east-1", "alias/app", "k1", WHEN, WHEN))
        with pytest.raises(DuplicateRecord):
            keys.create_alias(
                AliasRecord("111122223333", "eu-west-1", "alias/app", "k1", WHEN, WHEN)
            )
        with db.engine.connect() as conn:
            differences = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), schema.metadata
            )
        assert differences == []
    finally:
        db.engine.dispose()
