"""Authorization decisions, behind one interface the pipeline calls for every key it touches.

:class:`AccountAuthorizer` is the decision the AWS *default key policy* produces for a principal
with full IAM permissions in its own account: same-account access is allowed, every other
account is denied. The policy engine (key policies, IAM policies, grants) replaces it behind the
same :class:`Authorizer` interface.
"""

from __future__ import annotations

from typing import Protocol

from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.errors import AccessDeniedException
from strongroom.kms.service.caller import Caller


class Authorizer(Protocol):
    def authorize(self, caller: Caller, action: str, key: KeyRecord | None) -> None:
        """Return if ``caller`` may perform ``action`` (on ``key``), else raise AccessDenied."""
        ...


class AccountAuthorizer:
    def authorize(self, caller: Caller, action: str, key: KeyRecord | None) -> None:
        if key is None or key.account_id == caller.account_id:
            return
        # Do not name another tenant's key (its ARN carries the account id).
        raise AccessDeniedException(
            f"User: {caller.principal_arn} is not authorized to perform: {action} on this "
            "resource because no resource-based policy allows the action"
        )
