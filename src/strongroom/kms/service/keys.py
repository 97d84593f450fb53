"""Key lifecycle: CreateKey, DescribeKey, ListKeys, Enable/DisableKey, deletion, description."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from strongroom.kms.domain import key_specs
from strongroom.kms.domain.enums import KeySpec, KeyState, KeyUsage, Origin
from strongroom.kms.domain.ids import new_key_id, new_material_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import (
    CustomKeyStoreNotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from strongroom.kms.service.key_policies import check_key_policy, check_lockout
from strongroom.kms.service.paging import page
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response, managed_key
from strongroom.kms.service.tags import tags_from_request
from strongroom.kms.service.transitions import transition

_DEFAULT_KEY_POLICY = """{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::ACCOUNT_ID:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}"""
MIN_PENDING_WINDOW_DAYS = 7
MAX_PENDING_WINDOW_DAYS = 30


def default_key_policy(account_id: str) -> str:
    """The policy AWS gives a key created without one: the account's IAM policies decide.

    Byte for byte as AWS returns it from GetKeyPolicy (its JSON printer puts spaces around
    colons and writes ``[ {``), so tools that compare policy text see no drift.
    """
    return _DEFAULT_KEY_POLICY.replace("ACCOUNT_ID", account_id)


def _key_spec(call: Call) -> tuple[KeySpec, KeyUsage]:
    spec = call.request.get("KeySpec")
    legacy = call.request.get("CustomerMasterKeySpec")
    if spec is not None and legacy is not None and spec != legacy:
        raise ValidationException(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
            "CustomerMasterKeySpec is deprecated."
        )
    chosen = spec or legacy or KeySpec.SYMMETRIC_DEFAULT.value
    return key_specs.spec_and_usage(chosen, call.request.get("KeyUsage"))


def create_key(call: Call) -> Response:
    request, ctx = call.request, call.ctx
    spec, usage = _key_spec(call)
    origin = request.get("Origin", Origin.AWS_KMS.value)
    if origin != Origin.AWS_KMS.value:
        raise UnsupportedOperationException(f"Origin {origin} is not supported yet.")
    if request.get("CustomKeyStoreId") is not None:
        raise CustomKeyStoreNotFoundException(
            f"Custom key store {request['CustomKeyStoreId']} does not exist."
        )
    if request.get("MultiRegion"):
        raise UnsupportedOperationException("Multi-Region keys are not supported.")
    policy = request.get("Policy")
    if policy is not None:
        check_key_policy(call, policy)
    tags = tags_from_request(request.get("Tags"))
    record = KeyRecord(
        key_id=new_key_id(),
        account_id=call.caller.account_id,
        region=ctx.region,
        created_at=ctx.clock.now(),
        state=KeyState.ENABLED,
        description=request.get("Description", ""),
        key_spec=spec,
        key_usage=usage,
        current_material_id=new_material_id(),
        policy=policy or default_key_policy(call.caller.account_id),
    )
    assert record.current_material_id is not None
    if policy is not None:
        check_lockout(call, record)
    wrapped = ctx.store.new_material(record.arn, record.current_material_id, spec)
    call.extra_resources.append(record.arn)  # before the write: its audit event names the key
    ctx.keys.create_key(record, ctx.store.store_id, wrapped, tags)
    ctx.cache.put_key(record)
    return {"KeyMetadata": record.metadata()}


def describe_key(call: Call) -> Response:
    return {"KeyMetadata": call.key.metadata()}


def list_keys(call: Call) -> Response:
    account = call.caller.account_id
    items, paging = page(
        lambda after, limit: call.ctx.keys.list_keys(account, after, limit),
        lambda key: key.key_id,
        call.request.get("Limit", 100),
        call.request.get("Marker"),
    )
    return {"Keys": [{"KeyId": k.key_id, "KeyArn": k.arn} for k in items], **paging}


def enable_key(call: Call) -> Response:
    transition(call, OpClass.ENABLE_DISABLE, lambda k: k.with_state(KeyState.ENABLED))
    return {}


def disable_key(call: Call) -> Response:
    transition(call, OpClass.ENABLE_DISABLE, lambda k: k.with_state(KeyState.DISABLED))
    return {}


def schedule_key_deletion(call: Call) -> Response:
    days = call.request.get("PendingWindowInDays", MAX_PENDING_WINDOW_DAYS)
    if not MIN_PENDING_WINDOW_DAYS <= days <= MAX_PENDING_WINDOW_DAYS:
        bound, word = (
            (MIN_PENDING_WINDOW_DAYS, "greater")
            if days < MIN_PENDING_WINDOW_DAYS
            else (MAX_PENDING_WINDOW_DAYS, "less")
        )
        raise ValidationException(
            f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to "
            f"satisfy constraint: Member must have value {word} than or equal to {bound}"
        )
    when = call.ctx.clock.now() + timedelta(days=days)
    updated = transition(
        call,
        OpClass.SCHEDULE_DELETION,
        lambda k: replace(
            k, state=KeyState.PENDING_DELETION, deletion_date=when, pending_window_days=days
        ),
    )
    return {
        "KeyId": updated.arn,
        "DeletionDate": when.timestamp(),
        "KeyState": updated.state.value,
        "PendingWindowInDays": days,
    }


def cancel_key_deletion(call: Call) -> Response:
    updated = transition(call, OpClass.CANCEL_DELETION, lambda k: k.with_state(KeyState.DISABLED))
    return {"KeyId": updated.arn}


def update_key_description(call: Call) -> Response:
    description = call.request["Description"]
    transition(call, OpClass.MODIFY, lambda k: replace(k, description=description))
    return {}


OPERATIONS = (
    Operation("CreateKey", create_key, action="kms:CreateKey"),
    Operation("DescribeKey", describe_key, (KeyAccess("KeyId", "kms:DescribeKey", OpClass.READ),)),
    Operation("ListKeys", list_keys, action="kms:ListKeys"),
    Operation("EnableKey", enable_key, managed_key("kms:EnableKey", OpClass.ENABLE_DISABLE)),
    Operation("DisableKey", disable_key, managed_key("kms:DisableKey", OpClass.ENABLE_DISABLE)),
    Operation(
        "ScheduleKeyDeletion",
        schedule_key_deletion,
        managed_key("kms:ScheduleKeyDeletion", OpClass.SCHEDULE_DELETION),
    ),
    Operation(
        "CancelKeyDeletion",
        cancel_key_deletion,
        managed_key("kms:CancelKeyDeletion", OpClass.CANCEL_DELETION),
    ),
    Operation(
        "UpdateKeyDescription",
        update_key_description,
        managed_key("kms:UpdateKeyDescription", OpClass.MODIFY),
    ),
)
