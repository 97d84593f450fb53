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
from strongroom.kms.errors import KeyUnavailableException
from strongroom.kms.keystores.base import KeyStore
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

    def __init__(self, repo: CustomKeyStoreRepository, secrets: KeyStore) -> None:
        self.repo = repo
        self._secrets = secrets
        self._records: dict[str, CustomKeyStore | None] = {}
        self._clusters: dict[str, ClusterConnection] = {}
        self._lock = threading.Lock()

    # --- records ------------------------------------------------------------------------

    def record(self, store_id: str) -> CustomKeyStore | None:
        cached = self._records.get(store_id, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        found = self.repo.get_store(store_id)
        self._records[store_id] = found
        return found

    def record_by_name(self, account_id: str, name: str) -> CustomKeyStore | None:
        return self.repo.find_by_name(account_id, name)

    def put(self, store: CustomKeyStore) -> None:
        self._records[store.custom_key_store_id] = store

    def forget(self, store_id: str) -> None:
        self._records.pop(store_id, None)
        self.disconnect(store_id)

    def is_connected(self, custom_key_store_id: str) -> bool:
        record = self.record(custom_key_store_id)
        return record is not None and record.connected

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
            cluster = self.repo.get_cluster(record.cluster_id)
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
        cluster = self.repo.get_cluster(store.cluster_id)
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
            self._records.pop(store_id, None)
            if store_id in self._clusters and not self.is_connected(store_id):
                self.disconnect(store_id)

    def close(self) -> None:
        with self._lock:
            for store_id in list(self._clusters):
                self._close(store_id)

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
