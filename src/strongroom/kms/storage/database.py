"""The database: schema creation, meta values and the change feed shared by all repositories."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection, Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from strongroom.kms.storage import schema
from strongroom.kms.storage.engine import READ_ONLY_OPTION, make_engine

if TYPE_CHECKING:
    from strongroom.kms.storage.unit_of_work import Transaction


class DuplicateRecord(Exception):
    """A record with the same identity exists already."""


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    key_id: str | None
    account_id: str | None
    alias_name: str | None
    access_key_id: str | None
    principal_arn: str | None = None
    custom_key_store_id: str | None = None


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


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Database:
        db = cls(make_engine(url))
        schema.metadata.create_all(db.engine)
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

        with self.engine.begin() as conn:
            yield conn
            hook = _COMMIT_HOOK.get()
            if hook is not None:
                hook.before_commit(Transaction(conn, read_only=False))

    @contextmanager
    def insertion(self, what: str) -> Iterator[Connection]:
        """A write transaction in which a uniqueness violation becomes DuplicateRecord."""
        try:
            with self.write_connection() as conn:
                yield conn
        except IntegrityError:
            raise DuplicateRecord(what) from None

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A read-only transaction: a consistent snapshot without the write lock."""
        with self.engine.connect() as conn:
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
        alias_name: str | None = None,
        access_key_id: str | None = None,
        principal_arn: str | None = None,
        custom_key_store_id: str | None = None,
    ) -> None:
        conn.execute(
            insert(schema.changes).values(
                at=at,
                key_id=key_id,
                account_id=account_id,
                alias_name=alias_name,
                access_key_id=access_key_id,
                principal_arn=principal_arn,
                custom_key_store_id=custom_key_store_id,
            )
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
            )
            for r in rows
        ]

    def prune_changes(self, older_than: datetime, keep: timedelta = timedelta(hours=1)) -> int:
        with self.write_connection() as conn:
            result = conn.execute(
                delete(schema.changes).where(schema.changes.c.at < older_than - keep)
            )
            return int(result.rowcount)
