"""The object store in a backup (docs/adr/0027): its tables go with the KMS's in the same
snapshot, and the encrypted blob files those rows reference follow the rows.

Blobs are written once and never changed, so a blob referenced by the snapshot is complete on
disk; what could go wrong is its deletion (the object replaced or deleted after the snapshot)
before it is copied. The backup therefore *pins* the blobs before the snapshot begins
(``FileBlobStore.pinned``): deletions meanwhile are skipped, left to the orphan sweep.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from strongroom.kms.backup import payload
from strongroom.kms.backup.container import BackupError
from strongroom.kms.storage import dump, schema
from strongroom.kms.storage.database import Database
from strongroom.objectstore.blobs import FileBlobStore
from strongroom.objectstore.storage import migrate
from strongroom.objectstore.storage.migrate import target_metadata
from strongroom.objectstore.storage.references import blob_ids

OBJECTS_DIR = "objects"


def prepare(db: Database) -> None:
    """The object store's tables at this version's revision (a data directory that never
    served has none yet), so every backup has the same tables."""
    migrate.upgrade(db.engine)


def schemas() -> dump.Schemas:
    """What a backup holds: the KMS's tables, then the object store's."""
    return (schema.metadata, *target_metadata())


def blob_store(directory: Path) -> FileBlobStore:
    """The object data in ``directory`` (``s3_data_dir``; a restore writes it to the new data
    directory's ``objects``)."""
    return FileBlobStore(directory)


class References:
    """The blobs the dumped rows reference, collected while the rows are written."""

    def __init__(self) -> None:
        self.ids: set[str] = set()

    def add(self, table: str, values: tuple[object, ...]) -> None:
        self.ids.update(blob_ids(table, values))


def pieces(store: FileBlobStore, ids: set[str]) -> Iterator[payload.BlobPiece]:
    """Each blob's bytes, in pieces, blobs in id order."""
    for blob_id in sorted(ids):
        try:
            handle = store.path(blob_id).open("rb")
        except FileNotFoundError:
            raise BackupError(
                f"the object store's blob {blob_id} that an object references is missing"
            ) from None
        with handle:
            offset = 0
            data = handle.read(payload.BLOB_PIECE)
            while True:
                following = handle.read(payload.BLOB_PIECE)
                yield payload.BlobPiece(blob_id, offset, data, last=not following)
                if not following:
                    break
                offset += len(data)
                data = following


class Restorer:
    """Pass two of a restore: writes each blob as its pieces come (never all in memory)."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._store: FileBlobStore | None = None
        self._writer: Any = None

    def add(self, piece: payload.BlobPiece) -> None:
        if self._store is None:
            self._store = blob_store(self._data_dir / OBJECTS_DIR)
        if piece.offset == 0:
            self._writer = self._store.writer(piece.blob_id)
        self._writer.write(piece.data)
        if piece.last:
            self._writer.commit_now()
            self._writer = None


def check_blobs(referenced: set[str], carried: set[str]) -> None:
    """Pass one: every referenced blob is in the backup, and every blob id is one."""
    missing = referenced - carried
    if missing:
        raise BackupError(f"the backup lacks {len(missing)} object store blobs its rows reference")
    for blob_id in carried:
        if len(blob_id) != 32 or not all(c in "0123456789abcdef" for c in blob_id):
            raise BackupError("the backup carries object data under a name that is no blob id")
