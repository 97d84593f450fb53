"""The object store's versioned migrations on SQLite and PostgreSQL: fresh, from the previous
revision, from tables ``create_all`` made before migrations existed, and refusals."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, insert, inspect, select, text

from strongroom.kms.storage.engine import make_engine
from strongroom.objectstore.storage import migrate
from strongroom.objectstore.storage.metadata import Metadata
from strongroom.objectstore.storage.tables import buckets, metadata, uploads


def _all_tables() -> MetaData:
    combined = MetaData()
    for source in migrate.target_metadata():
        for table in source.tables.values():
            table.to_metadata(combined)
    return combined


def test_a_fresh_database_gets_exactly_the_tables_of_tables_py(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        Metadata(engine)
        assert migrate.current(engine) == migrate.HEAD
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_object": lambda _o, name, kind, _r, _c: (
                        kind != "table"
                        or ((name or "").startswith("s3_") and name != migrate.VERSION_TABLE)
                    ),
                },
            )
            assert compare_metadata(context, _all_tables()) == []
    finally:
        engine.dispose()


def test_the_head_constant_is_the_newest_revision() -> None:
    assert migrate.revisions()[-1] == migrate.HEAD
    assert migrate._scripts().get_current_head() == migrate.HEAD


def _pre_migration(url: str) -> None:
    """What the first release's ``create_all`` left: revision 0001's tables, no version table
    (0001 is that schema; the first test checks the head against tables.py)."""
    engine = make_engine(url)
    try:
        migrate.upgrade(engine, migrate.BASELINE)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE s3_alembic_version"))
            conn.execute(
                insert(buckets).values(
                    name="b", account_id="111122223333", created_at="2026-12-01T00:00:00+00:00"
                )
            )
    finally:
        engine.dispose()


def test_tables_create_all_made_are_adopted_in_place(database_url: str) -> None:
    _pre_migration(database_url)
    engine = make_engine(database_url)
    try:
        assert migrate.current(engine) is None
        result = migrate.upgrade(engine)
        assert (result.before, result.after) == (None, migrate.HEAD)
        with engine.connect() as conn:
            assert conn.execute(select(buckets.c.name)).scalars().all() == ["b"]
        indexes = {i["name"] for i in inspect(engine).get_indexes("s3_uploads")}
        assert indexes == {"s3_uploads_by_bucket_key"}
    finally:
        engine.dispose()


def test_a_directory_made_before_campaigns_existed_gets_their_tables(database_url: str) -> None:
    _pre_migration(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE s3_campaign_bucket_keys"))
            conn.execute(text("DROP TABLE s3_campaigns"))
        migrate.upgrade(engine)
        assert inspect(engine).has_table("s3_campaigns")
        assert migrate.current(engine) == migrate.HEAD
    finally:
        engine.dispose()


def test_the_previous_revision_is_upgraded_keeping_its_rows(database_url: str) -> None:
    previous = migrate.revisions()[-2]
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine, previous)
        assert migrate.current(engine) == previous
        with engine.begin() as conn:
            conn.execute(
                insert(buckets).values(
                    name="kept", account_id="111122223333", created_at="2026-12-01T00:00:00+00:00"
                )
            )
        store = Metadata(engine)
        assert migrate.current(engine) == migrate.HEAD
        kept = store.bucket("kept")
        assert kept is not None and kept.region is None  # made before buckets had regions
        with engine.connect() as conn:
            assert conn.execute(select(uploads.c.upload_id)).all() == []
    finally:
        engine.dispose()


def test_a_revision_from_a_newer_strongroom_is_refused(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE s3_alembic_version SET version_num = '9999'"))
        with pytest.raises(migrate.SchemaError, match="revision 9999"):
            Metadata(engine)
    finally:
        engine.dispose()


def test_incomplete_unversioned_tables_are_refused(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        metadata.create_all(engine, tables=[buckets])
        with pytest.raises(migrate.SchemaError, match="missing"):
            migrate.upgrade(engine)
        assert not inspect(engine).has_table(migrate.VERSION_TABLE)
    finally:
        engine.dispose()


def test_the_kms_and_the_object_store_keep_separate_version_tables(database_url: str) -> None:
    from strongroom.kms.storage import migrate as kms_migrate
    from strongroom.kms.storage.database import Database

    db = Database.open(database_url)
    try:
        Metadata(db.engine)
        assert kms_migrate.current(db.engine) == kms_migrate.HEAD
        assert migrate.current(db.engine) == migrate.HEAD
    finally:
        db.engine.dispose()


def test_openers_at_once_migrate_once(database_url: str) -> None:
    errors: list[BaseException] = []
    engines = [make_engine(database_url) for _ in range(4)]

    def open_one(engine: Engine) -> None:
        try:
            Metadata(engine)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_one, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    for engine in engines:
        assert migrate.current(engine) == migrate.HEAD
        engine.dispose()
