"""Moving the default store's root key from ``root.key`` into a PKCS#11 token.

The steps, and why in this order:

1. Open the HSM root key (generate it in the token if the label is new) and check its
   attributes. Nothing in the data directory has changed yet.
2. In ONE database transaction: unwrap every wrapped material row of the default store and
   every sealed secret with the file key, wrap it again in the token, check the new blob
   unwraps to the same bytes, and record ``meta.root_key = pkcs11:<label>``. Any failure rolls
   the whole transaction back (so does a killed process): the old state stays intact.
3. Write the configuration file so the next start uses the HSM (atomic rename).
4. Retire ``root.key``: rename it to ``root.key.retired-<UTC time>`` (mode 0600 kept). It is
   kept, not deleted, because database backups taken before the migration still need it; the
   operator destroys it when those backups expire (docs/keystores.md).

A crash after 2 leaves data sealed under the HSM and a configuration naming the file: the
server refuses to start with a message, and running the migration again finishes 3 and 4.
Servers must be stopped while it runs: a running worker would keep wrapping under the old key.
Every serving worker, on any node, holds a lease in the database; the migration claims the
root key change lease and is refused while one serves (kms/rootkey/fence.py).
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from strongroom.kms.app import open_database
from strongroom.kms.audit.signing import SEAL_PURPOSE
from strongroom.kms.config import ConfigError, Settings, config_file
from strongroom.kms.domain.enums import KeySpec
from strongroom.kms.domain.xks import SECRET_PURPOSE as XKS_SECRET_PURPOSE
from strongroom.kms.keystores.software import material_aad, secret_aad
from strongroom.kms.rootkey.fence import (
    claim_root_key_change,
    holder_name,
    release_root_key_change,
)
from strongroom.kms.rootkey.files import (
    FILE,
    file_descriptor,
    is_file_descriptor,
)
from strongroom.kms.rootkey.key_file import load_root_key_file
from strongroom.kms.rootkey.providers import FileRootKey, RootKeyProvider, RootKeyUnwrapFailed
from strongroom.kms.rootkey.setup import (
    hsm_descriptor,
    open_hsm_root_key,
    record_root_key,
    recorded_root_key,
)
from strongroom.kms.service.credentials import ACCESS_KEY_SECRET_PURPOSE
from strongroom.kms.service.custom_store_connections import PASSWORD_PURPOSE
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.engine import sqlite_url
from strongroom.kms.storage.sealed import SEALED_COLUMNS
from strongroom.kms.storage.store_secrets import STORE_SECRET_PURPOSE
from strongroom.kms.storage.unit_of_work import Transaction

# The seal purpose (part of the AAD) of each sealed column storage lists.
PURPOSES = {
    "access_keys": ACCESS_KEY_SECRET_PURPOSE,
    "audit_signing_keys": SEAL_PURPOSE,
    "store_secrets": STORE_SECRET_PURPOSE,
    "custom_key_stores": PASSWORD_PURPOSE,
    "xks_credentials": XKS_SECRET_PURPOSE,
}


class MigrationError(Exception):
    """The migration stopped; what it says was not changed."""


@dataclass(frozen=True)
class MigrationResult:
    root_key: str
    materials: int
    secrets: int
    config_file: Path
    retired_root_key: Path | None


def _rewrap(
    source: RootKeyProvider, target: RootKeyProvider, blob: bytes, aad: bytes, what: str
) -> bytes:
    try:
        data = source.unwrap(blob, aad)
    except RootKeyUnwrapFailed:
        raise MigrationError(f"{what} does not unwrap under the root key in force") from None
    new = target.wrap(data, aad)
    if target.unwrap(new, aad) != data:  # pragma: no cover - a token returning garbage
        raise MigrationError("the new root key did not unwrap what it had just wrapped")
    return new


def rewrap_all(
    tx: Transaction, store_id: str, source: RootKeyProvider, target: RootKeyProvider
) -> tuple[int, int]:
    """Re-wrap the default store's material rows and all sealed secrets inside ``tx``."""
    materials = tx.sealed.materials(store_id)
    for row in materials:
        aad = material_aad(store_id, row.binding, row.material_id, KeySpec(row.key_spec))
        what = f"material {row.material_id} of key {row.key_id}"
        new = _rewrap(source, target, row.wrapped, aad, what)
        tx.sealed.replace_material(row.key_id, row.material_id, new)
    secrets = 0
    for sealed in SEALED_COLUMNS:
        purpose = PURPOSES[sealed.table]
        for name, value in list(tx.sealed.secrets(sealed)):
            aad = secret_aad(store_id, purpose, name)
            new = _rewrap(source, target, value, aad, f"{sealed.table} {name}")
            tx.sealed.replace_secret(sealed, name, new)
            secrets += 1
    return len(materials), secrets


