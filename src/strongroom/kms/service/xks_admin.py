"""Managing the XKS proxy: proxy credentials and external keys of a custom key store.

Used by ``strongroom admin xks`` against a data directory. External keys are generated in the
store's HSM cluster exactly as its KMS keys are (ADR 8: generated in one token, replicated
under the cluster wrapping key, non-extractable everywhere), under a label of their own; the
database holds only the reference. Creating one needs the store CONNECTED: this process logs
in to the cluster with the store's crypto-user password (unsealed here, never shown) and out
again. Every change reaches all server workers through the change feed within a second.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from strongroom.kms.domain.clock import Clock
from strongroom.kms.domain.custom_key_stores import CustomKeyStore
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.domain.xks import (
    MAX_CREDENTIALS_PER_STORE,
    SECRET_PURPOSE,
    XKS_KEY_ID_PATTERN,
    XksCredential,
    XksKey,
    new_access_key_id,
    new_secret,
    new_xks_key_id,
    token_label,
    uri_path,
)
from strongroom.kms.errors import KmsError
from strongroom.kms.keystores.base import KeyStore
from strongroom.kms.keystores.pkcs11.cluster import ClusterConnectError, ClusterConnection
from strongroom.kms.service.admin_error import AdminError
from strongroom.kms.service.custom_store_connections import PASSWORD_PURPOSE
from strongroom.kms.storage.custom_key_stores import CustomKeyStoreRepository
from strongroom.kms.storage.database import DuplicateRecord
from strongroom.kms.storage.xks import XksLimitExceeded, XksRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IssuedXksCredential:
    """A new credential, shown once: the spec's XKS proxy configuration file."""

    access_key_id: str
    secret: Secret
    uri_path: str

    def configuration(self) -> dict[str, object]:
        return {
            "XksProxyUriPath": self.uri_path,
            "XksProxyAuthenticationCredential": {
                "AccessKeyId": self.access_key_id,
                "RawSecretAccessKey": self.secret.reveal().decode("ascii"),
            },
        }


class XksAdmin:
    def __init__(
        self,
        repo: XksRepository,
        stores: CustomKeyStoreRepository,
        secrets: KeyStore,
        clock: Clock,
    ) -> None:
        self._repo = repo
        self._stores = stores
        self._secrets = secrets
        self._clock = clock

    def store(self, custom_key_store_id: str) -> CustomKeyStore:
        store = self._stores.get_store(custom_key_store_id)
        if store is None:
            raise AdminError(f"no custom key store {custom_key_store_id}")
        return store

    # --- credentials --------------------------------------------------------------------

    def create_credential(self, custom_key_store_id: str) -> IssuedXksCredential:
        store = self.store(custom_key_store_id)
        access_key_id = new_access_key_id()
        secret = new_secret().encode("ascii")
        credential = XksCredential(
            access_key_id,
            store.custom_key_store_id,
            store.account_id,
            Secret(secret),
            self._clock.now(),
        )
        sealed = self._secrets.seal_secret(SECRET_PURPOSE, access_key_id, secret)
        try:
            self._repo.add_credential(credential, sealed)
        except XksLimitExceeded:
            raise AdminError(
                f"custom key store {custom_key_store_id} has {MAX_CREDENTIALS_PER_STORE} "
                "credentials already; delete one first"
            ) from None
        return IssuedXksCredential(access_key_id, Secret(secret), uri_path(custom_key_store_id))

    def list_credentials(self, custom_key_store_id: str) -> list[dict[str, str]]:
        self.store(custom_key_store_id)
        return [
            {"AccessKeyId": akid, "CreateDate": created.isoformat()}
            for akid, created in self._repo.credentials(custom_key_store_id)
        ]

    def delete_credential(self, access_key_id: str) -> str:
        """Revoke a credential at once; return its store."""
        store_id = self._repo.delete_credential(access_key_id, self._clock.now())
        if store_id is None:
            raise AdminError(f"no XKS proxy credential {access_key_id}")
        return store_id

    # --- keys ---------------------------------------------------------------------------

    def create_key(self, custom_key_store_id: str, xks_key_id: str | None = None) -> XksKey:
        store = self.store(custom_key_store_id)
        if not store.connected:
            raise AdminError(f"custom key store {custom_key_store_id} is not connected")
        xks_key_id = xks_key_id or new_xks_key_id()
        if not XKS_KEY_ID_PATTERN.fullmatch(xks_key_id):
            raise AdminError("an external key id is 1-128 letters, digits, '-', '.' or '_'")
        if self._repo.key(custom_key_store_id, xks_key_id) is not None:
            raise AdminError(f"external key {xks_key_id} exists already")
        label = token_label(custom_key_store_id, xks_key_id)
        with self._cluster(store) as cluster:
            try:
                tokens = cluster.create_key(label, ("xks:" + xks_key_id).encode())
            except KmsError as error:
                raise AdminError(f"the key could not be created in the cluster: {error}") from None
            key = XksKey(
                custom_key_store_id,
                xks_key_id,
                store.account_id,
                True,
                tuple(tokens),
                self._clock.now(),
            )
            try:
                self._repo.add_key(key)
            except DuplicateRecord:
                cluster.destroy_key(label)
                raise AdminError(f"external key {xks_key_id} exists already") from None
        return key

    def list_keys(self, custom_key_store_id: str) -> list[XksKey]:
        self.store(custom_key_store_id)
        return self._repo.keys(custom_key_store_id)

    def set_enabled(self, custom_key_store_id: str, xks_key_id: str, enabled: bool) -> None:
        if not self._repo.set_enabled(custom_key_store_id, xks_key_id, enabled, self._clock.now()):
            raise AdminError(f"no external key {xks_key_id} in {custom_key_store_id}")

    def delete_key(self, custom_key_store_id: str, xks_key_id: str) -> list[str]:
        """Destroy a disabled external key in every token and forget it; return the tokens
        where it could not be destroyed. Data encrypted under it is lost for good."""
        key = self._repo.key(custom_key_store_id, xks_key_id)
        if key is None:
            raise AdminError(f"no external key {xks_key_id} in {custom_key_store_id}")
        if key.enabled:
            raise AdminError("disable the external key before deleting it")
        store = self.store(custom_key_store_id)
        if not store.connected:
            raise AdminError(f"custom key store {custom_key_store_id} is not connected")
        with self._cluster(store) as cluster:
            failed = cluster.destroy_key(key.label)
        self._repo.delete_key(custom_key_store_id, xks_key_id, self._clock.now())
        return failed

    def _cluster(self, store: CustomKeyStore) -> _Login:
        if store.cluster_id is None:
            raise AdminError(
                f"{store.custom_key_store_id} is an external key store: it has no HSM cluster"
            )
        cluster = self._stores.get_cluster(store.cluster_id)
        sealed = self._stores.sealed_password(store.custom_key_store_id)
        if cluster is None or sealed is None:
            raise AdminError(f"the cluster of {store.custom_key_store_id} is not registered")
        password = self._secrets.unseal_secret(PASSWORD_PURPOSE, store.custom_key_store_id, sealed)
        try:
            return _Login(ClusterConnection.open(cluster, password.decode()))
        except ClusterConnectError as error:
            raise AdminError(f"cannot log in to cluster {cluster.cluster_id}: {error}") from None


class _Login:
    """A cluster login for the length of one command."""

    def __init__(self, connection: ClusterConnection) -> None:
        self._connection = connection

    def __enter__(self) -> ClusterConnection:
        return self._connection

    def __exit__(self, *_exc: object) -> None:
        self._connection.close()
