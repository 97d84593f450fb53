"""SQLite writers queue on the writer lock: hand-off between processes, bounds, crash release."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from strongroom.kms.storage import write_queue
from strongroom.kms.storage.database import Database, DatabaseUnavailable
from strongroom.kms.storage.engine import sqlite_url
from strongroom.kms.storage.write_queue import LOCK_SUFFIX, WriterLock

# A child process that writes one row through its own engine and says when it starts waiting.
CHILD = """
import sys
from pathlib import Path
from sqlalchemy import text
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.engine import sqlite_url
db = Database.open(sqlite_url(Path(sys.argv[1])))
print("ready", flush=True)
sys.stdin.readline()  # go
with db.write_connection() as conn:
    conn.execute(text("INSERT INTO meta (name, value) VALUES (:n, 'x')"), {"n": sys.argv[2]})
    if len(sys.argv) > 3:
        print("holding", flush=True)
        sys.stdin.readline()
"""


def child(tmp_path: Path, name: str, *, hold: bool = False) -> subprocess.Popen[str]:
    args = [sys.executable, "-c", CHILD, str(tmp_path), name, *(["hold"] if hold else [])]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    return proc


def go(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()


def turnstile_held_by(lock_file: Path, pid: int) -> bool:
    """Whether process ``pid`` holds the turnstile byte, i.e. waits for the writer lock.

    Read from /proc/locks: opening and closing the lock file here would drop this process's
    own record locks on it (POSIX record locks belong to the process, not to a descriptor).
    """
    inode = lock_file.stat().st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields or len(fields) < 8 or fields[1] != "POSIX":
            continue
        holder, file_inode = int(fields[4]), int(fields[5].rsplit(":", 1)[1])
        if holder == pid and file_inode == inode and fields[6:8] == ["0", "0"]:
            return True
    return False


def names(db: Database) -> list[str]:
    with db.read_connection() as conn:
        return [r[0] for r in conn.execute(text("SELECT name FROM meta WHERE value = 'x'"))]


def test_a_waiting_process_writes_before_the_holder_writes_again(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    lock_file = tmp_path / ("strongroom.db" + LOCK_SUFFIX)
    try:
        proc = child(tmp_path, "waiter")
        with db.write_connection() as conn:
            conn.execute(text("INSERT INTO meta (name, value) VALUES ('first', 'x')"))
            go(proc)
            deadline = time.monotonic() + 30
            while not turnstile_held_by(lock_file, proc.pid):
                assert time.monotonic() < deadline, "the child never queued for the lock"
                time.sleep(0.01)
        # Back to back, as the audit writer commits under load: the waiter goes first.
        with db.write_connection() as conn:
            conn.execute(text("INSERT INTO meta (name, value) VALUES ('again', 'x')"))
        assert proc.wait(timeout=30) == 0
        assert names(db) == ["first", "waiter", "again"]
        assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600
    finally:
        db.engine.dispose()


def test_the_lock_of_a_killed_process_is_released(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    try:
        proc = child(tmp_path, "killed", hold=True)
        go(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline() == "holding\n"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        with db.write_connection() as conn:
            conn.execute(text("INSERT INTO meta (name, value) VALUES ('after', 'x')"))
        assert names(db) == ["after"]  # the killed writer's row was never committed
    finally:
        db.engine.dispose()


def test_a_thread_waits_no_longer_than_the_timeout(tmp_path: Path) -> None:
    lock = WriterLock(tmp_path / "db-writer.lock", timeout_seconds=0.05)
    lock.acquire()
    try:
        errors: list[BaseException] = []

        def second() -> None:
            try:
                lock.acquire()
            except BaseException as error:
                errors.append(error)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=10)
        assert len(errors) == 1
        assert isinstance(errors[0], sqlite3.OperationalError)
        assert str(errors[0]) == "database is locked"
    finally:
        lock.release()
    lock.acquire()  # free again
    lock.release()


def test_a_locked_database_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    """The thread lock's timeout surfaces as SQLite's own busy timeout did."""
    db = Database.open(sqlite_url(tmp_path))
    other = Database.open(sqlite_url(tmp_path))
    try:
        lock = write_queue.writer_lock(tmp_path / "strongroom.db", 10.0)
        lock._timeout = 0.05  # this test only: wait 50 ms instead of SQLite's 10 s
        try:
            caught: list[BaseException] = []
            with db.write_connection():

                def write() -> None:
                    try:
                        with other.write_connection():
                            pass
                    except BaseException as error:
                        caught.append(error)

                thread = threading.Thread(target=write)
                thread.start()
                thread.join(timeout=10)
            assert len(caught) == 1
            assert isinstance(caught[0], DatabaseUnavailable)
        finally:
            lock._timeout = 10.0
        with other.write_connection() as conn:  # and the lock works afterwards
            conn.execute(text("INSERT INTO meta (name, value) VALUES ('later', 'x')"))
        assert names(db) == ["later"]
    finally:
        db.engine.dispose()
        other.engine.dispose()


@pytest.mark.parametrize("path", ["sqlite://", "sqlite:///:memory:"], ids=["bare", "memory"])
def test_an_in_memory_database_needs_no_lock_file(tmp_path: Path, path: str) -> None:
    os.chdir(tmp_path)
    db = Database.open(path)
    try:
        with db.write_connection() as conn:
            conn.execute(text("INSERT INTO meta (name, value) VALUES ('m', 'x')"))
        assert not list(tmp_path.iterdir())
    finally:
        db.engine.dispose()
