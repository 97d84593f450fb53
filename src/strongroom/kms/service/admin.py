"""Administration of tenants and credentials, used by ``strongroom admin`` and first start.

These run against the database directly (also while a server runs: SQLite WAL and the change
feed make new or deleted access keys visible to running workers within a poll interval).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from strongroom.kms.domain.clock import Clock
from strongroom.kms.domain.ids import is_account_id, new_account_id
from strongroom.kms.domain.principals import AccessKeyRecord, Account, Principal
from strongroom.kms.keystores.base import KeyStore
from strongroom.kms.service.credentials import ACCESS_KEY_SECRET_PURPOSE
from strongroom.kms.storage.database import DuplicateRecord
from strongroom.kms.storage.identity import IdentityRepository

_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ACCESS_KEY_ID = re.compile(r"[A-Z0-9]{16,128}")
_USER_NAME = re.compile(r"[\w+=,.@-]{1,64}")


class AdminError(Exception):
    """A refused administrative request, with a message for the operator."""


@dataclass(frozen=True, slots=True)
class IssuedAccessKey:
    access_key_id: str
    secret_access_key: str
    account_id: str
    user_name: str

    def __repr__(self) -> str:
        return f"IssuedAccessKey({self.access_key_id!r}, secret=<redacted>)"


class Admin:
    def __init__(self, identity: IdentityRepository, store: KeyStore, clock: Clock) -> None:
        self._identity = identity
        self._store = store
        self._clock = clock

    def create_account(self, name: str, account_id: str | None = None) -> Account:
        if account_id is not None and not is_account_id(account_id):
            raise AdminError(f"account id {account_id!r} is not 12 digits")
        account = Account(account_id or new_account_id(), name, self._clock.now())
        try:
            self._identity.create_account(account)
        except DuplicateRecord:
            raise AdminError(f"account {account.account_id} exists already") from None
        return account

    def list_accounts(self) -> list[Account]:
        return self._identity.list_accounts()

    def create_user(self, account_id: str, name: str) -> Principal:
        self._require_account(account_id)
        if not _USER_NAME.fullmatch(name):
            raise AdminError(f"user name {name!r} is not a valid IAM user name")
        user = Principal(account_id, name, self._clock.now())
        try:
            self._identity.create_principal(user)
        except DuplicateRecord:
            raise AdminError(f"user {user.arn} exists already") from None
        return user

    def list_users(self, account_id: str) -> list[Principal]:
        self._require_account(account_id)
        return self._identity.list_principals(account_id)

    def create_access_key(
        self,
        account_id: str,
        user_name: str,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> IssuedAccessKey:
        if self._identity.get_principal(account_id, user_name) is None:
            raise AdminError(f"user {user_name} does not exist in account {account_id}")
        key_id = access_key_id or "AKIA" + "".join(secrets.choice(_BASE32) for _ in range(16))
        if not _ACCESS_KEY_ID.fullmatch(key_id):
            raise AdminError("an access key id has 16-128 upper-case letters and digits")
        secret = secret_access_key or secrets.token_urlsafe(30)[:40]
        if len(secret) < 16:
            raise AdminError("a secret access key has at least 16 characters")
        sealed = self._store.seal_secret(ACCESS_KEY_SECRET_PURPOSE, key_id, secret.encode())
        record = AccessKeyRecord(key_id, account_id, user_name, sealed, self._clock.now())
        try:
            self._identity.create_access_key(record)
        except DuplicateRecord:
            raise AdminError(f"access key {key_id} exists already") from None
        return IssuedAccessKey(key_id, secret, account_id, user_name)

    def list_access_keys(self, account_id: str | None = None) -> list[AccessKeyRecord]:
        return self._identity.list_access_keys(account_id)

    def delete_access_key(self, access_key_id: str) -> None:
        if not self._identity.delete_access_key(access_key_id, self._clock.now()):
            raise AdminError(f"access key {access_key_id} does not exist")

    def _require_account(self, account_id: str) -> None:
        if self._identity.get_account(account_id) is None:
            raise AdminError(f"account {account_id} does not exist")
