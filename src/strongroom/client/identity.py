"""Authentication and identity policies, as services other than the KMS need them."""

from __future__ import annotations

from enum import Enum
from typing import Protocol

from strongroom.client.principal import Credential, Principal


class Authenticator(Protocol):
    """Resolves an access key id to its credential (principal and secret) for SigV4."""

    def lookup(self, access_key_id: str) -> Credential | None: ...


class Decision(Enum):
    ALLOW = "Allow"
    DENY = "Deny"  # an explicit deny
    NONE = "None"  # no statement applies: an implicit deny


class IdentityPolicies(Protocol):
    """What the principal's IAM identity policies say about ``action`` on ``resource``."""

    def decide(self, principal: Principal, action: str, resource: str) -> Decision: ...
