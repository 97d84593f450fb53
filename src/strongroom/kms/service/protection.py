"""The tenant's protection policy and its M-of-N approvals (Strongroom extension operations).

``PutProtectionPolicy`` {RequiredApprovals, Approvers}: with no policy in force it applies at
once; once one is in force, changing it is itself a pending change that needs the current
policy's approvals (so no single principal can switch the requirement off).
``GetProtectionPolicy`` {}: the policy and the changes waiting for approval, so approvers see
exactly what they approve. ``ApproveProtectionChange`` {ChangeId}: one approval, by the caller
(SigV4 authenticated; the approver must be listed in the policy). The approval that reaches M
executes the change in the same transaction, once. See docs/adr/0009.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from strongroom.kms.domain.ids import key_arn, key_id_of_record
from strongroom.kms.domain.lineage import HsmLineage
from strongroom.kms.domain.protection import (
    CHANGE_LIFETIME,
    ChangeKind,
    ChangeStatus,
    ProtectionChange,
    ProtectionPolicy,
    counted,
    is_approved,
    principal_name,
)
from strongroom.kms.errors import (
    AccessDeniedException,
    AlreadyExistsException,
    KMSInvalidStateException,
    NotFoundException,
    ValidationException,
)
from strongroom.kms.service.caller import Caller
from strongroom.kms.service.pipeline import Call, Operation, Response
from strongroom.kms.storage.protection import DuplicateApproval
from strongroom.kms.storage.unit_of_work import Transaction

PUT_POLICY = "PutProtectionPolicy"
GET_POLICY = "GetProtectionPolicy"
APPROVE = "ApproveProtectionChange"
# The input members of each operation, by the model shapes that validate them.
INPUT_MEMBERS: dict[str, dict[str, str]] = {
    PUT_POLICY: {"RequiredApprovals": "LimitType", "Approvers": "TagKeyList"},
    GET_POLICY: {},
    APPROVE: {"ChangeId": "GrantIdType"},
}


def new_change(
    caller: Caller,
    kind: ChangeKind,
    parameters: dict[str, object],
    now: datetime,
    key_id: str | None = None,
) -> ProtectionChange:
    return ProtectionChange(
        change_id="pc-" + secrets.token_hex(16),
        account_id=caller.account_id,
        kind=kind,
        key_id=key_id,
        parameters=parameters,
        requested_by=caller.principal_arn,
        created_at=now,
        expires_at=now + CHANGE_LIFETIME,
    )


def pending_response(
    change: ProtectionChange, policy: ProtectionPolicy, approvals: list[str]
) -> Response:
    return {
        "ChangeId": change.change_id,
        "Status": ChangeStatus.PENDING_APPROVAL.value,
        "RequiredApprovals": policy.required_approvals,
        "Approvals": counted(approvals, policy),
        "ExpiresAt": change.expires_at.timestamp(),
    }


# --- PutProtectionPolicy --------------------------------------------------------------------


def _requested_policy(call: Call, now: datetime) -> ProtectionPolicy:
    request, account = call.request, call.caller.account_id
    if "RequiredApprovals" not in request or "Approvers" not in request:
        raise ValidationException("RequiredApprovals and Approvers are required.")
    policy = ProtectionPolicy(
        account, int(request["RequiredApprovals"]), tuple(request["Approvers"]), now
    )
    try:
        policy.check()
    except ValueError as error:
        raise ValidationException(str(error)) from None
    for arn in policy.approvers:
        named = principal_name(account, arn)
        assert named is not None  # checked above
        if call.ctx.identity.get_principal(account, named[1], named[0]) is None:
            raise ValidationException(f"Approver {arn} does not exist.")
    return policy


def put_protection_policy(call: Call) -> Response:
    now = call.ctx.clock.now()
    wanted = _requested_policy(call, now)
    with call.ctx.db.transaction() as tx:
        current = tx.protection.policy(wanted.account_id)
        if current is None:
            tx.protection.put_policy(wanted)
            return {"Status": "APPLIED", "ProtectionPolicy": wanted.describe()}
        parameters: dict[str, object] = {
            "RequiredApprovals": wanted.required_approvals,
            "Approvers": list(wanted.approvers),
        }
        change = new_change(call.caller, ChangeKind.PUT_PROTECTION_POLICY, parameters, now)
        tx.protection.add_change(change)
    return pending_response(change, current, [])


# --- GetProtectionPolicy --------------------------------------------------------------------


def _listing(region: str, change: ProtectionChange, approvals: list[str]) -> Response:
    entry: Response = {
        "ChangeId": change.change_id,
        "Kind": change.kind.value,
        "Parameters": change.parameters,
        "RequestedBy": change.requested_by,
        "CreatedAt": change.created_at.timestamp(),
        "ExpiresAt": change.expires_at.timestamp(),
        "Approvals": approvals,
    }
    if change.key_id is not None:
        # ``key_id`` is the key's record id; the change is listed in the call's region.
        entry["KeyArn"] = key_arn(region, change.account_id, key_id_of_record(change.key_id))
    return entry


def get_protection_policy(call: Call) -> Response:
    ctx, account = call.ctx, call.caller.account_id
    with ctx.db.read() as tx:
        policy = tx.protection.policy(account)
        pending = tx.protection.open_changes(account, ctx.clock.now())
    response: Response = {
        "PendingChanges": [
            _listing(call.region, change, approvals) for change, approvals in pending
        ]
    }
    if policy is not None:
        response["ProtectionPolicy"] = policy.describe()
    return response


# --- ApproveProtectionChange ----------------------------------------------------------------


def _open_change(tx: Transaction, call: Call, now: datetime) -> ProtectionChange:
    change_id = call.request.get("ChangeId")
    if change_id is None:
        raise ValidationException("ChangeId is required.")
    change = tx.protection.change(str(change_id))
    if change is None or change.account_id != call.caller.account_id:
        raise NotFoundException(f"Protection change {change_id} is not found.")
    status = change.status(now)
    if status is ChangeStatus.EXECUTED:
        raise KMSInvalidStateException(f"Protection change {change_id} is executed already.")
    if status is ChangeStatus.EXPIRED:
        raise KMSInvalidStateException(
            f"Protection change {change_id} expired at {change.expires_at.isoformat()}."
        )
    return change


def execute(tx: Transaction, change: ProtectionChange, now: datetime) -> None:
    """Run an approved change and spend it, in the caller's transaction."""
    if not tx.protection.mark_executed(change.change_id, now):
        raise KMSInvalidStateException(f"Protection change {change.change_id} is executed.")
    if change.kind is ChangeKind.PUT_PROTECTION_POLICY:
        approvers = change.parameters["Approvers"]
        assert isinstance(approvers, list)
        required = change.parameters["RequiredApprovals"]
        assert isinstance(required, int)
        policy = ProtectionPolicy(change.account_id, required, tuple(approvers), now)
        tx.protection.put_policy(policy)
        return
    assert change.key_id is not None
    lineage = HsmLineage.from_dict(change.parameters)
    if not tx.protection.set_lineage(change.key_id, lineage, now):
        raise AlreadyExistsException(
            f"The HSM lineage of key {change.key_id} is already recorded (or the key is gone); "
            "it cannot be changed."
        )


