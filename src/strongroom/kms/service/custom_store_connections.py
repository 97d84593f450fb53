"""This worker's custom key stores: their records (cached) and their cluster connections.

A store's connection state lives in the database, so every worker agrees on it; the PKCS#11
login does not (it belongs to a process), so each worker logs in to the cluster's tokens itself,
the first time it needs a connected store's keys. A store disconnected through any worker is
closed in every worker when the change feed reports it.
"""

from __future__ import annotations

import logging
import threading

from strongroom.kms.domain.custom_key_stores import (
    ConnectionErrorCode,
    CustomKeyStore,
    HsmCluster,
)
from strongroom.kms.domain.external_key_stores import XksTransport
from strongroom.kms.errors import KeyUnavailableException, KMSInvalidStateException
from strongroom.kms.keystores.base import KeyStore, MaterialCipher
from strongroom.kms.keystores.external.double_cipher import DoubleCipher
from strongroom.kms.keystores.external.proxy_client import XksProxyClient
from strongroom.kms.keystores.pkcs11.cluster import (
    ClusterConnectError,
    ClusterConnection,
    ClusterKeyStore,
)
from strongroom.kms.storage.custom_key_stores import CustomKeyStoreRepository
from strongroom.kms.storage.database import Change

log = logging.getLogger(__name__)

PASSWORD_PURPOSE = "custom-key-store-password"  # noqa: S105 - a label, not a secret
_MISSING = object()


