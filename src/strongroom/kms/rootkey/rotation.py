"""Rotating the default store's root key: the ``rotate-root-key`` act, run under quorum.

What it does, in order (governance/quorum.py runs steps 2-4 in the proposal's execution
transaction, the one that marks the proposal executed and records the act):

1. Refuse while a ``strongroom serve`` worker runs on this database, on any node, and claim
   the root key change lease (kms/rootkey/fence.py); take the local root key file lock. Make
   the new key: for a file root key, 32 random bytes in ``root.key.next`` (0600, O_EXCL,
   fsync); for an HSM root key, a new AES-256 key generated in the token (the same one, or
   ``tokenLabel``) under the new label, attributes checked.
2. Re-wrap every material row of the default store and every sealed secret (``rewrap_all``).
3. Record the new key in ``meta.root_key``: ``file:<kcv>`` or ``pkcs11:<label>``.
4. The quorum appends the ExecuteGovernanceAction event (old and new descriptors, never key
   bytes) and commits. Any failure before the commit rolls everything back; ``root.key.next``
   is removed (an HSM key generated for it stays in the token, unused).
5. After the commit: file keys switch files (kms/rootkey/files.py: ``root.key`` is kept as
   ``root.key.retired-<UTC time>``, 0600, for backups taken before); HSM keys write the new
   label (and token) into the configuration file. A crash between 4 and 5 is finished by the
   next start (file) or refused at start with a message naming the key (HSM).

Import tokens sealed under the old root key stop opening (they last 24 hours).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from strongroom.kms.config import ConfigError, Settings, config_file
from strongroom.kms.governance.errors import GovernanceError
from strongroom.kms.keystores.software import SoftwareKeyStore
from strongroom.kms.rootkey.fence import (
    claim_root_key_change,
    holder_name,
    release_root_key_change,
)
from strongroom.kms.rootkey.files import (
    file_descriptor,
    is_file_descriptor,
    next_path,
    root_key_change_lock,
    switch_to_next,
    write_next_key,
)
from strongroom.kms.rootkey.migration import MigrationError, rewrap_all, write_config
from strongroom.kms.rootkey.providers import FileRootKey, RootKeyProvider
from strongroom.kms.rootkey.setup import (
    hsm_descriptor,
    open_hsm_root_key,
    record_root_key,
    recorded_root_key,
)
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.unit_of_work import Transaction

_PARAMETERS = {"from", "keyLabel", "tokenLabel"}
_MAX_LABEL = 64


class RootKeyRotation:
    """The RootKeyRotator of one opened data directory (app.py ``governance_env``)."""

    def __init__(self, settings: Settings, store: SoftwareKeyStore, db: Database) -> None:
        self._settings = settings
        self._store = store
        self._db = db

    def check(self, tx: Transaction, params: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - _PARAMETERS)
        if unknown:
            raise GovernanceError(f"rotate-root-key takes no parameter {', '.join(unknown)}")
        current = recorded_root_key(tx)
        if current is None:  # pragma: no cover - opening a data directory records it
            raise GovernanceError("this data directory records no root key")
        named = params.get("from")
        if named is not None and named != current:
            raise GovernanceError(
                f"the proposal replaces root key {named!r}, but {current!r} is in force now; "
                "propose the rotation again"
            )
        if is_file_descriptor(current):
            if "keyLabel" in params or "tokenLabel" in params:
                raise GovernanceError(
                    "this store's root key is the root.key file: rotate-root-key takes no "
                    "keyLabel or tokenLabel (moving it into an HSM is `strongroom admin "
                    "migrate-root-key`)"
                )
            return {"from": current}
        label = _label(params, "keyLabel", None)
        token = _label(params, "tokenLabel", self._settings.hsm_token_label)
        if hsm_descriptor(label) == current:
            raise GovernanceError(f"keyLabel {label!r} is the root key in force; name a new one")
        return {"from": current, "keyLabel": label, "tokenLabel": token}

    def rotate(
        self, tx: Transaction, params: Mapping[str, Any], now: datetime
    ) -> tuple[dict[str, object], _AfterRotation]:
        held = contextlib.ExitStack()
        holder = holder_name()
        try:
            with _governance_errors():
                # In the proposal's transaction: it commits with the rotation, and other
                # nodes' lease decisions wait for that transaction (storage/leases.py).
                claim_root_key_change(tx, holder)
                held.enter_context(root_key_change_lock(self._settings.data_dir))
                target, descriptor = self._new_key(params)
        except BaseException:
            held.close()
            raise
        # The claim commits with the rotation (then committed() releases it) or rolls back.
        after = _AfterRotation(
            self._settings, self._store, target, params, now=now, held=held,
            release=lambda: release_root_key_change(self._db, holder),
        )  # fmt: skip
        try:
            with _governance_errors():
                source = self._store.root
                materials, secrets = rewrap_all(tx, self._store.store_id, source, target)
            record_root_key(tx, descriptor)
            after.source = self._store.use_root(target)
        except BaseException:
            after.rolled_back()
            raise
        summary: dict[str, object] = {
            "previousRootKey": params["from"],
            "rootKey": descriptor,
            "rewrappedMaterials": materials,
            "rewrappedSecrets": secrets,
        }
        return summary, after

    def _new_key(self, params: Mapping[str, Any]) -> tuple[RootKeyProvider, str]:
        if "keyLabel" not in params:
            path = self._settings.root_key_path
            stale = next_path(path)
            if stale.exists():
                # Under the change lock, and the database does not name it (else the start
                # would have finished the switch): a rotation died before its commit, and
                # nothing committed was ever wrapped under this key.
                stale.unlink()
            key = write_next_key(path)
            return FileRootKey(key), file_descriptor(key)
        target = self._settings.with_overrides(
            hsm_key_label=params["keyLabel"], hsm_token_label=params["tokenLabel"]
        )
        return open_hsm_root_key(target, create=True), hsm_descriptor(params["keyLabel"])


class _AfterRotation:
    """The after-commit step of a rotation (governance/actions.py ``AfterCommit``)."""

    def __init__(
        self,
        settings: Settings,
        store: SoftwareKeyStore,
        target: RootKeyProvider,
        params: Mapping[str, Any],
        *,
        now: datetime,
        held: contextlib.ExitStack,
        release: Callable[[], None],
    ) -> None:
        self._settings = settings
        self._release = release
        self._store = store
        self._target = target
        self._params = params
        self._now = now
        self._held = held
        self.source: RootKeyProvider | None = None  # set once the store uses the new key

    def committed(self) -> Mapping[str, object]:
        with self._held:
            self._held.callback(self._release)
            if self.source is not None:
                self.source.close()
            if "keyLabel" not in self._params:
                retired = switch_to_next(self._settings.root_key_path, self._now)
                return {"retiredRootKeyFile": retired.name}
            path = config_file(self._settings.data_dir)
            write_config(
                path,
                {
                    "root_key": "pkcs11",
                    "hsm_key_label": self._params["keyLabel"],
                    "hsm_token_label": self._params["tokenLabel"],
                },
            )
            return {"configFile": str(path)}

    def rolled_back(self) -> None:
        with self._held:
            if self.source is not None:
                self._store.use_root(self.source)
                self.source = None
            self._target.close()
            if "keyLabel" not in self._params:
                next_path(self._settings.root_key_path).unlink(missing_ok=True)


@contextlib.contextmanager
def _governance_errors() -> Iterator[None]:
    """Refusals of the rotation's parts become governance refusals (recorded, rolled back)."""
    try:
        yield
    except (MigrationError, ConfigError) as error:
        raise GovernanceError(f"rotate-root-key: {error}") from None


def _label(params: Mapping[str, Any], name: str, default: str | None) -> str:
    value = params.get(name, default)
    if not isinstance(value, str) or not value or len(value) > _MAX_LABEL:
        raise GovernanceError(
            f"rotate-root-key of an HSM root key needs {name} (1 to {_MAX_LABEL} characters)"
        )
    return value
