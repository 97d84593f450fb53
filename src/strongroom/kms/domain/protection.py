"""A tenant's own M-of-N approval for lowering a key's protection (docs/adr/0009).

Moving a key out of an HSM token into the provider's reach (``strongroom byok from-hsm``, whose
lineage ``RecordKeyLineage`` records) is the one act that lowers protection. A tenant may ask,
with a protection policy, that such an act needs M distinct approvers of its own account, each
approving with their own SigV4-signed call: the signature is SigV4's, the approval is the
authenticated call. Changing the policy itself, once one is in force, needs the same approval,
so one principal cannot switch the requirement off.

Pure values and rules: who may approve, when a change is approved, expired or spent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from strongroom.kms.domain.principals import PRINCIPAL_KINDS

MAX_APPROVERS = 20
CHANGE_LIFETIME = timedelta(hours=24)


class ChangeKind(StrEnum):
    RECORD_KEY_LINEAGE = "RecordKeyLineage"
    PUT_PROTECTION_POLICY = "PutProtectionPolicy"


class ChangeStatus(StrEnum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    EXECUTED = "EXECUTED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True, slots=True)
class ProtectionPolicy:
    """M of the listed approvers (IAM principal ARNs of the account) must approve."""

    account_id: str
    required_approvals: int
    approvers: tuple[str, ...]
    updated_at: datetime

    def check(self) -> None:
        """Raises ValueError with the reason a policy is not acceptable."""
        if len(set(self.approvers)) != len(self.approvers):
            raise ValueError("Approvers lists a principal more than once.")
        if len(self.approvers) > MAX_APPROVERS:
            raise ValueError(f"Approvers may list at most {MAX_APPROVERS} principals.")
        if not 1 <= self.required_approvals <= len(self.approvers):
            raise ValueError(
                f"RequiredApprovals must be between 1 and the number of approvers "
                f"({len(self.approvers)})."
            )
        for arn in self.approvers:
            if principal_name(self.account_id, arn) is None:
                raise ValueError(
                    f"{arn} is not the ARN of an IAM user or role of account {self.account_id}."
                )

    def describe(self) -> dict[str, object]:
        return {
            "RequiredApprovals": self.required_approvals,
            "Approvers": list(self.approvers),
            "UpdatedAt": self.updated_at.timestamp(),
        }


def principal_name(account_id: str, arn: str) -> tuple[str, str] | None:
    """``(kind, name)`` of ``arn:aws:iam::<account_id>:user/<name>`` (or role), else None."""
    prefix = f"arn:aws:iam::{account_id}:"
    if not arn.startswith(prefix):
        return None
    kind, _, name = arn[len(prefix) :].partition("/")
    if kind not in PRINCIPAL_KINDS or not name or "/" in name:
        return None
    return kind, name


@dataclass(frozen=True, slots=True)
class ProtectionChange:
    """A pending act that lowers protection (or changes the policy), awaiting approvals."""

    change_id: str
    account_id: str
    kind: ChangeKind
    key_id: str | None
    parameters: dict[str, object]
    requested_by: str
    created_at: datetime
    expires_at: datetime
    executed_at: datetime | None = None

    def status(self, now: datetime) -> ChangeStatus:
        if self.executed_at is not None:
            return ChangeStatus.EXECUTED
        if now >= self.expires_at:
            return ChangeStatus.EXPIRED
        return ChangeStatus.PENDING_APPROVAL

    def encoded_parameters(self) -> str:
        return json.dumps(self.parameters, sort_keys=True, separators=(",", ":"))


def counted(approvals: list[str], policy: ProtectionPolicy | None) -> list[str]:
    """The approvals that count: by principals who are approvers under the policy in force.

    Counted when a change would execute, never cached: an approver removed from the policy
    (by an approved policy change) no longer counts.
    """
    if policy is None:
        return []
    allowed = set(policy.approvers)
    return [arn for arn in approvals if arn in allowed]


def is_approved(approvals: list[str], policy: ProtectionPolicy | None) -> bool:
    return policy is not None and len(counted(approvals, policy)) >= policy.required_approvals
