"""Choosing and opening the default store's root key from the settings.

The database records which root key its blobs are wrapped under (``meta.root_key``:
``file:<key check value>``, ``file`` from before rotation existed, or ``pkcs11:<key label>``),
so a configuration or a ``root.key`` other than the one the data was sealed with is refused at
start with a message, instead of failing on the first unwrap (kms/rootkey/files.py).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from strongroom.kms.config import ConfigError, Settings
from strongroom.kms.keystores.pkcs11 import Pkcs11Error
from strongroom.kms.rootkey.files import (
    FILE,
    file_descriptor,
    file_root_key_in_force,
    is_file_descriptor,
)
from strongroom.kms.rootkey.hsm import HsmRootKey
from strongroom.kms.rootkey.providers import FileRootKey, RootKeyProvider
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.unit_of_work import Transaction

META_NAME = "root_key"
_MAX_PIN_BYTES = 256


def read_pin(pin_file: str, pin_env: str, environ: Mapping[str, str] | None = None) -> str:
    """The HSM user PIN from a file only its owner can read, or else from an env variable."""
    if pin_file:
        path = Path(pin_file)
        try:
            info = path.stat()
        except OSError as exc:
            raise ConfigError(f"cannot read the HSM PIN file {path}: {exc.strerror}") from None
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"the HSM PIN file {path} is accessible by others; chmod 600 it")
        pin = path.read_bytes()[:_MAX_PIN_BYTES].decode().rstrip("\r\n")
    else:
        pin = (os.environ if environ is None else environ).get(pin_env, "")
        if not pin:
            raise ConfigError(f"no HSM PIN: set hsm_pin_file or the variable {pin_env}")
    return pin


def hsm_descriptor(key_label: str) -> str:
    return f"pkcs11:{key_label}"


def recorded_root_key(tx: Transaction) -> str | None:
    return tx.meta.get(META_NAME)


def record_root_key(tx: Transaction, descriptor: str) -> None:
    """Set ``meta.root_key`` (inside the caller's transaction)."""
    tx.meta.put(META_NAME, descriptor)


def open_hsm_root_key(
    settings: Settings, *, create: bool = False, pin: str | None = None
) -> HsmRootKey:
    chosen = pin if pin is not None else read_pin(settings.hsm_pin_file, settings.hsm_pin_env)
    try:
        return HsmRootKey.open(
            settings.hsm_module,
            settings.hsm_token_label,
            chosen,
            settings.hsm_key_label,
            create=create,
        )
    except Pkcs11Error as exc:
        raise ConfigError(f"HSM root key: {exc}") from None


def open_root_key(settings: Settings, db: Database, *, create: bool) -> RootKeyProvider:
    """The root key the settings name, checked against the one the database was sealed with.

    ``create`` (first start of a fresh data directory) may generate the HSM key and record it.
    """

    def reread() -> str | None:
        with db.read() as tx:
            return recorded_root_key(tx)

    recorded = reread()
    if settings.root_key == FILE and (recorded is None or is_file_descriptor(recorded)):
        key = file_root_key_in_force(settings.root_key_path, recorded, reread, datetime.now(UTC))
        if recorded is None:
            with db.transaction() as tx:
                record_root_key(tx, file_descriptor(key))
        return FileRootKey(key)
    wanted = FILE if settings.root_key == FILE else hsm_descriptor(settings.hsm_key_label)
    if recorded is not None and recorded != wanted:
        raise ConfigError(
            f"the data in {settings.data_dir} is sealed under root key {recorded!r}, but the "
            f"configuration names {wanted!r}"
            + (
                "; run `strongroom admin migrate-root-key`"
                if is_file_descriptor(recorded)
                else "; if a migrate-root-key was interrupted, run it again to finish"
                if settings.root_key == FILE
                else "; if a rotate-root-key was interrupted after its commit, name that key in "
                "the configuration (hsm_key_label, and hsm_token_label if the rotation moved to "
                "another token: its ExecuteGovernanceAction event says)"
            )
        )
    if recorded is None and settings.root_key_path.exists():
        raise ConfigError(
            f"the data in {settings.data_dir} is sealed under its root.key file; move it "
            "to the HSM with `strongroom admin migrate-root-key`"
        )
    if recorded is None and not create:
        raise ConfigError(
            f"{settings.data_dir} is not a Strongroom data directory (no root key "
            "recorded); `strongroom serve --data-dir` creates one"
        )
    provider = open_hsm_root_key(settings, create=recorded is None)
    if recorded is None:
        with db.transaction() as tx:
            record_root_key(tx, wanted)
    return provider
