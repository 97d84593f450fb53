"""The first start of a data directory, in steps a crash at any point can resume.

The first start creates the default account, its ``admin`` user with the
``AdministratorAccess`` policy and an access key, and writes that key to ``aws/credentials``:
the only copy of the secret anyone is given. Each step is idempotent and the meta value
``first_start`` stays ``pending`` until the credentials file is on disk, so a start killed
anywhere in between (SIGKILL, power loss) is finished by the next start, with the same access
key: its secret is sealed in the database under the root key and unsealed again to write the
file. Once ``done``, nothing here runs again, and a deleted credentials file stays deleted.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

from strongroom.kms.service.admin import (
    ADMINISTRATOR_POLICY,
    ADMINISTRATOR_POLICY_NAME,
    Admin,
    IssuedAccessKey,
)
from strongroom.kms.service.credentials import ACCESS_KEY_SECRET_PURPOSE

if TYPE_CHECKING:
    from strongroom.kms.app import DataDir
    from strongroom.kms.config import Settings

DEFAULT_ACCOUNT_NAME: Final = "default"
ADMIN_USER: Final = "admin"
STATE: Final = "first_start"
PENDING: Final = "pending"
DONE: Final = "done"


# The AWS CLI and SDKs skip comment lines; the server's own settings are documented there.
CONFIG_HEADER = (
    "# Written by Strongroom at its first start, for the AWS CLI and SDKs (any region the\n"
    "# server serves works). The server's settings: docs/configuration.md\n"
)


def first_start(data_dir: DataDir) -> IssuedAccessKey | None:
    """Finish the first start if it is not done; return the admin's key if it was finished now."""
    db, admin = data_dir.db, data_dir.admin
    with db.read() as tx:
        state = tx.meta.get(STATE)
    if state is None:
        # Data directories made before this value existed finished their first start.
        state = db.init_meta(STATE, DONE if admin.list_accounts() else PENDING)
    if state == DONE:
        return None
    issued = admin_access_key(data_dir, admin)
    write_aws_files(data_dir.settings, issued)
    with db.transaction() as tx:
        tx.meta.put(STATE, DONE)
    return issued


def admin_access_key(data_dir: DataDir, admin: Admin) -> IssuedAccessKey:
    """The default account, its admin and the admin's policy and access key: those that exist,
    and the rest made now."""
    account = next(
        (a for a in admin.list_accounts() if a.name == DEFAULT_ACCOUNT_NAME), None
    ) or admin.create_account(DEFAULT_ACCOUNT_NAME)
    account_id = account.account_id
    if ADMIN_USER not in {p.name for p in admin.list_users(account_id)}:
        admin.create_user(account_id, ADMIN_USER)
    if ADMINISTRATOR_POLICY_NAME not in admin.list_user_policies(account_id, ADMIN_USER):
        admin.put_user_policy(
            account_id, ADMIN_USER, ADMINISTRATOR_POLICY_NAME, ADMINISTRATOR_POLICY
        )
    for record in admin.list_access_keys(account_id):
        if record.principal_name == ADMIN_USER and record.principal_kind == "user":
            secret = data_dir.store.unseal_secret(
                ACCESS_KEY_SECRET_PURPOSE, record.access_key_id, record.sealed_secret
            )
            return IssuedAccessKey(record.access_key_id, secret.decode(), account_id, ADMIN_USER)
    return admin.create_access_key(account_id, ADMIN_USER)


def write_aws_files(settings: Settings, issued: IssuedAccessKey) -> None:
    """Write the admin's credentials in the AWS shared-file formats, readable by owner only.

    Each file appears whole or not at all (written aside, synced, renamed, directory synced).
    """
    directory = settings.data_dir / "aws"
    directory.mkdir(mode=0o700, exist_ok=True)
    write_private(
        directory / "credentials",
        (
            "[default]\n"
            f"aws_access_key_id = {issued.access_key_id}\n"
            f"aws_secret_access_key = {issued.secret_access_key}\n"
        ),
    )
    write_private(directory / "config", CONFIG_HEADER + f"[default]\nregion = {settings.region}\n")
    sync_directory(directory)


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, mode 0600."""
    aside = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        aside.unlink()  # left by a start that was killed while writing it
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(aside, path)


def sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
