"""Versioned schema migrations (Alembic, ``migrations/versions/``), run at every start.

``upgrade`` brings a database to the newest revision this Strongroom knows, in ONE
transaction: every revision of one upgrade commits together or not at all. Several workers or
nodes starting at once migrate once: on PostgreSQL the transaction first takes an advisory lock,
on SQLite ``BEGIN IMMEDIATE`` (engine.py) holds the write lock. A database that is already at
the newest revision costs one query.

Databases made before migrations existed (``create_all`` at each start, ``meta.schema_version``
4) are adopted: ``create_all`` adds any table they lack, as every start did then, and they are
stamped with the baseline revision before the later revisions run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, inspect, select, text

from strongroom.kms.storage import schema

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

# The newest revision in migrations/versions (a test checks it): a database already there is
# recognised with one query, without loading Alembic (every CLI command opens the database).
HEAD = "0007"
BASELINE = "0001"
# The tables revision 0001 creates (a test checks this list against it).
# fmt: off
BASELINE_TABLES = (
    "accounts", "audit_chain_head", "audit_event_accounts", "audit_events",
    "audit_named_events", "audit_signed_heads", "audit_signing_keys", "changes",
    "gov_operators", "gov_proposals", "gov_quorum", "hsm_clusters", "meta",
    "principal_policies", "protection_changes", "store_secrets", "access_keys",
    "custom_key_stores", "gov_approvals", "keys", "principals", "protection_approvals",
    "protection_policies", "aliases", "grants", "imported_materials", "key_materials",
    "key_usage", "tags",
)
# fmt: on
_PRE_MIGRATION_SCHEMA_VERSION = "4"
# pg_advisory_xact_lock key of the migration (any constant: "strongroom-migrate").
_MIGRATION_LOCK = 0x5354524D4947


class SchemaError(Exception):
    """The database cannot be brought to this Strongroom's schema; the message says why."""


@dataclass(frozen=True, slots=True)
class Upgrade:
    before: str | None  # None: an empty database
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


@cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(Path(__file__).parent / "migrations"))


def head() -> str:
    """The newest revision this Strongroom knows."""
    return HEAD


def revisions() -> list[str]:
    """Every known revision, oldest first."""
    return [s.revision for s in reversed(list(_scripts().walk_revisions()))]


def upgrade(engine: Engine, target: str | None = None) -> Upgrade:
    """Migrate to ``target`` (default: the newest revision); see the module note."""
    wanted = target or head()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        before = _revision(conn)
        if before == wanted:
            return Upgrade(before, before)
        if before is not None and before not in revisions():
            raise SchemaError(
                f"the database is at schema revision {before}, which this Strongroom does not "
                f"know (it knows up to {head()}): run the newer Strongroom that migrated it"
            )
        if before is None and inspect(conn).has_table("meta"):
            _adopt(conn)
            before = None
        _run(conn, lambda rev, _ctx: _scripts()._upgrade_revs(wanted, rev))
    return Upgrade(before, wanted)


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    return None if found is None else str(found)


def _adopt(conn: Connection) -> None:
    m = schema.meta.c
    version = conn.execute(select(m.value).where(m.name == "schema_version")).scalar_one_or_none()
    if version not in (None, _PRE_MIGRATION_SCHEMA_VERSION):
        raise SchemaError(
            f"the database has schema version {version}, older than the first migration "
            f"(version {_PRE_MIGRATION_SCHEMA_VERSION}): open it with the Strongroom that made it"
        )
    schema.metadata.create_all(conn, tables=[schema.metadata.tables[n] for n in BASELINE_TABLES])
    _run(conn, lambda _rev, _ctx: _scripts()._stamp_revs(BASELINE, ()))


def _run(conn: Connection, fn: Any) -> None:
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext

    config = Config()
    config.attributes["connection"] = conn
    with EnvironmentContext(config, _scripts(), fn=fn):
        _scripts().run_env()