class CustomKeyStoreConnections:
    """Implements the ``CustomKeyStores`` view the key cache uses (keystores/base.py)."""

    def __init__(
        self,
        repo: CustomKeyStoreRepository,
        secrets: KeyStore,
        transport: XksTransport | None = None,
    ) -> None:
        self.repo = repo
        self._secrets = secrets
        self._records: dict[str, CustomKeyStore | None] = {}
        # Bumped by every change to ``_records`` other than a read's own store: a record read
        # from the database while one happened may predate it, so it is not kept (``record``).
        self._epoch = 0
        self._clusters: dict[str, ClusterConnection] = {}
        # External key stores: a client of each store's XKS proxy, made on first use.
        self._proxies: dict[str, XksProxyClient] = {}
        self.transport = transport or XksTransport()
        self._lock = threading.Lock()

    # --- records ------------------------------------------------------------------------

    def record(self, store_id: str) -> CustomKeyStore | None:
        """The store's record, cached until the change feed or this worker changes it.

        The race the epoch closes (the same as ``KeyCache._keep_if_current``): the feed
        thread reads a store, a request commits a change to it and puts the new record, then
        the feed thread's older answer would overwrite it and be served until the next change.
        Checked after storing, so a change between the check and the store cannot slip
        through; a needless drop only costs one more read.
        """
        cached = self._records.get(store_id, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        epoch = self._epoch
        found = self.repo.get_store(store_id)
        self._records[store_id] = found
        if self._epoch != epoch:
            self._records.pop(store_id, None)
        return found

    def record_by_name(self, account_id: str, name: str) -> CustomKeyStore | None:
        return self.repo.find_by_name(account_id, name)

    def put(self, store: CustomKeyStore) -> None:
        self._epoch += 1
        self._records[store.custom_key_store_id] = store
        self._drop_proxy(store.custom_key_store_id)

    def forget(self, store_id: str) -> None:
        self._epoch += 1
        self._records.pop(store_id, None)
        self.disconnect(store_id)

    def is_connected(self, custom_key_store_id: str) -> bool:
        record = self.record(custom_key_store_id)
        return record is not None and record.connected

    # --- external key stores --------------------------------------------------------------

    def proxy_client(self, store: CustomKeyStore, secret: str) -> XksProxyClient:
        """A client of ``store``'s proxy with the given secret (to test settings before they
        are saved)."""
        assert store.xks is not None
        return XksProxyClient(store.xks, secret, self.transport)

    def secret(self, store_id: str) -> str:
        """An external key store's proxy secret, unsealed (never logged or returned)."""
        sealed = self.repo.sealed_password(store_id)
        if sealed is None:  # pragma: no cover - the row and its secret are written together
            raise KMSInvalidStateException(f"The external key store {store_id} has no credential.")
        return self._secrets.unseal_secret(PASSWORD_PURPOSE, store_id, sealed).decode()

    def proxy(self, store_id: str) -> XksProxyClient:
        """The client of a connected external key store's proxy in this process."""
        client = self._proxies.get(store_id)
        if client is not None:
            return client
        record = self.record(store_id)
        if record is None or record.xks is None or not record.connected:
            raise KMSInvalidStateException(f"The external key store {store_id} is not connected.")
        secret = self.secret(store_id)
        with self._lock:
            client = self._proxies.get(store_id)
            if client is None:
                client = self._proxies[store_id] = self.proxy_client(record, secret)
            return client

    def external_cipher(
        self, store_id: str, xks_key_id: str, key_arn: str, inner: MaterialCipher
    ) -> MaterialCipher:
        """The double-encryption cipher of a key in an external key store: ``inner`` (the
        key's own material), then the external key through the store's current proxy."""
        return DoubleCipher(inner, lambda: self.proxy(store_id), xks_key_id, key_arn)

    # --- connections --------------------------------------------------------------------

    def key_store(self, custom_key_store_id: str) -> KeyStore:
        self.cluster(custom_key_store_id)  # connected here, or KeyUnavailableException now
        return ClusterKeyStore(custom_key_store_id, lambda: self.cluster(custom_key_store_id))

    def cluster(self, store_id: str) -> ClusterConnection:
        """The store's ClusterConnection in this process, logging in on first use."""
        connection = self._clusters.get(store_id)
        if connection is not None and not connection.closed:
            return connection
        record = self.record(store_id)
        if record is None or not record.connected:
            raise KeyUnavailableException(f"The custom key store {store_id} is not connected.")
        with self._lock:
            connection = self._clusters.get(store_id)
            if connection is not None and not connection.closed:
                return connection
            cluster = (
                None if record.cluster_id is None else self.repo.get_cluster(record.cluster_id)
            )
            error = None
            if cluster is not None:
                connection, error = self._open(record, cluster)
            if connection is None:
                log.warning("custom key store %s: cannot log in here (%s)", store_id, error)
                raise KeyUnavailableException(
                    f"The HSM cluster of custom key store {store_id} cannot be reached."
                )
            self._clusters[store_id] = connection
            return connection

    def connect(self, store: CustomKeyStore) -> ConnectionErrorCode | None:
        """Log in to the store's cluster now; return the error code if that failed."""
        cluster = None if store.cluster_id is None else self.repo.get_cluster(store.cluster_id)
        if cluster is None:
            return ConnectionErrorCode.CLUSTER_NOT_FOUND
        with self._lock:
            self._close(store.custom_key_store_id)
            connection, error = self._open(store, cluster)
            if connection is not None:
                self._clusters[store.custom_key_store_id] = connection
            return error

    def disconnect(self, store_id: str) -> None:
        with self._lock:
            self._close(store_id)
        self._drop_proxy(store_id)

    def _drop_proxy(self, store_id: str) -> None:
        with self._lock:
            client = self._proxies.pop(store_id, None)
        if client is not None:
            client.close()

    def destroy_key(self, store_id: str, key_arn: str) -> bool:
        """Destroy a deleted key's objects in the cluster; False if that was not possible."""
        try:
            failed = self.cluster(store_id).destroy_key(key_arn)
        except KeyUnavailableException:
            failed = ["(store not connected)"]
        if failed:
            log.warning(
                "key %s was deleted but its HSM objects remain in %s of custom key store %s",
                key_arn,
                ", ".join(failed),
                store_id,
            )
        return not failed

    def apply(self, changes: list[Change]) -> None:
        """Follow the change feed: forget changed records; close what was disconnected."""
        for change in changes:
            store_id = change.custom_key_store_id
            if store_id is None:
                continue
            self._epoch += 1
            self._records.pop(store_id, None)
            self._drop_proxy(store_id)  # settings or credential may have changed
            if store_id in self._clusters and not self.is_connected(store_id):
                self.disconnect(store_id)

    def close(self) -> None:
        with self._lock:
            for store_id in list(self._clusters):
                self._close(store_id)
        for store_id in list(self._proxies):
            self._drop_proxy(store_id)

    def _open(
        self, store: CustomKeyStore, cluster: HsmCluster
    ) -> tuple[ClusterConnection | None, ConnectionErrorCode | None]:
        sealed = self.repo.sealed_password(store.custom_key_store_id)
        if sealed is None:
            return None, ConnectionErrorCode.INTERNAL_ERROR
        password = self._secrets.unseal_secret(
            PASSWORD_PURPOSE, store.custom_key_store_id, sealed
        ).decode()
        try:
            return ClusterConnection.open(cluster, password), None
        except ClusterConnectError as error:
            return None, error.code

    def _close(self, store_id: str) -> None:
        connection = self._clusters.pop(store_id, None)
        if connection is not None:
            connection.close()
