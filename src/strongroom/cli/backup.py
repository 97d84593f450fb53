"""``strongroom backup`` and ``strongroom restore``: an encrypted, consistent copy of a data
directory, taken while it serves, and its restore into a new data directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from strongroom.kms.config import load_settings


def add_parser(commands: Any) -> None:
    from strongroom.cli.options import add_data_dir

    backup = commands.add_parser(
        "backup",
        help="write an encrypted backup of a data directory (safe while the server runs)",
        description=(
            "Write every table of the database (one consistent snapshot), the object store's "
            "encrypted blobs those tables reference, and the files a "
            "restore needs (strongroom.toml, audit digests and archives) to FILE, encrypted "
            "under a key that the root key wraps. The root key is not in the backup: keep "
            "root.key (or the HSM) to restore. FILE is created 0600 and never overwritten."
        ),
    )
    add_data_dir(backup)
    backup.add_argument("--out", type=Path, required=True, metavar="FILE")
    backup.set_defaults(run=_backup)

    restore = commands.add_parser(
        "restore",
        help="restore a backup into a new, empty data directory",
        description=(
            "Check the whole backup (every chunk authenticated under the root key) before "
            "writing anything, then build the data directory. The target must not exist or "
            "be empty. A backup sealed under a root.key file needs --root-key-file (it is "
            "copied into the new directory); one sealed under an HSM key needs --config, a "
            "strongroom.toml naming that HSM."
        ),
    )
    restore.add_argument("--backup", type=Path, required=True, metavar="FILE")
    restore.add_argument("--data-dir", type=Path, required=True, help="the new data directory")
    restore.add_argument("--root-key-file", type=Path, default=None)
    restore.add_argument("--config", type=Path, default=None, help="strongroom.toml to use")
    restore.set_defaults(run=_restore)


def _backup(args: argparse.Namespace) -> int:
    from strongroom.kms.app import open_data_dir
    from strongroom.kms.backup.container import BackupError
    from strongroom.kms.backup.create import create_backup

    data_dir = open_data_dir(load_settings(args.data_dir))
    try:
        summary = create_backup(data_dir, args.out)
    except (BackupError, FileExistsError) as error:
        print(f"strongroom: backup failed: {error}", file=sys.stderr)
        return 1
    finally:
        data_dir.db.engine.dispose()
        data_dir.store.close()
    print(
        f"backup {summary.backup_id} written to {summary.path}: {summary.rows} rows in "
        f"{len(summary.tables)} tables, {summary.files} files, {summary.blobs} object store "
        f"blobs ({summary.blob_bytes} bytes)"
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    from strongroom.kms.backup.container import BackupError
    from strongroom.kms.backup.restore import restore_backup

    try:
        contents = restore_backup(
            args.backup, args.data_dir, root_key_file=args.root_key_file, config=args.config
        )
    except (BackupError, FileNotFoundError) as error:
        print(f"strongroom: restore refused: {error}", file=sys.stderr)
        return 1
    rows = sum(contents.tables.values())
    print(
        f"restored {rows} rows, {len(contents.files)} files and {contents.blobs} object store "
        f"blobs into {args.data_dir}"
    )
    settings = load_settings(args.data_dir)
    for setting, path, copy in (
        ("audit_digest_dir", settings.audit_digest_path, "audit-digests"),
        ("audit_archive_dir", settings.audit_archive_path, "audit-archive"),
    ):
        if path.resolve() != (args.data_dir / copy).resolve():
            print(
                f"note: strongroom.toml sets {setting} = {path}; the backup's copies are in "
                f"{args.data_dir / copy}: move them there (or change the setting) before serving",
                file=sys.stderr,
            )
    return 0
