"""Where encrypted object data lives: a small blob interface and its filesystem implementation.

A blob is written once (temporary file, fsync, rename) and then only read or deleted. Blobs hold
only ciphertext (``cipher.py``), so another implementation may keep them in any shared store,
an S3-compatible one included, without that store seeing a key or plaintext.

Deleting is best effort, and pauses while something holds the blobs *pinned* (a backup copying
the blobs its database snapshot references): a deletion that finds the pin held leaves its
blobs for the sweep (``sweep.py``), which collects whatever no record references.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import os
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

PIN_FILE = ".pin"
# A writer keeps up to this much in memory before it creates and writes its temporary file.
WRITE_BUFFER = 1024 * 1024
_BLOB_ID = re.compile("[0-9a-f]{32}")
# New blobs of a store share their shard directory in runs of this many (FileBlobStore.new_id).
SHARD_RUN = 64


class BlobWriter(Protocol):
    blob_id: str

    def write(self, data: bytes) -> None: ...

    async def commit(self) -> None:
        """Make the blob durable and readable under its id."""
        ...

    def abort(self) -> None:
        """Forget everything written (safe to call after a failed or no commit)."""
        ...

    @property
    def in_memory(self) -> bool:
        """Nothing of the blob is on disk yet (a small blob): :meth:`BlobStore.commit_all`
        may make it durable together with others."""
        ...


class BlobStore(Protocol):
    def writer(self) -> BlobWriter: ...

    def commit_all(self, writers: Sequence[BlobWriter]) -> list[Exception | None]:
        """Make several writers' blobs durable, as each one's commit would (on the caller's
        thread); each one's outcome, in order. A writer that failed is aborted."""
        ...

    def read(self, blob_id: str, offset: int, size: int) -> bytes: ...

    def delete(self, blob_ids: list[str]) -> None: ...


def _sync_file_range(flags: int) -> Callable[[int, int, int], None]:
    """``sync_file_range(fd, offset, length, flags)`` where the C library has it, advisory
    (failures ignored: durability comes from fsync). Elsewhere: nothing."""
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return lambda fd, offset, length: None
    function.argtypes = (ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint)
    function.restype = ctypes.c_int

    def call(fd: int, offset: int, length: int) -> None:
        function(fd, offset, length, flags)

    return call


# SYNC_FILE_RANGE_WRITE: starts writing those pages to disk now, without waiting, so the
# blob's fsync at commit finds little left to flush.
_start_writeback = _sync_file_range(2)
# WAIT_BEFORE | WRITE | WAIT_AFTER: the pages are on disk when it returns (their metadata is
# not: that is the fsync's).
_wait_writeback = _sync_file_range(7)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _FileWriter:
    """Writes are kept in memory until :data:`WRITE_BUFFER` bytes are pending, then go to the
    temporary file; a small blob is created, written, fsynced and renamed in one go by
    :meth:`commit`, on a thread. Creating a file can wait for the filesystem's journal (while
    other writers' fsyncs commit it), which must not stall the event loop."""

    def __init__(self, store: FileBlobStore, blob_id: str | None = None) -> None:
        self.blob_id = blob_id or store.new_id()
        self._store = store
        self._temp = store.temp_dir / f"{self.blob_id}.part"
        self._fd: int | None = None
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._written = 0  # bytes in the temporary file

    def write(self, data: bytes) -> None:
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= WRITE_BUFFER:
            self._flush()

    def _flush(self) -> None:
        if self._fd is None:
            self._fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        pending, self._pending, self._pending_size = self._pending, [], 0
        start = self._written
        for data in pending:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
                self._written += written
        if self._written - start >= WRITE_BUFFER:
            _start_writeback(self._fd, start, self._written - start)

    @property
    def in_memory(self) -> bool:
        return self._fd is None

    async def commit(self) -> None:
        await asyncio.to_thread(self.commit_now)

    def commit_now(self) -> None:
        """:meth:`commit` for synchronous callers (restore)."""
        self._flush()
        self._sync_and_close()
        _fsync_directory(self._rename_into_place())

    def _sync_and_close(self) -> None:
        """The temporary file's data and size on disk; its descriptor closed either way."""
        fd = self._fd
        assert fd is not None
        try:
            os.fsync(fd)
        finally:
            self._fd = None
            os.close(fd)

    def _rename_into_place(self) -> Path:
        """The temporary file renamed to the blob's path; returns the directory to fsync."""
        final = self._store.path(self.blob_id)
        self._store.ensure_directory(final.parent)
        os.rename(self._temp, final)
        return final.parent

    def abort(self) -> None:
        self._pending, self._pending_size = [], 0
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
        self._temp.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A file of the store: a committed blob (``temporary`` False) or a writer's temporary."""

    path: Path
    blob_id: str
    modified: float  # seconds since the epoch
    temporary: bool


