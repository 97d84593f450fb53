"""The object store's versioned schema (Alembic, ``migrations/versions/``), run whenever the
database opens, after the KMS's own migrations and apart from them (version table
``s3_alembic_version``): the object store does not reach into the KMS's schema, nor the KMS
into its.

One transaction per upgrade; several workers or nodes starting at once migrate once (on
PostgreSQL an advisory lock of its own, on SQLite the write lock). Databases whose object store
tables were made by ``create_all`` before migrations existed are adopted: stamped with the
baseline revision (0001, exactly what ``create_all`` made), then upgraded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, MetaData, inspect, text

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

VERSION_TABLE = "s3_alembic_version"
# The newest revision in migrations/versions (a test checks it): at-head costs one query.
HEAD = "0003"
BASELINE = "0001"
BASELINE_TABLES = (
    "s3_bucket_keys",
    "s3_buckets",
    "s3_campaign_bucket_keys",
    "s3_campaigns",
    "s3_objects",
    "s3_upload_parts",
    "s3_uploads",
)
# pg_advisory_xact_lock key ("strongroom-s3-migrate"); the KMS's migration has its own.
_MIGRATION_LOCK = 0x5333_4D49_4752


class SchemaError(Exception):
    """The object store's tables cannot be brought to this version; the message says why."""


@dataclass(frozen=True, slots=True)
class Upgrade:
    before: str | None
    after: str


def target_metadata() -> list[MetaData]:
    """Every table the object store owns (the comparison target of the migrations test)."""
    from strongroom.objectstore.storage import campaigns, tables

    return [tables.metadata, campaigns.campaign_metadata]


@cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(Path(__file__).parent / "migrations"))


def revisions() -> list[str]:
    return [s.revision for s in reversed(list(_scripts().walk_revisions()))]


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _revision(conn)


def upgrade(engine: Engine, target: str | None = None) -> Upgrade:
    """Bring the object store's tables to ``target`` (default: the newest revision)."""
    wanted = target or HEAD
    with engine.connect() as conn:
        if _revision(conn) == wanted:
            return Upgrade(wanted, wanted)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        before = _revision(conn)
        if before == wanted:
            return Upgrade(before, before)
        if before is not None and before not in revisions():
            raise SchemaError(
                f"the object store's tables are at revision {before}, which this Strongroom "
                f"does not know (it knows up to {HEAD}): run the newer Strongroom that made them"
            )
        if before is None and inspect(conn).has_table("s3_buckets"):
            _adopt(conn)
        _run(conn, lambda rev, _ctx: _scripts()._upgrade_revs(wanted, rev))
    return Upgrade(before, wanted)


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    query = text("SELECT version_num FROM s3_alembic_version")  # VERSION_TABLE
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else str(found)


def _adopt(conn: Connection) -> None:
    """Tables from ``create_all`` (before migrations) are the baseline; the campaign tables
    came late in that release, so a directory may lack them: they are created first."""
    from strongroom.objectstore.storage.campaigns import campaign_metadata

    present = set(inspect(conn).get_table_names())
    missing = [n for n in BASELINE_TABLES if n not in present]
    if any(n not in campaign_metadata.tables for n in missing):
        raise SchemaError(
            f"the object store's tables are incomplete (missing {', '.join(missing)}) and "
            "carry no schema revision: restore them from a backup"
        )
    campaign_metadata.create_all(conn, tables=[campaign_metadata.tables[n] for n in missing])
    _run(conn, lambda _rev, _ctx: _scripts()._stamp_revs(BASELINE, ()))


def _run(conn: Connection, fn: Any) -> None:
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext

    config = Config()
    config.attributes["connection"] = conn
    with EnvironmentContext(config, _scripts(), fn=fn):
        _scripts().run_env()
