"""``strongroom backup``: one consistent, encrypted backup of a data directory, while it serves.

Order matters for consistency with the files the audit trail keeps outside the database
(signed digests, archived segments): they are read first, then the database in one snapshot,
so the restored database is never older than a digest it carries. The object store's blobs
come last: those the snapshot's rows reference, pinned against deletion from before the
snapshot began until they are copied (backup/objects.py). The root key itself is never in a
backup; restoring needs it (the ``root.key`` file, or the HSM).
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from strongroom.kms.backup import objects, payload
from strongroom.kms.backup.container import BackupError, Header, Writer, key_aad
from strongroom.kms.storage import dump

if TYPE_CHECKING:
    from strongroom.kms.app import DataDir
    from strongroom.kms.config import Settings

# What of a data directory, besides the database, a restore needs, by the name it has in a
# backup: the configuration (it names the HSM of an HSM root key; no secret: the PIN is in a
# file or a variable) and the audit trail's anchors outside the database, the signed digests
# and the archived segments (wherever audit_digest_dir and audit_archive_dir put them; restore
# puts them under these names in the new data directory). Not carried: root keys (root.key,
# retired and next ones), aws/credentials (the admin's secret; its access key is in the
# database, sealed), lock files.
CARRIED: Final = ("strongroom.toml", "audit-digests", "audit-archive")
META_NAMES: Final = ("default_store_id", "region", "root_key", "schema_version")


@dataclass(frozen=True, slots=True)
class Summary:
    path: Path
    backup_id: str
    tables: dict[str, int]
    files: int
    blobs: int = 0
    blob_bytes: int = 0

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def carried_files(settings: Settings) -> list[payload.CarriedFile]:
    sources = dict(
        zip(
            CARRIED,
            (
                settings.data_dir / "strongroom.toml",
                settings.audit_digest_path,
                settings.audit_archive_path,
            ),
            strict=True,
        )
    )
    found: list[payload.CarriedFile] = []
    for name, top in sources.items():
        if top.is_file():
            paths = [(top, name)]
        else:
            files = sorted(
                p for p in top.rglob("*") if p.is_file() and not p.name.endswith(".lock")
            )
            paths = [(p, f"{name}/{p.relative_to(top).as_posix()}") for p in files]
        for path, carried_as in paths:
            mode = stat.S_IMODE(path.stat().st_mode)
            found.append(payload.CarriedFile(carried_as, mode, path.read_bytes()))
    return found


def create_backup(data_dir: DataDir, out: Path) -> Summary:
    """Write a backup of ``data_dir`` to ``out`` (0600, never over an existing file)."""
    db = data_dir.db
    objects.prepare(db)
    with db.read() as tx:
        meta = {name: tx.meta.get(name) or "" for name in META_NAMES}
    backup_id = secrets.token_hex(16)
    backup_key = secrets.token_bytes(32)
    root = data_dir.store.root
    header = Header(
        backup_id=backup_id,
        created_at=datetime.now(UTC).isoformat(),
        store_id=meta["default_store_id"],
        region=meta["region"],
        root_key=meta["root_key"],
        schema_version=meta["schema_version"],
        wrapped_key=root.wrap(backup_key, key_aad(backup_id, meta["default_store_id"])).hex(),
    )
    aside = out.with_name(f".{out.name}.{backup_id}.tmp")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            writer = Writer(handle, header, backup_key)
            files = carried_files(data_dir.settings)
            for carried in files:
                writer.write(payload.file_line(carried))
            blobs_path = data_dir.settings.s3_data_path
            store = objects.blob_store(blobs_path) if blobs_path.is_dir() else None
            references = objects.References()
            with store.pinned() if store is not None else nullcontext():
                rows = dump.dump(db, objects.schemas())
                tables = _write_tables(writer, rows, meta["root_key"], references)
                blobs = blob_bytes = 0
                if store is not None:
                    for piece in objects.pieces(store, references.ids):
                        writer.write(payload.blob_line(piece))
                        blobs += piece.offset == 0
                        blob_bytes += len(piece.data)
            writer.write(payload.end_line(len(files), tables, blobs, blob_bytes))
            writer.close()
            handle.flush()
            os.fsync(handle.fileno())
        os.link(aside, out)  # never replaces an existing file
    finally:
        aside.unlink(missing_ok=True)
    return Summary(out, backup_id, tables, len(files), blobs, blob_bytes)


def _write_tables(
    writer: Writer,
    rows: Iterator[tuple[str, tuple[object, ...]]],
    root_key: str,
    references: objects.References,
) -> dict[str, int]:
    names = dump.table_names(objects.schemas())
    tables = {name: 0 for name in names}
    current: str | None = None
    for name, values in rows:
        while current != name:
            current = _next_table(writer, current)
        if name == "meta" and values[0] == "root_key" and values[1] != root_key:
            # A root key change committed between the header and the snapshot.
            raise BackupError("the root key changed while the backup ran; run it again")
        writer.write(payload.row_line(values))
        references.add(name, values)
        tables[name] += 1
    while current != names[-1]:
        current = _next_table(writer, current)
    return tables


def _next_table(writer: Writer, current: str | None) -> str:
    names = dump.table_names(objects.schemas())
    name = names[0] if current is None else names[names.index(current) + 1]
    writer.write(payload.table_line(name, dump.columns(name, objects.schemas())))
    return name