class FileBlobStore:
    """Blobs as files under ``<data_dir>/objects``, sharded by the first bytes of their id."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = str(root)
        self.temp_dir = root / "tmp"
        self.temp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._directories: set[Path] = set()
        self._run_shard = ""
        self._run_left = 0
        # A crashed writer's temporary files are the sweep's, after a grace period: another
        # worker or node starting now must not remove a write in progress.

    def ensure_directory(self, directory: Path) -> None:
        """Make a shard directory (and its parent) durably; known ones cost nothing."""
        if directory in self._directories:
            return
        for level in (directory.parent, directory):
            try:
                os.mkdir(level, 0o700)
            except FileExistsError:
                continue
            _fsync_directory(level.parent)  # the new entry survives a crash
        self._directories.add(directory)

    def new_id(self) -> str:
        """A new blob id. Its shard (the first four hex digits, its directory) is random but
        shared by :data:`SHARD_RUN` consecutive new ids, the other 112 bits random each time:
        in a store that has not yet made most of its 65,536 shard directories, a new blob
        otherwise nearly always makes one (a mkdir and an fsync of its parent, ~150 µs of CPU
        and a journal commit). Directories still fill evenly, a run at a time."""
        if self._run_left <= 0:
            self._run_shard, self._run_left = secrets.token_hex(2), SHARD_RUN
        self._run_left -= 1
        return self._run_shard + secrets.token_hex(14)

    def path(self, blob_id: str) -> Path:
        return Path(self._file(blob_id))

    def _file(self, blob_id: str) -> str:
        """:meth:`path` as a string (what a read needs: no Path objects per request)."""
        if _BLOB_ID.fullmatch(blob_id) is None:
            raise ValueError("not a blob id")
        return f"{self._root}/{blob_id[:2]}/{blob_id[2:4]}/{blob_id}"

    def writer(self, blob_id: str | None = None) -> _FileWriter:
        return _FileWriter(self, blob_id)

    def commit_all(self, writers: Sequence[BlobWriter]) -> list[Exception | None]:
        """Each blob goes through the steps of :meth:`_FileWriter.commit_now` in the same order
        (temporary file written, fsynced, renamed, its directory fsynced), but step by step for
        all of them: every file is written, its writeback started and then waited for before
        the first fsync, so that fsync's journal commit carries every file's new blocks and
        the others' fsyncs find nothing left to write or commit; and a directory is fsynced
        once after every rename into it. A batch of small blobs costs about two journal
        commits instead of two per blob, and its files' data is written in parallel."""
        outcomes: list[Exception | None] = [None] * len(writers)
        files: list[tuple[int, _FileWriter]] = []

        def step(action: Callable[[int, _FileWriter], None]) -> None:
            for index, writer in files:
                if outcomes[index] is None:
                    try:
                        action(index, writer)
                    except Exception as error:  # that blob fails alone
                        outcomes[index] = error
                        writer.abort()

        for index, writer in enumerate(writers):
            assert isinstance(writer, _FileWriter) and writer._store is self
            files.append((index, writer))

        def write(_: int, writer: _FileWriter) -> None:
            writer._flush()
            assert writer._fd is not None
            _start_writeback(writer._fd, 0, writer._written)

        def settle(_: int, writer: _FileWriter) -> None:
            assert writer._fd is not None
            _wait_writeback(writer._fd, 0, writer._written)

        def sync(_: int, writer: _FileWriter) -> None:
            writer._sync_and_close()

        renamed: dict[Path, list[int]] = {}

        def rename(index: int, writer: _FileWriter) -> None:
            renamed.setdefault(writer._rename_into_place(), []).append(index)

        step(write)
        step(settle)  # every file's data written (in parallel) before the first fsync
        step(sync)
        step(rename)
        for directory, indexes in renamed.items():
            try:
                _fsync_directory(directory)
            except Exception as error:  # renamed but not durably: those blobs fail
                for index in indexes:
                    outcomes[index] = error
        return outcomes

    def read(self, blob_id: str, offset: int, size: int) -> bytes:
        fd = os.open(self._file(blob_id), os.O_RDONLY)
        try:
            return os.pread(fd, size, offset)
        finally:
            os.close(fd)

    def size(self, blob_id: str) -> int:
        return self.path(blob_id).stat().st_size

    def delete(self, blob_ids: list[str]) -> None:
        if blob_ids:
            with self.unpinned() as free:
                if free:
                    for blob_id in blob_ids:
                        self.path(blob_id).unlink(missing_ok=True)

    @contextmanager
    def unpinned(self) -> Iterator[bool]:
        """True while nothing pins the blobs (they may be deleted); False: leave them."""
        fd = os.open(self.root / PIN_FILE, os.O_RDONLY | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # releases the lock

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """No blob is deleted until this ends (deletions in progress finish first)."""
        fd = os.open(self.root / PIN_FILE, os.O_RDONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def files(self) -> Iterator[StoredBlob]:
        """Every blob file and temporary file, committed or not (for the sweep)."""
        for path in self.temp_dir.glob("*.part"):
            yield self._stored(path, path.name.removesuffix(".part"), temporary=True)
        for path in self.root.glob("??/??/*"):
            yield self._stored(path, path.name, temporary=False)

    @staticmethod
    def _stored(path: Path, blob_id: str, *, temporary: bool) -> StoredBlob:
        try:
            modified = path.stat().st_mtime
        except FileNotFoundError:
            modified = float("inf")  # gone meanwhile: never older than any grace
        return StoredBlob(path, blob_id, modified, temporary)
