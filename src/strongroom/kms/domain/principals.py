"""Tenants and the principals that call the API."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime

USER = "user"
ROLE = "role"
PRINCIPAL_KINDS = (USER, ROLE)
# The prefixes AWS gives the unique ids of IAM users and roles (the ``aws:userid`` of a call).
_UNIQUE_ID_PREFIXES = {USER: "AIDA", ROLE: "AROA"}


def principal_arn(account_id: str, kind: str, name: str) -> str:
    """``arn:aws:iam::<account>:user/<name>`` or ``...:role/<name>``."""
    return f"arn:aws:iam::{account_id}:{kind}/{name}"


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Principal:
    """An IAM user or role of an account."""

    account_id: str
    name: str
    created_at: datetime
    kind: str = USER

    @property
    def arn(self) -> str:
        return principal_arn(self.account_id, self.kind, self.name)

    @property
    def unique_id(self) -> str:
        """A stable id in AWS's shape (``AIDA...`` for users, ``AROA...`` for roles).

        Derived from the ARN, so it is the same on every node and after a restart; 21
        characters of ``A-Z2-7`` like AWS's own.
        """
        digest = base64.b32encode(hashlib.sha256(self.arn.encode()).digest()).decode("ascii")
        return _UNIQUE_ID_PREFIXES[self.kind] + digest[:17]


@dataclass(frozen=True, slots=True)
class AccessKeyRecord:
    """An access key as stored: its secret stays sealed under the root key."""

    access_key_id: str
    account_id: str
    principal_name: str
    sealed_secret: bytes
    created_at: datetime
    status: str = "Active"
    principal_kind: str = USER
