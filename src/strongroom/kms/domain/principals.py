"""Tenants and the principals that call the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Principal:
    """An IAM user (or, later, role) of an account."""

    account_id: str
    name: str
    created_at: datetime
    kind: str = "user"

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class AccessKeyRecord:
    """An access key as stored: its secret stays sealed under the root key."""

    access_key_id: str
    account_id: str
    principal_name: str
    sealed_secret: bytes
    created_at: datetime
    status: str = "Active"
