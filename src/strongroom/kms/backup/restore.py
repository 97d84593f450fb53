"""``strongroom restore``: a backup into a new data directory, checked whole before anything
is written.

Pass one unwraps the backup key with the root key (the ``root.key`` the data was sealed under,
or the HSM the configuration names), then decrypts and checks every chunk and record. Only then
does pass two build the data directory aside (``.<name>.restoring``) and rename it into place,
so the target is either absent (or left empty) or complete. Restore writes the embedded default
(SQLite); PostgreSQL deployments restore with the database's own tooling (docs/adr/0016).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from strongroom.kms.backup import objects, payload
from strongroom.kms.backup.container import BackupError, Header, chunks, key_aad, read_header
from strongroom.kms.backup.create import CARRIED
from strongroom.kms.config import ConfigError, Settings, load_settings
from strongroom.kms.first_start import sync_directory
from strongroom.kms.rootkey.files import file_descriptor, is_file_descriptor
from strongroom.kms.rootkey.key_file import load_root_key_file
from strongroom.kms.rootkey.providers import FileRootKey, RootKeyProvider, RootKeyUnwrapFailed
from strongroom.kms.rootkey.setup import open_hsm_root_key
from strongroom.kms.storage import dump
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.engine import sqlite_url


def restore_backup(
    backup: Path, target: Path, *, root_key_file: Path | None, config: Path | None
) -> payload.Contents:
    """Restore ``backup`` into the new data directory ``target``; raise BackupError or
    ConfigError (nothing written) if it cannot be done."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} is not empty: restore only into a new data directory")
    with backup.open("rb") as source:
        header, _ = read_header(source)
    config_text = _config_text(header, config)
    root, key_bytes = _root_key(header, root_key_file, config_text, target)
    try:
        backup_key = root.unwrap(bytes.fromhex(header.wrapped_key), _aad(header))
    except (RootKeyUnwrapFailed, ValueError):
        raise BackupError(
            f"the root key given is not the one this backup was made under ({header.root_key})"
        ) from None
    finally:
        root.close()
    contents = _check(backup, backup_key)
    staging = target.with_name(f".{target.name}.restoring")
    if staging.exists():
        shutil.rmtree(staging)  # left by a restore that was killed: never in use
    staging.mkdir(mode=0o700, parents=True)
    try:
        _build(
            staging,
            backup,
            backup_key,
            contents=contents,
            config_text=config_text,
            key_bytes=key_bytes,
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    sync_directory(staging)
    if target.exists():
        target.rmdir()
    staging.rename(target)
    sync_directory(target.parent)
    return contents


def _build(
    staging: Path,
    backup: Path,
    backup_key: bytes,
    *,
    contents: payload.Contents,
    config_text: bytes | None,
    key_bytes: bytes | None,
) -> None:
    """Pass two: the files, the root key file, then the database, all in ``staging``."""
    _write_files(staging, contents.files, config_text)
    if key_bytes is not None:
        _write_private(staging / "root.key", key_bytes)
    database = Database.open(sqlite_url(staging))
    try:
        objects.prepare(database)
        if not dump.is_empty(database, objects.schemas()):
            raise BackupError("the new database is not empty")
        # The blobs follow the rows: reading the records to their end writes them too.
        blobs = objects.Restorer(staging)
        dump.load(database, _rows(backup, backup_key, blobs), objects.schemas())
    finally:
        database.engine.dispose()


def _aad(header: Header) -> bytes:
    return key_aad(header.backup_id, header.store_id)


def _columns() -> dict[str, list[str]]:
    schemas = objects.schemas()
    return {name: dump.columns(name, schemas) for name in dump.table_names(schemas)}


def _open_records(backup: Path, backup_key: bytes) -> Iterator[Any]:
    with backup.open("rb") as source:
        _, digest = read_header(source)
        yield from payload.records(chunks(source, digest, backup_key), _columns())


def _check(backup: Path, backup_key: bytes) -> payload.Contents:
    """Pass one: decrypt and check everything; keep the (small) carried files."""
    references = objects.References()
    carried: set[str] = set()
    for item in _open_records(backup, backup_key):
        if isinstance(item, payload.CarriedFile):
            _check_path(item.path)
        elif isinstance(item, tuple):
            references.add(*item)
        elif isinstance(item, payload.BlobPiece):
            carried.add(item.blob_id)
        elif isinstance(item, payload.Contents):
            objects.check_blobs(references.ids, carried)
            return item
    raise BackupError("the backup has no trailer: it is incomplete")


def _rows(
    backup: Path, backup_key: bytes, blobs: objects.Restorer
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    for item in _open_records(backup, backup_key):
        if isinstance(item, tuple):
            yield item
        elif isinstance(item, payload.BlobPiece):
            blobs.add(item)


def _check_path(path: str) -> None:
    parts = PurePosixPath(path).parts
    if not parts or parts[0] not in CARRIED or ".." in parts or PurePosixPath(path).is_absolute():
        raise BackupError(f"the backup carries a file outside what backups carry: {path!r}")


def _config_text(header: Header, config: Path | None) -> bytes | None:
    """The configuration the restored directory gets: the one given, else the backup's."""
    if config is not None:
        return config.read_bytes()
    if is_file_descriptor(header.root_key):
        return None  # read from the backup in pass one, with the other files
    raise BackupError(
        f"this backup is sealed under the HSM root key {header.root_key}: give --config, the "
        "strongroom.toml that names that HSM (module, token, key label, PIN file)"
    )


def _root_key(
    header: Header, root_key_file: Path | None, config_text: bytes | None, target: Path
) -> tuple[RootKeyProvider, bytes | None]:
    """The root key provider to unwrap with, and the root.key bytes to install (file keys)."""
    if is_file_descriptor(header.root_key):
        if root_key_file is None:
            raise BackupError(
                f"this backup is sealed under a root.key file ({header.root_key}): give "
                "--root-key-file, that file (or the root.key.retired-* it became)"
            )
        key = load_root_key_file(root_key_file)
        if header.root_key != "file" and file_descriptor(key) != header.root_key:
            raise BackupError(
                f"{root_key_file} is not the root key this backup was made under "
                f"({header.root_key})"
            )
        return FileRootKey(key), key.reveal()
    settings = _settings(config_text or b"", target)
    if f"pkcs11:{settings.hsm_key_label}" != header.root_key:
        raise ConfigError(
            f"the configuration names HSM key {settings.hsm_key_label!r}; the backup is sealed "
            f"under {header.root_key}"
        )
    return open_hsm_root_key(settings), None


def _settings(config_text: bytes, target: Path) -> Settings:
    """Settings from a configuration not yet written anywhere (nothing is, before pass two)."""
    scratch = target.with_name(f".{target.name}.config-check")
    scratch.mkdir(mode=0o700, exist_ok=True)
    try:
        _write_private(scratch / "strongroom.toml", config_text)
        return load_settings(target, {"STRONGROOM_CONFIG": str(scratch / "strongroom.toml")})
    finally:
        shutil.rmtree(scratch)


def _write_files(
    directory: Path, files: list[payload.CarriedFile], config_text: bytes | None
) -> None:
    for carried in files:
        if carried.path == "strongroom.toml" and config_text is not None:
            continue
        path = directory / carried.path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(path, carried.data, carried.mode & 0o600)
    if config_text is not None:
        _write_private(directory / "strongroom.toml", config_text)


def _write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode or 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
