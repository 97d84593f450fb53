"""Administration of tenants and credentials, used by ``strongroom admin`` and first start.

These run against the database directly (also while a server runs: SQLite WAL and the change
feed make new or deleted access keys, and changed policies, visible to running workers within
a poll interval).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass

from strongroom.kms.domain.clock import Clock
from strongroom.kms.domain.ids import is_account_id, new_account_id
from strongroom.kms.domain.principals import (
    ROLE,
    USER,
    AccessKeyRecord,
    Account,
    Principal,
    principal_arn,
)
from strongroom.kms.keystores.base import KeyStore
from strongroom.kms.service.admin_error import AdminError
from strongroom.kms.service.credentials import ACCESS_KEY_SECRET_PURPOSE
from strongroom.kms.storage.database import DuplicateRecord
from strongroom.kms.storage.identity import IdentityRepository

_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ACCESS_KEY_ID = re.compile(r"[A-Z0-9]{16,128}")
# Development set-ups' well-known ids (``test``, as local AWS emulators use), asked for explicitly.
_WELL_KNOWN_ACCESS_KEY_ID = re.compile(r"[A-Za-z0-9]{1,128}")
# IAM's userNameType / roleNameType / policyNameType (botocore's IAM model); IAM's \w is ASCII.
_PRINCIPAL_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_POLICY_NAME = re.compile(r"[\w+=,.@-]{1,128}", re.ASCII)
# IAM's policyDocumentType: the characters a policy document may contain.
_POLICY_CHARACTERS = re.compile(r"[\t\n\r\u0020-\u00ff]*")

# IAM quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html):
# the inline policies of a user may hold 2,048 characters together, those of a role 10,240;
# white space is not counted. One document can never be larger than the largest of these.
MAX_POLICY_DOCUMENT_CHARACTERS = 10_240
INLINE_POLICY_QUOTAS = {USER: 2_048, ROLE: 10_240}
# The longest PolicyDocument the IAM API accepts at all (white space included).
MAX_POLICY_DOCUMENT_LENGTH = 131_072

ADMINISTRATOR_POLICY_NAME = "AdministratorAccess"
ADMINISTRATOR_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def policy_size(document: str) -> int:
    """The size IAM counts against its quotas: characters that are not white space."""
    return sum(1 for char in document if not char.isspace())


def validate_identity_policy(text: str) -> None:
    """Refuse a document that cannot be an identity (IAM) policy; raise AdminError.

    The hook every inline policy passes before it is stored. Today: the characters IAM allows,
    a JSON object, at most MAX_POLICY_DOCUMENT_CHARACTERS characters that are not white
    space, and a ``Statement``. The policy language parser will take this over.
    """
    if len(text) > MAX_POLICY_DOCUMENT_LENGTH:
        raise AdminError(
            f"the policy document has {len(text)} characters; at most "
            f"{MAX_POLICY_DOCUMENT_LENGTH} are allowed"
        )
    if not _POLICY_CHARACTERS.fullmatch(text):
        raise AdminError(
            "the policy document may contain only tab, line feed, carriage return and the "
            "characters U+0020 to U+00FF"
        )
    size = policy_size(text)
    if size > MAX_POLICY_DOCUMENT_CHARACTERS:
        raise AdminError(
            f"the policy document has {size} characters (not counting white space); at most "
            f"{MAX_POLICY_DOCUMENT_CHARACTERS} are allowed"
        )
    try:
        document = json.loads(text)
    except ValueError as error:
        raise AdminError(f"the policy document is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise AdminError("the policy document must be a JSON object")
    if "Statement" not in document:
        raise AdminError("the policy document has no Statement")


@dataclass(frozen=True, slots=True)
class IssuedAccessKey:
    access_key_id: str
    secret_access_key: str
    account_id: str
    user_name: str  # the name of the user, or of the role when principal_kind is "role"
    principal_kind: str = USER

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

    # --- users and roles -------------------------------------------------------------------

    def create_user(self, account_id: str, name: str) -> Principal:
        return self._create_principal(account_id, USER, name)

    def list_users(self, account_id: str) -> list[Principal]:
        self._require_account(account_id)
        return self._identity.list_principals(account_id, USER)

    def create_role(self, account_id: str, name: str) -> Principal:
        return self._create_principal(account_id, ROLE, name)

    def list_roles(self, account_id: str) -> list[Principal]:
        self._require_account(account_id)
        return self._identity.list_principals(account_id, ROLE)

    def _create_principal(self, account_id: str, kind: str, name: str) -> Principal:
        self._require_account(account_id)
        if not _PRINCIPAL_NAME.fullmatch(name):
            raise AdminError(f"{kind} name {name!r} is not a valid IAM {kind} name")
        principal = Principal(account_id, name, self._clock.now(), kind)
        try:
            self._identity.create_principal(principal)
        except DuplicateRecord:
            raise AdminError(f"{kind} {principal.arn} exists already") from None
        return principal

    # --- inline identity policies ----------------------------------------------------------

    def put_user_policy(
        self, account_id: str, user_name: str, policy_name: str, document: str
    ) -> None:
        self.put_policy(account_id, USER, user_name, policy_name, document)

    def list_user_policies(self, account_id: str, user_name: str) -> list[str]:
        return self.list_policies(account_id, USER, user_name)

    def delete_user_policy(self, account_id: str, user_name: str, policy_name: str) -> None:
        self.delete_policy(account_id, USER, user_name, policy_name)

    def put_role_policy(
        self, account_id: str, role_name: str, policy_name: str, document: str
    ) -> None:
        self.put_policy(account_id, ROLE, role_name, policy_name, document)

    def put_policy(
        self, account_id: str, kind: str, name: str, policy_name: str, document: str
    ) -> None:
        """Create or replace an inline policy of the user or role (``kind``) ``name``."""
        self._require_principal(account_id, kind, name)
        _check_policy_name(policy_name)
        validate_identity_policy(document)
        others = sum(
            policy_size(text)
            for other, text in self._identity.policies_of(account_id, kind, name)
            if other != policy_name
        )
        quota = INLINE_POLICY_QUOTAS[kind]
        if others + policy_size(document) > quota:
            raise AdminError(
                f"the inline policies of {kind} {principal_arn(account_id, kind, name)} would "
                f"have {others + policy_size(document)} characters (not counting white "
                f"space); a {kind}'s inline policies may have {quota} together"
            )
        try:
            self._identity.put_principal_policy(
                account_id, kind, name, policy_name, document, at=self._clock.now()
            )
        except DuplicateRecord:  # another writer created it between our update and insert
            raise AdminError(f"policy {policy_name} was changed concurrently; try again") from None

    def get_policy(self, account_id: str, kind: str, name: str, policy_name: str) -> str:
        self._require_principal(account_id, kind, name)
        document = self._identity.get_principal_policy(account_id, kind, name, policy_name)
        if document is None:
            raise _no_such_policy(account_id, kind, name, policy_name)
        return document

    def list_policies(self, account_id: str, kind: str, name: str) -> list[str]:
        self._require_principal(account_id, kind, name)
        return self._identity.list_principal_policies(account_id, kind, name)

    def delete_policy(self, account_id: str, kind: str, name: str, policy_name: str) -> None:
        self._require_principal(account_id, kind, name)
        if not self._identity.delete_principal_policy(
            account_id, kind, name, policy_name, self._clock.now()
        ):
            raise _no_such_policy(account_id, kind, name, policy_name)

    # --- access keys -----------------------------------------------------------------------

    def create_access_key(
        self,
        account_id: str,
        principal_name: str,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        kind: str = USER,
        *,
        well_known: bool = False,
    ) -> IssuedAccessKey:
        """A new access key for the user (or, with ``kind="role"``, the role) of the account.

        ``well_known`` admits the short ids and secrets development set-ups share (``test``
        / ``test``); without it an id has AWS's shape and a secret at least 16 characters.
        """
        self._require_principal(account_id, kind, principal_name)
        key_id = access_key_id or "AKIA" + "".join(secrets.choice(_BASE32) for _ in range(16))
        shape = _WELL_KNOWN_ACCESS_KEY_ID if well_known else _ACCESS_KEY_ID
        if not shape.fullmatch(key_id):
            raise AdminError(
                "an access key id has 1-128 letters and digits"
                if well_known
                else "an access key id has 16-128 upper-case letters and digits "
                "(--well-known admits short development ids such as 'test')"
            )
        secret = secret_access_key or secrets.token_urlsafe(30)[:40]
        if len(secret) < (1 if well_known else 16):
            raise AdminError("a secret access key has at least 16 characters")
        sealed = self._store.seal_secret(ACCESS_KEY_SECRET_PURPOSE, key_id, secret.encode())
        record = AccessKeyRecord(
            key_id, account_id, principal_name, sealed, self._clock.now(), principal_kind=kind
        )
        try:
            self._identity.create_access_key(record)
        except DuplicateRecord:
            raise AdminError(f"access key {key_id} exists already") from None
        return IssuedAccessKey(key_id, secret, account_id, principal_name, kind)

    def list_access_keys(self, account_id: str | None = None) -> list[AccessKeyRecord]:
        return self._identity.list_access_keys(account_id)

    def delete_access_key(self, access_key_id: str) -> None:
        if not self._identity.delete_access_key(access_key_id, self._clock.now()):
            raise AdminError(f"access key {access_key_id} does not exist")

    def _require_account(self, account_id: str) -> None:
        if self._identity.get_account(account_id) is None:
            raise AdminError(f"account {account_id} does not exist")

    def _require_principal(self, account_id: str, kind: str, name: str) -> None:
        if kind not in INLINE_POLICY_QUOTAS:
            raise AdminError(f"a principal is a user or a role, not a {kind!r}")
        if self._identity.get_principal(account_id, name, kind) is None:
            raise AdminError(f"{kind} {name} does not exist in account {account_id}")


def _check_policy_name(policy_name: str) -> None:
    if not _POLICY_NAME.fullmatch(policy_name):
        raise AdminError(
            f"policy name {policy_name!r} is not valid: 1-128 letters, digits and +=,.@_-"
        )


def _no_such_policy(account_id: str, kind: str, name: str, policy_name: str) -> AdminError:
    arn = principal_arn(account_id, kind, name)
    return AdminError(f"{kind} {arn} has no inline policy named {policy_name}")
