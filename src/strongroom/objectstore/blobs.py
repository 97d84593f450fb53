"""Where encrypted object data lives: a small blob interface and its filesystem implementation.

A blob is written once (temporary file, fsync, rename) and then only read or deleted. Blobs hold
only ciphertext (``cipher.py``), so another implementation may keep them in any shared store,
an S3-compatible one included, without that store seeing a key or plaintext.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from typing import Protocol


class BlobWriter(Protocol):
    blob_id: str

    def write(self, data: bytes) -> None: ...

    async def commit(self) -> None:
        """Make the blob durable and readable under its id."""
        ...

    def abort(self) -> None:
        """Forget everything written (safe to call after a failed or no commit)."""
        ...


class BlobStore(Protocol):
    def writer(self) -> BlobWriter: ...

    def read(self, blob_id: str, offset: int, size: int) -> bytes: ...

    def delete(self, blob_ids: list[str]) -> None: ...


def new_blob_id() -> str:
    return secrets.token_hex(16)


class _FileWriter:
    def __init__(self, store: FileBlobStore) -> None:
        self.blob_id = new_blob_id()
        self._store = store
        self._temp = store.temp_dir / f"{self.blob_id}.part"
        self._fd: int | None = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    async def commit(self) -> None:
        assert self._fd is not None
        final = self._store.path(self.blob_id)
        await asyncio.to_thread(self._sync_and_rename, self._fd, final)
        self._fd = None

    def _sync_and_rename(self, fd: int, final: Path) -> None:
        os.fsync(fd)
        os.close(fd)
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.rename(self._temp, final)
        directory = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def abort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._temp.unlink(missing_ok=True)


class FileBlobStore:
    """Blobs as files under ``<data_dir>/objects``, sharded by the first bytes of their id."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.temp_dir = root / "tmp"
        self.temp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Temporary files of a crashed writer hold only ciphertext nobody references.
        for stale in self.temp_dir.glob("*.part"):
            stale.unlink(missing_ok=True)

    def path(self, blob_id: str) -> Path:
        if len(blob_id) != 32 or not all(c in "0123456789abcdef" for c in blob_id):
            raise ValueError("not a blob id")
        return self.root / blob_id[:2] / blob_id[2:4] / blob_id

    def writer(self) -> BlobWriter:
        return _FileWriter(self)

    def read(self, blob_id: str, offset: int, size: int) -> bytes:
        fd = os.open(self.path(blob_id), os.O_RDONLY)
        try:
            return os.pread(fd, size, offset)
        finally:
            os.close(fd)

    def delete(self, blob_ids: list[str]) -> None:
        for blob_id in blob_ids:
            self.path(blob_id).unlink(missing_ok=True)
