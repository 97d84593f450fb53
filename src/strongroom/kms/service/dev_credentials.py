"""Development credentials: any access key is accepted, as local AWS emulators do.

With ``dev_credentials`` on (``strongroom serve --dev``), SigV4 signatures are not compared
(``SigV4Verifier(check_signatures=False)``), so requests signed with any secret get in. The
access key id chooses who the caller is:

- an access key that exists (made with ``strongroom admin access-keys create``) is its own
  principal, as in strict mode;
- any other id that is 12 digits is that account's developer; anything else (``test``,
  ``AKIA...``) is the developer of the default account ``000000000000``.

Each such account is created on first use with a user ``developer`` whose inline policy allows
everything, so keys it creates (with the default key policy) are fully usable. Strict mode
(the default) never reaches this module.
"""

from __future__ import annotations

import contextlib
import re

from strongroom.kms.domain.principals import USER, Principal
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.service.admin import Admin
from strongroom.kms.service.admin_error import AdminError
from strongroom.kms.service.caller import Credential
from strongroom.kms.service.credentials import CredentialCache
from strongroom.kms.storage.database import Change
from strongroom.kms.storage.identity import IdentityRepository

DEFAULT_ACCOUNT = "000000000000"
DEVELOPER = "developer"
FULL_ACCESS_POLICY = "developer-full-access"
FULL_ACCESS = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
)
_ACCOUNT_ID = re.compile(r"\d{12}")
# No secret is known or needed: the verifier does not compare signatures in this mode.
_NO_SECRET = Secret(b"")


def account_for(access_key_id: str) -> str:
    """The account an unknown access key id stands for (12 digits: itself)."""
    return access_key_id if _ACCOUNT_ID.fullmatch(access_key_id) else DEFAULT_ACCOUNT


class DevCredentials:
    """A credential lookup that knows every access key id (see the module docstring)."""

    def __init__(self, known: CredentialCache, identity: IdentityRepository, admin: Admin) -> None:
        self._known = known
        self._identity = identity
        self._admin = admin
        self._developers: dict[str, Principal] = {}

    def lookup(self, access_key_id: str) -> Credential:
        existing = self._known.lookup(access_key_id)
        if existing is not None:
            return existing
        account_id = account_for(access_key_id)
        developer = self._developers.get(account_id) or self._developer(account_id)
        return Credential(access_key_id, developer, _NO_SECRET)

    def _developer(self, account_id: str) -> Principal:
        """The account's developer, creating account, user and policy the first time.

        Several workers may do this at once: whatever another one created first is kept.
        """
        if self._identity.get_account(account_id) is None:
            with contextlib.suppress(AdminError):  # created meanwhile by another worker
                self._admin.create_account(f"dev-{account_id}", account_id)
        principal = self._identity.get_principal(account_id, DEVELOPER, USER)
        if principal is None:
            try:
                principal = self._admin.create_user(account_id, DEVELOPER)
            except AdminError:
                principal = self._identity.get_principal(account_id, DEVELOPER, USER)
                assert principal is not None
        names = {name for name, _ in self._identity.policies_of(account_id, USER, DEVELOPER)}
        if FULL_ACCESS_POLICY not in names:
            # Written concurrently by another worker: the same document, either way.
            with contextlib.suppress(AdminError):
                self._admin.put_user_policy(account_id, DEVELOPER, FULL_ACCESS_POLICY, FULL_ACCESS)
        self._developers[account_id] = principal
        return principal

    def apply(self, changes: list[Change]) -> None:
        self._known.apply(changes)
