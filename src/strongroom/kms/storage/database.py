"""The database: schema creation, meta values and the change feed shared by all repositories."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection, Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from strongroom.kms.storage import migrate, schema
from strongroom.kms.storage.audit_commit import ChainWrites, GroupCommits
from strongroom.kms.storage.engine import READ_ONLY_OPTION, make_engine, redacted

if TYPE_CHECKING:
    from strongroom.kms.storage.unit_of_work import Transaction


class DuplicateRecord(Exception):
    """A record with the same identity exists already."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached (down, restarting, or unreachable); worth a retry."""


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    key_id: str | None
    account_id: str | None
    alias_name: str | None
    access_key_id: str | None
    principal_arn: str | None = None
    custom_key_store_id: str | None = None
    region: str | None = None  # of an alias change


class CommitHook(Protocol):
    """Work that must commit with the first write transaction of a scope (an audit event)."""

    def before_commit(self, tx: Transaction) -> None: ...


# Set by :func:`commit_hook` around one request's handler (a context variable: it never leaks
# into another request, thread or task). See docs/adr/0006-control-plane-audit-in-the-change.md.
_COMMIT_HOOK: ContextVar[CommitHook | None] = ContextVar("strongroom_commit_hook", default=None)


@contextmanager
def commit_hook(hook: CommitHook) -> Iterator[None]:
    """Run ``hook.before_commit(tx)`` at the end of every write transaction in the block."""
    token = _COMMIT_HOOK.set(hook)
    try:
        yield
    finally:
        _COMMIT_HOOK.reset(token)


class _WhenChanged:
    """A hook that runs only in a write transaction that recorded a change for the feed."""

    def __init__(self, hook: CommitHook) -> None:
        self.hook = hook

    def before_commit(self, tx: Transaction) -> None:
        self.hook.before_commit(tx)


@contextmanager
def commit_hook_if_changed(hook: CommitHook) -> Iterator[None]:
    """Like :func:`commit_hook`, for work decided again under a lock (scheduled deletions,
    rotations, expiries): the hook runs only in a transaction that changed something, so the
    event of work another node did first is never written."""
    token = _COMMIT_HOOK.set(_WhenChanged(hook))
    try:
        yield
    finally:
        _COMMIT_HOOK.reset(token)


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._group_commits = GroupCommits(engine)
        # What opening the database migrated (Database.open), for messages.
        self.migration: migrate.Upgrade | None = None

    @classmethod
    def open(cls, url: str) -> Database:
        """The database at ``url``, migrated to this Strongroom's schema (migrate.py)."""
        db = cls(make_engine(url))
        try:
            db.migration = migrate.upgrade(db.engine)
        except (OperationalError, InterfaceError) as error:
            db.engine.dispose()
            raise DatabaseUnavailable(
                f"cannot reach the database {redacted(url)}: {type(error.orig).__name__}"
            ) from None
        except BaseException:
            db.engine.dispose()
            raise
        return db

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One read-write unit of work: the repositories of ``Transaction``, bound to it.

        Everything done through ``tx`` commits together when the block ends, or rolls back if
        it raises. An active :func:`commit_hook` runs last, inside it. See docs/adr/0011.
        """
        from strongroom.kms.storage.unit_of_work import Transaction

        with self.write_connection() as conn:
            yield Transaction(conn, read_only=False)

    @contextmanager
    def audit_group_commit(self) -> Iterator[ChainWrites]:
        """The audit writer's transaction: appends to the chain only (audit_commit.py), on
        the driver's connection; the same writer lock as :meth:`transaction`, no commit hook."""
        with _unavailable_raised(), self._group_commits.transaction() as records:
            yield records

    def release_audit_connection(self) -> None:
        """Return the audit writer's kept connection to the pool (it is idle or stops)."""
        self._group_commits.release()

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        """A read-only unit of work: one consistent snapshot, no write lock taken."""
        from strongroom.kms.storage.unit_of_work import Transaction

        with self.read_connection() as conn:
            yield Transaction(conn, read_only=True)

    # --- connections, for the repositories of this package only ---------------------------

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A read-write transaction (on SQLite it holds the write lock from its start).

        If a :func:`commit_hook` is active, it runs last, in this transaction: a failure there
        rolls the whole transaction back.
        """
        from strongroom.kms.storage.unit_of_work import Transaction

        with _unavailable_raised(), self.engine.begin() as conn:
            try:
                yield conn
                changed = bool(conn.info.get(_PENDING_CHANGES))
                _append_changes(conn)
                hook = _COMMIT_HOOK.get()
                if hook is not None and (changed or not isinstance(hook, _WhenChanged)):
                    hook.before_commit(Transaction(conn, read_only=False))
            finally:
                # conn.info outlives the checkout (it is the pooled connection's).
                conn.info.pop(_PENDING_CHANGES, None)

    @contextmanager
    def insertion(self, what: str) -> Iterator[Connection]:
        """A write transaction in which a uniqueness violation becomes DuplicateRecord."""
        try:
            with self.write_connection() as conn:
                yield conn
        except IntegrityError:
            raise DuplicateRecord(what) from None

    def read_engine(self) -> Engine:
        """The engine for others' read-only queries (the object store's): on SQLite their
        transactions are deferred and never take the write lock."""
        return self.engine.execution_options(**{READ_ONLY_OPTION: True})

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A read-only transaction: a consistent snapshot without the write lock."""
        with _unavailable_raised(), self.engine.connect() as conn:
            conn.execution_options(**{READ_ONLY_OPTION: True})
            with conn.begin():
                yield conn

    def init_meta(self, name: str, value: str) -> str:
        """Set ``name`` unless it is set already; return the value that holds."""
        with self.write_connection() as conn:
            current = conn.execute(
                select(schema.meta.c.value).where(schema.meta.c.name == name)
            ).scalar_one_or_none()
            if current is not None:
                return str(current)
            conn.execute(insert(schema.meta).values(name=name, value=value))
            return value

    @staticmethod
    def record_change(
        conn: Connection,
        at: datetime,
        *,
        key_id: str | None = None,
        account_id: str | None = None,
        region: str | None = None,
        alias_name: str | None = None,
        access_key_id: str | None = None,
        principal_arn: str | None = None,
        custom_key_store_id: str | None = None,
    ) -> None:
        """Add a change to the feed when this write transaction commits (see _append_changes).

        ``key_id`` is a key's record id (domain/ids.record_id); an alias change names its
        account, region and name."""
        conn.info.setdefault(_PENDING_CHANGES, []).append(
            {
                "at": at,
                "key_id": key_id,
                "account_id": account_id,
                "region": region,
                "alias_name": alias_name,
                "access_key_id": access_key_id,
                "principal_arn": principal_arn,
                "custom_key_store_id": custom_key_store_id,
            }
        )

    def last_change_seq(self) -> int:
        with self.read_connection() as conn:
            return int(
                conn.execute(select(func.coalesce(func.max(schema.changes.c.seq), 0))).scalar_one()
            )

    def changes_since(self, seq: int, limit: int = 10_000) -> list[Change]:
        c = schema.changes.c
        with self.read_connection() as conn:
            rows = conn.execute(
                select(
                    c.seq,
                    c.key_id,
                    c.account_id,
                    c.region,
                    c.alias_name,
                    c.access_key_id,
                    c.principal_arn,
                    c.custom_key_store_id,
                )
                .where(c.seq > seq)
                .order_by(c.seq)
                .limit(limit)
            ).all()
        return [
            Change(
                r.seq,
                r.key_id,
                r.account_id,
                r.alias_name,
                r.access_key_id,
                r.principal_arn,
                r.custom_key_store_id,
                r.region,
            )
            for r in rows
        ]

    def prune_changes(self, older_than: datetime, keep: timedelta = timedelta(hours=1)) -> int:
        with self.write_connection() as conn:
            result = conn.execute(
                delete(schema.changes).where(schema.changes.c.at < older_than - keep)
            )
            return int(result.rowcount)


