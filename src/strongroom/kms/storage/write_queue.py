"""SQLite's writers queue on a lock instead of polling: no write waits in SQLite's busy loop.

Every write transaction on SQLite starts with ``BEGIN IMMEDIATE`` and so holds the database's
one write lock until it ends. A writer that finds it taken is parked by SQLite's busy handler,
which sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100, 100... ms between tries, however soon
the lock is released: with two worker processes each committing audit batches back to back, a
commit regularly slept 25-100 ms with the lock long free, and every response waiting for that
commit with it (the p99 of 90 ms at 64 connections; docs/adr/0022).

Here a write transaction first takes a lock that wakes the next waiter the moment it is released:
a thread lock inside the process, then a record lock (``lockf``) on a lock file beside the
database across processes (the kernel wakes waiters at once and releases the locks of a process
that dies). A kernel lock is not fair: a writer that commits back to back would take it again
before the woken waiter runs, and starve it. So the lock is taken through a turnstile, a second
record lock held only while waiting for the first: a writer that releases the lock and wants it
again must pass the turnstile, which the waiter holds until it has the lock. Two processes
therefore alternate. The thread lock's wait is bounded like SQLite's (``busy_timeout``): past it
the transaction fails as a locked database does. Reads take no lock (WAL readers never wait
for the writer).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

LOCK_SUFFIX = "-writer.lock"
# The bytes of the lock file whose record locks are the turnstile and the writer lock.
_TURNSTILE, _WRITER = 0, 1


class WriterLock:
    """One database file's writer lock: for one thread of this process, and one process."""

    def __init__(self, path: Path, timeout_seconds: float) -> None:
        self._path = path
        self._timeout = timeout_seconds
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    def acquire(self) -> None:
        if not self._thread_lock.acquire(timeout=self._timeout):
            raise sqlite3.OperationalError("database is locked")
        try:
            if self._fd is None:  # opened once per process; the file is only ever locked
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.lockf(self._fd, fcntl.LOCK_EX, 1, _TURNSTILE)
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_EX, 1, _WRITER)
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, _TURNSTILE)
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        try:
            if self._fd is not None:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, _WRITER)
        finally:
            self._thread_lock.release()


_locks: dict[Path, WriterLock] = {}
_locks_guard = threading.Lock()


def writer_lock(database: Path, timeout_seconds: float) -> WriterLock:
    """The process's lock for ``database`` (one per file, shared by every engine on it)."""
    path = database.resolve().with_name(database.name + LOCK_SUFFIX)
    with _locks_guard:
        found = _locks.get(path)
        if found is None:
            found = _locks[path] = WriterLock(path, timeout_seconds)
        return found


class QueuedWriterConnection(sqlite3.Connection):
    """A sqlite3 connection whose write transactions hold its database's :class:`WriterLock`
    from ``BEGIN IMMEDIATE`` until the commit or rollback is done (the connection factory of
    the engine, engine.py)."""

    writer_lock: WriterLock | None = None
    _holding = False

    def begin_write(self) -> None:
        lock = self.writer_lock
        if lock is not None and not self._holding:
            lock.acquire()
            self._holding = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            assert self.writer_lock is not None
            self.writer_lock.release()


def connection_factory(database: Path | None, timeout_seconds: float) -> Any:
    """A ``factory`` for ``sqlite3.connect`` whose connections queue on ``database``'s lock
    (None: an in-memory database, one process: no lock file)."""
    lock = None if database is None else writer_lock(database, timeout_seconds)

    class _Connection(QueuedWriterConnection):
        writer_lock = lock

    return _Connection


def begin_immediate(dbapi_connection: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE`` on a driver connection, behind its database's writer lock when it
    queues (every connection of ``make_engine`` does); raises the driver's error."""
    if isinstance(dbapi_connection, QueuedWriterConnection):
        dbapi_connection.begin_write()
    else:
        dbapi_connection.execute("BEGIN IMMEDIATE")
