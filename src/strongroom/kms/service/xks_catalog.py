"""This worker's view of the XKS proxy's credentials and external keys, cached.

A request for a known key and credential does no database round trip: records are cached and
dropped when the change feed names their custom key store (every XKS change records one), so a
disabled key, a revoked credential or a disconnected store stops working in every worker within
one poll (``cache_poll_seconds``, 0.2 s by default). Unknown access key ids are remembered too
(bounded), so a stream of guesses does not become a stream of queries.
"""

from __future__ import annotations

from strongroom.kms.domain.custom_key_stores import CustomKeyStore, HsmCluster
from strongroom.kms.domain.xks import SECRET_PURPOSE, XksCredential, XksKey
from strongroom.kms.keystores.base import KeyStore, MaterialCipher
from strongroom.kms.keystores.pkcs11.cluster import ClusterConnection, HsmKeyCipher
from strongroom.kms.service.custom_store_connections import CustomKeyStoreConnections
from strongroom.kms.storage.database import Change
from strongroom.kms.storage.xks import XksRepository

CACHE_LIMIT = 10_000
_MISSING = object()


class XksCatalog:
    def __init__(
        self, repo: XksRepository, stores: CustomKeyStoreConnections, secrets: KeyStore
    ) -> None:
        self._repo = repo
        self._stores = stores
        self._secrets = secrets
        self._credentials: dict[str, XksCredential | None] = {}
        self._keys: dict[tuple[str, str], XksKey | None] = {}
        self._ciphers: dict[tuple[str, str], MaterialCipher] = {}

    def credential(self, access_key_id: str) -> XksCredential | None:
        cached = self._credentials.get(access_key_id, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        found = self._repo.credential(access_key_id, self._unseal)
        if len(self._credentials) >= CACHE_LIMIT:
            self._credentials.clear()
        self._credentials[access_key_id] = found
        return found

    def key(self, custom_key_store_id: str, xks_key_id: str) -> XksKey | None:
        name = (custom_key_store_id, xks_key_id)
        cached = self._keys.get(name, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        found = self._repo.key(custom_key_store_id, xks_key_id)
        if len(self._keys) >= CACHE_LIMIT:
            self._keys.clear()
        self._keys[name] = found
        return found

    def store(self, custom_key_store_id: str) -> CustomKeyStore | None:
        return self._stores.record(custom_key_store_id)

    def cipher(self, key: XksKey) -> MaterialCipher:
        """AES-GCM with the key inside the store's tokens (logging in on first use)."""
        name = (key.custom_key_store_id, key.xks_key_id)
        cipher = self._ciphers.get(name)
        if cipher is None:
            store_id = key.custom_key_store_id
            cipher = HsmKeyCipher(lambda: self._stores.cluster(store_id), key.label)
            self._ciphers[name] = cipher
        return cipher

    def cluster(self, custom_key_store_id: str) -> ClusterConnection:
        """The store's logged-in cluster in this worker (KeyUnavailableException if not)."""
        return self._stores.cluster(custom_key_store_id)

    def cluster_record(self, store: CustomKeyStore) -> HsmCluster | None:
        """The registered cluster of a store (a database read: for health checks only)."""
        if store.cluster_id is None:  # an external key store: no HSMs of ours behind it
            return None
        return self._stores.repo.get_cluster(store.cluster_id)

    def apply(self, changes: list[Change]) -> None:
        """Drop everything cached for the custom key stores the changes name."""
        stores = {c.custom_key_store_id for c in changes if c.custom_key_store_id is not None}
        if not stores:
            return
        self._credentials = {
            akid: cred
            for akid, cred in self._credentials.items()
            if cred is not None and cred.custom_key_store_id not in stores
        }
        self._keys = {name: key for name, key in self._keys.items() if name[0] not in stores}
        self._ciphers = {name: c for name, c in self._ciphers.items() if name[0] not in stores}

    def _unseal(self, access_key_id: str, sealed: bytes) -> bytes:
        return self._secrets.unseal_secret(SECRET_PURPOSE, access_key_id, sealed)
