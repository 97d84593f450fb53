"""External keys served to AWS KMS through the XKS proxy API, and the proxy's credentials.

An external key is an AES-256 key generated non-extractable in the HSM cluster of one of the
tenant's custom key stores; only its reference is recorded here. The proxy credentials are the
access key id and secret AWS KMS signs its XKS requests with (``XksProxyAuthenticationCredential``):
they belong to one custom key store, whose URI path they are valid for, and are unrelated to
any IAM access key.
"""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from strongroom.kms.domain.secrets import Secret

# AWS's XksKeyId and the spec's externalKeyId: 1-128 of letters, digits, '-', '.', '_'.
XKS_KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")
# The spec's access key id: 20-30 of 'A'-'Z' and '2'-'7'.
ACCESS_KEY_ID_PATTERN = re.compile(r"[A-Z2-7]{20,30}")
SECRET_PURPOSE = "xks-proxy-credential"  # noqa: S105 - a seal purpose, not a secret
XKS_PATH_ROOT = "/xks/"
API_SUFFIX = "/kms/xks/v1"
# Credentials per custom key store: two active at once is what rotation needs (the spec).
MAX_CREDENTIALS_PER_STORE = 2


def new_access_key_id() -> str:
    """24 characters of the base32 alphabet (120 random bits), as the spec's form asks."""
    return base64.b32encode(secrets.token_bytes(15)).decode("ascii")


def new_secret() -> str:
    """Base64 of 256 random bits (44 characters), as the spec suggests."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def new_xks_key_id() -> str:
    return str(uuid.uuid4())


def uri_path(custom_key_store_id: str) -> str:
    """The XksProxyUriPath of a custom key store's external keys."""
    return f"{XKS_PATH_ROOT.rstrip('/')}/{custom_key_store_id}{API_SUFFIX}"


def token_label(custom_key_store_id: str, xks_key_id: str) -> str:
    """The label of an external key's objects in the cluster's tokens (never a key ARN, so
    it cannot collide with a KMS key of the same store)."""
    return f"strongroom-xks/{custom_key_store_id}/{xks_key_id}"


@dataclass(frozen=True, slots=True)
class XksCredential:
    access_key_id: str
    custom_key_store_id: str
    account_id: str
    secret: Secret
    created_at: datetime

    def secret_bytes(self) -> bytes:
        return self.secret.reveal()


@dataclass(frozen=True, slots=True)
class XksKey:
    custom_key_store_id: str
    xks_key_id: str
    account_id: str
    enabled: bool
    tokens: tuple[str, ...]
    created_at: datetime

    @property
    def label(self) -> str:
        return token_label(self.custom_key_store_id, self.xks_key_id)

    def resource(self, region: str) -> str:
        """The key's name in audit records: ARN-shaped, so the trail files it under the
        tenant's account."""
        return (
            f"arn:aws:kms:{region}:{self.account_id}:xks-key/"
            f"{self.custom_key_store_id}/{self.xks_key_id}"
        )

    def listing(self) -> dict[str, object]:
        return {
            "XksKeyId": self.xks_key_id,
            "CustomKeyStoreId": self.custom_key_store_id,
            "AccountId": self.account_id,
            "KeyStatus": "ENABLED" if self.enabled else "DISABLED",
            "Tokens": list(self.tokens),
            "CreationDate": self.created_at.isoformat(),
        }
