"""Key lifecycle: CreateKey, DescribeKey, ListKeys, Enable/DisableKey, deletion, description."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from strongroom.kms import messages
from strongroom.kms.domain import key_specs
from strongroom.kms.domain.enums import KeySpec, KeyState, KeyUsage, Origin
from strongroom.kms.domain.ids import new_key_id, new_material_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import (
    UnsupportedOperationException,
    ValidationException,
)
from strongroom.kms.service.custom_key_stores import create_key_in_store, owned_store
from strongroom.kms.service.external_key_stores import new_external_key
from strongroom.kms.service.importing import restored_state
from strongroom.kms.service.key_policies import check_key_policy, check_lockout
from strongroom.kms.service.metadata import is_primary, key_metadata, multi_region_members
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
    origin = request.get("Origin", Origin.AWS_KMS.value)
    if origin != Origin.EXTERNAL_KEY_STORE.value and request.get("XksKeyId") is not None:
        raise ValidationException("XksKeyId is valid only with Origin EXTERNAL_KEY_STORE.")
    if origin == Origin.EXTERNAL_KEY_STORE.value:
        return _create_key_in_external_store(call)
    if origin == Origin.AWS_CLOUDHSM.value or request.get("CustomKeyStoreId") is not None:
        return _create_key_in_custom_store(call)
    spec, usage = _key_spec(call)
    if origin not in (Origin.AWS_KMS.value, Origin.EXTERNAL.value):
        raise UnsupportedOperationException(f"Origin {origin} is not supported yet.")
    # BYOK: a key for imported material waits in PendingImport, with no material yet.
    external = origin == Origin.EXTERNAL.value
    multi = bool(request.get("MultiRegion"))
    if multi and external:
        raise UnsupportedOperationException(
            "Multi-Region keys with imported key material (Origin EXTERNAL) are not supported "
            "by this server yet."
        )
    policy = _checked_policy(call)
    tags = tags_from_request(request.get("Tags"))
    record = KeyRecord(
        key_id=new_key_id(multi_region=multi),
        account_id=call.caller.account_id,
        region=call.region,
        created_at=ctx.clock.now(),
        state=KeyState.PENDING_IMPORT if external else KeyState.ENABLED,
        description=request.get("Description", ""),
        key_spec=spec,
        key_usage=usage,
        origin=Origin(origin),
        current_material_id=None if external else new_material_id(),
        policy=policy or default_key_policy(call.caller.account_id),
        primary_region=call.region if multi else None,
    )
    if policy is not None:
        check_lockout(call, record)
    wrapped = (
        b""
        if record.current_material_id is None
        else ctx.store.new_material(record.material_binding, record.current_material_id, spec)
    )
    call.extra_resources.append(record.arn)  # before the write: its audit event names the key
    ctx.keys.create_key(record, ctx.store.store_id, wrapped, tags)
    return _created(call, record)


def _checked_policy(call: Call) -> str | None:
    policy: str | None = call.request.get("Policy")
    if policy is not None:
        check_key_policy(call, policy)
    return policy


def _create_key_in_custom_store(call: Call) -> Response:
    """The key's material is generated in the custom key store's HSM cluster, and stays there."""
    ctx = call.ctx
    policy = _checked_policy(call)
    tags = tags_from_request(call.request.get("Tags"))
    record = create_key_in_store(
        call,
        policy=policy or default_key_policy(call.caller.account_id),
        description=call.request.get("Description", ""),
    )
    assert record.current_material_id is not None and record.custom_key_store_id is not None
    if policy is not None:
        check_lockout(call, record)
    assert ctx.custom_stores is not None
    store = ctx.custom_stores.key_store(record.custom_key_store_id)
    reference = store.new_material(record.arn, record.current_material_id)
    call.extra_resources.append(record.arn)
    try:
        ctx.keys.create_key(record, store.store_id, reference, tags)
    except BaseException:
        ctx.custom_stores.destroy_key(record.custom_key_store_id, record.arn)
        raise
    return _created(call, record)


def _create_key_in_external_store(call: Call) -> Response:
    """Double encryption: material generated here (wrapped under the root key, like any key's)
    and the external key the proxy holds, checked through the proxy's GetKeyMetadata."""
    ctx = call.ctx
    store_id = call.request.get("CustomKeyStoreId")
    if store_id is None:  # as for Origin AWS_CLOUDHSM without a store
        raise UnsupportedOperationException(
            "Origin EXTERNAL_KEY_STORE needs a CustomKeyStoreId naming the external key store."
        )
    store = owned_store(call, store_id)
    policy = _checked_policy(call)
    tags = tags_from_request(call.request.get("Tags"))
    record = new_external_key(
        call,
        store,
        policy=policy or default_key_policy(call.caller.account_id),
        description=call.request.get("Description", ""),
    )
    assert record.current_material_id is not None
    if policy is not None:
        check_lockout(call, record)
    wrapped = ctx.store.new_material(record.material_binding, record.current_material_id)
    call.extra_resources.append(record.arn)
    ctx.keys.create_key(record, ctx.store.store_id, wrapped, tags)
    return _created(call, record)


def _created(call: Call, record: KeyRecord) -> Response:
    call.ctx.cache.put_key(record)
    return {"KeyMetadata": key_metadata(call.ctx, record)}


def describe_key(call: Call) -> Response:
    return {"KeyMetadata": key_metadata(call.ctx, call.key)}


def list_keys(call: Call) -> Response:
    account = call.caller.account_id
    items, paging = page(
        lambda after, limit: call.ctx.keys.list_keys(account, call.region, after, limit),
        lambda key: key.record_id,
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
        constraint = messages.bound_constraint("value", word, bound)
        raise ValidationException(
            messages.validation_errors(
                [messages.violation(f" '{days}'", "pendingWindowInDays", constraint)]
            )
        )
    when = call.ctx.clock.now() + timedelta(days=days)
    # A multi-Region primary with replicas waits for their deletion; its own window starts
    # when the last one is gone (storage/multi_region.release_primary).
    waits = len(multi_region_members(call.ctx, call.key)) > 1 and is_primary(call.key)
    state = KeyState.PENDING_REPLICA_DELETION if waits else KeyState.PENDING_DELETION
    updated = transition(
        call,
        OpClass.SCHEDULE_DELETION,
        lambda k: replace(
            k, state=state, deletion_date=None if waits else when, pending_window_days=days
        ),
    )
    response: Response = {
        "KeyId": updated.arn,
        "KeyState": updated.state.value,
        "PendingWindowInDays": days,
    }
    if not waits:
        response["DeletionDate"] = when.timestamp()
    return response


def cancel_key_deletion(call: Call) -> Response:
    # A key still missing imported material returns to PendingImport, not Disabled.
    restored = restored_state(call.ctx, call.key)
    updated = transition(call, OpClass.CANCEL_DELETION, lambda k: k.with_state(restored))
    return {"KeyId": updated.arn}


def update_key_description(call: Call) -> Response:
    description = call.request["Description"]
    transition(call, OpClass.MODIFY, lambda k: replace(k, description=description))
    return {}


OPERATIONS = (
    # RSA key generation, or token objects in a custom key store's HSMs.
    Operation("CreateKey", create_key, action="kms:CreateKey", blocking=True),
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