@contextmanager
def _unavailable_raised() -> Iterator[None]:
    """Lost or refused connections (a database restarting, down, unreachable, or SQLite's
    lock wait running out) become DatabaseUnavailable: the caller answers "retry"."""
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        if not _is_unavailability(error):
            raise
        raise DatabaseUnavailable(
            f"the database is unavailable ({type(error.orig).__name__})"
        ) from error


def _is_unavailability(error: OperationalError | InterfaceError) -> bool:
    """A lost or refused connection, not a mistake in a statement (SQLite reports a missing
    table as an OperationalError too; PostgreSQL reports it as a ProgrammingError)."""
    if isinstance(error, InterfaceError) or error.connection_invalidated:
        return True
    if type(error.orig).__module__.startswith("sqlite3"):
        return any(s in str(error.orig) for s in ("locked", "unable to open", "disk I/O"))
    return True


_PENDING_CHANGES = "strongroom_pending_changes"
# pg_advisory_xact_lock key that orders change-feed writers (any constant: "strongroom-feed").
_CHANGE_FEED_LOCK = 0x5354524645454B


def _append_changes(conn: Connection) -> None:
    """Insert the transaction's feed rows as its last writes, in commit order.

    Readers poll ``seq > last seen`` (docs/adr/0012). On PostgreSQL a sequence value is taken
    when a row is inserted, not when its transaction commits, so a transaction could commit
    seq 8 while seq 7 is still open, and a reader would skip 7 for ever. Writers of the feed
    therefore take one transaction-scoped advisory lock before inserting: it is released only
    after the commit is visible, so the next writer's sequence values are higher than those of
    every committed writer before it. Inserting last, just before the audit append, keeps the
    lock short and its order after every row lock of the transaction (no deadlock cycle). On
    SQLite one writer at a time holds the database already.
    """
    pending = conn.info.pop(_PENDING_CHANGES, None)
    if not pending:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_CHANGE_FEED_LOCK)))
    conn.execute(insert(schema.changes), pending)
