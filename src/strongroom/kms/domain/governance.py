"""The records of the provider's governance: operators, proposals and their approvals.

Values only. What makes an operator's signature count (Ed25519, governance/operators.py) and
what a proposal's signed bytes are (governance/proposals.py) live with the quorum rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Operator:
    name: str
    public_key: bytes  # raw 32-byte Ed25519 public key
    enrolled_at: datetime
    removed_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.removed_at is None


@dataclass(frozen=True, slots=True)
class Proposal:
    proposal_id: str
    proposer: str
    action: str
    parameters: Mapping[str, Any]  # JSON values only (str, int, bool, None, lists, objects)
    justification: str
    created_at: datetime
    expires_at: datetime
    nonce: str
    executed_at: datetime | None = None
    executed_by: str | None = None

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True, slots=True)
class Approval:
    operator: str
    signature: bytes
    approved_at: datetime