def approve_protection_change(call: Call) -> Response:
    now = call.ctx.clock.now()
    approver = call.caller.principal_arn
    with call.ctx.db.transaction() as tx:
        change = _open_change(tx, call, now)
        policy = tx.protection.policy(change.account_id)
        if policy is None or approver not in policy.approvers:
            raise AccessDeniedException(
                f"User: {approver} is not an approver in the protection policy of account "
                f"{change.account_id}."
            )
        try:
            tx.protection.add_approval(change.change_id, approver, now)
        except DuplicateApproval:
            raise AlreadyExistsException(
                f"{approver} has already approved protection change {change.change_id}."
            ) from None
        approvals = tx.protection.approvals(change.change_id)
        if not is_approved(approvals, policy):
            return pending_response(change, policy, approvals)
        execute(tx, change, now)
    return {
        "ChangeId": change.change_id,
        "Status": ChangeStatus.EXECUTED.value,
        "RequiredApprovals": policy.required_approvals,
        "Approvals": counted(approvals, policy),
    }


EXTENSIONS = (
    Operation(PUT_POLICY, put_protection_policy, action="kms:PutProtectionPolicy"),
    Operation(GET_POLICY, get_protection_policy, action="kms:GetProtectionPolicy"),
    Operation(APPROVE, approve_protection_change, action="kms:ApproveProtectionChange"),
)