def write_config(path: Path, updates: dict[str, str]) -> None:
    """Merge ``updates`` into the TOML settings file (atomically, mode 0600)."""
    current: dict[str, object] = {}
    if path.exists():
        with path.open("rb") as handle:
            current = tomllib.load(handle)
    current.update(updates)
    lines = ["# Written by strongroom (migrate-root-key, rotate-root-key); see docs/configuration."]
    for name, value in current.items():
        text = json.dumps(value) if isinstance(value, str) else str(value).lower()
        lines.append(f"{name} = {text}")
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def migrate_to_hsm(
    settings: Settings, target: Settings, pin: str, now: datetime
) -> MigrationResult:
    """Move the data directory of ``settings`` (file root key) to the HSM key of ``target``."""
    if settings.root_key != FILE:
        raise MigrationError("the configuration does not use the root.key file any more")
    db = open_database(settings.database_url or sqlite_url(settings.data_dir))
    holder = holder_name()
    try:
        try:
            with db.transaction() as tx:
                claim_root_key_change(tx, holder)
        except ConfigError as error:
            raise MigrationError(str(error)) from None
        try:
            return _migrate_to_hsm(settings, target, pin, now, db)
        finally:
            release_root_key_change(db, holder)
    finally:
        db.engine.dispose()


def _migrate_to_hsm(
    settings: Settings, target: Settings, pin: str, now: datetime, db: Database
) -> MigrationResult:
    descriptor = hsm_descriptor(target.hsm_key_label)
    with db.read() as tx:
        recorded = recorded_root_key(tx)
        store_id = tx.meta.get("default_store_id")
    if store_id is None:
        raise MigrationError(f"{settings.data_dir} is not an initialised data directory")
    if not (recorded is None or is_file_descriptor(recorded) or recorded == descriptor):
        raise MigrationError(f"the data is sealed under {recorded!r}, not the root.key file")
    hsm = open_hsm_root_key(target, create=True, pin=pin)
    try:
        materials = secrets = 0
        if recorded != descriptor:  # else: an earlier run committed; finish steps 3 and 4
            file_key = load_root_key_file(settings.root_key_path)
            if recorded not in (None, FILE, file_descriptor(file_key)):
                raise MigrationError(
                    f"root.key is not the key the data is sealed under ({recorded})"
                )
            source = FileRootKey(file_key)
            with db.transaction() as tx:
                if recorded_root_key(tx) != recorded:
                    raise MigrationError("the data directory changed during the migration")
                materials, secrets = rewrap_all(tx, store_id, source, hsm)
                record_root_key(tx, descriptor)
    finally:
        hsm.close()
    path = config_file(settings.data_dir)
    updates = {
        "root_key": "pkcs11",
        "hsm_module": target.hsm_module,
        "hsm_token_label": target.hsm_token_label,
        "hsm_key_label": target.hsm_key_label,
    }
    updates |= (
        {"hsm_pin_file": str(Path(target.hsm_pin_file).resolve())}
        if target.hsm_pin_file
        else {"hsm_pin_env": target.hsm_pin_env}
    )
    write_config(path, updates)
    retired = None
    if settings.root_key_path.exists():
        retired = settings.root_key_path.with_name(f"root.key.retired-{now:%Y%m%dT%H%M%SZ}")
        os.replace(settings.root_key_path, retired)
        os.chmod(retired, 0o600)
    return MigrationResult(descriptor, materials, secrets, path, retired)
