"""Access keys of users and roles, for request authentication, unsealed once and cached."""

from __future__ import annotations

from strongroom.kms.domain.secrets import Secret
from strongroom.kms.keystores.base import KeyStore
from strongroom.kms.service.caller import Credential
from strongroom.kms.storage.database import Change
from strongroom.kms.storage.identity import IdentityRepository

ACCESS_KEY_SECRET_PURPOSE = "access-key"  # noqa: S105 - a label, not a secret
_MISSING = object()


class CredentialCache:
    def __init__(self, identity: IdentityRepository, store: KeyStore) -> None:
        self._identity = identity
        self._store = store
        self._cache: dict[str, Credential | None] = {}

    def lookup(self, access_key_id: str) -> Credential | None:
        cached = self._cache.get(access_key_id, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        credential = self._load(access_key_id)
        if len(self._cache) >= 100_000:
            self._cache.clear()
        self._cache[access_key_id] = credential
        return credential

    def _load(self, access_key_id: str) -> Credential | None:
        record = self._identity.get_access_key(access_key_id)
        if record is None or record.status != "Active":
            return None
        principal = self._identity.get_principal(
            record.account_id, record.principal_name, record.principal_kind
        )
        if principal is None:
            return None
        secret = self._store.unseal_secret(
            ACCESS_KEY_SECRET_PURPOSE, access_key_id, record.sealed_secret
        )
        return Credential(access_key_id, principal, Secret(secret))

    def apply(self, changes: list[Change]) -> None:
        for change in changes:
            if change.access_key_id is not None:
                self._cache.pop(change.access_key_id, None)
