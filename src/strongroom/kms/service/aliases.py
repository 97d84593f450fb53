"""CreateAlias, UpdateAlias, DeleteAlias, ListAliases."""

from __future__ import annotations

from strongroom.kms.domain.ids import alias_arn, check_alias_name
from strongroom.kms.domain.key import AliasRecord, KeyRecord
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import AlreadyExistsException, NotFoundException, ValidationException
from strongroom.kms.service.paging import page
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response
from strongroom.kms.storage.database import DuplicateRecord


def _not_found(call: Call, name: str) -> NotFoundException:
    arn = alias_arn(call.ctx.region, call.caller.account_id, name)
    return NotFoundException(f"Alias {arn} is not found.")


def create_alias(call: Call) -> Response:
    name = call.request["AliasName"]
    check_alias_name(name)
    ctx, account = call.ctx, call.caller.account_id
    now = ctx.clock.now()
    call.extra_resources.append(alias_arn(ctx.region, account, name))  # named by its event
    try:
        ctx.keys.create_alias(AliasRecord(account, name, call.key.key_id, now, now))
    except DuplicateRecord:
        raise AlreadyExistsException(
            f"An alias with the name {alias_arn(ctx.region, account, name)} already exists"
        ) from None
    ctx.cache.forget_alias(account, name)
    return {}


def update_alias(call: Call) -> Response:
    name = call.request["AliasName"]
    check_alias_name(name)
    ctx, account = call.ctx, call.caller.account_id
    new, current = call.keys
    assert new is not None and current is not None
    if _kind(new) != _kind(current):
        raise ValidationException(
            f"{new.arn} cannot replace {current.arn} as the target of {name}: an alias moves "
            "only to a key of the same type (symmetric, asymmetric or HMAC) and key usage."
        )
    if not ctx.keys.update_alias(account, name, new.key_id, ctx.clock.now()):
        raise _not_found(call, name)
    ctx.cache.forget_alias(account, name)
    return {}


def _kind(key: KeyRecord) -> tuple[str, str]:
    spec = key.key_spec.value
    family = (
        "symmetric"
        if spec == "SYMMETRIC_DEFAULT"
        else ("hmac" if spec.startswith("HMAC") else "asymmetric")
    )
    return family, key.key_usage.value


def delete_alias(call: Call) -> Response:
    name = call.request["AliasName"]
    ctx, account = call.ctx, call.caller.account_id
    if not ctx.keys.delete_alias(account, name, ctx.clock.now()):
        raise _not_found(call, name)
    ctx.cache.forget_alias(account, name)
    return {}


def list_aliases(call: Call) -> Response:
    ctx, account = call.ctx, call.caller.account_id
    key = call.keys[0]
    key_id = None if key is None else key.key_id
    items, paging = page(
        lambda after, limit: ctx.keys.list_aliases(account, key_id, after, limit),
        lambda alias: alias.alias_name,
        call.request.get("Limit", 50),
        call.request.get("Marker"),
    )
    return {"Aliases": [a.listing(ctx.region) for a in items], **paging}


OPERATIONS = (
    # As in AWS, alias operations need the action on the alias (identity policies) and on
    # every key involved (key policies): for UpdateAlias both the new and the current target.
    Operation(
        "CreateAlias",
        create_alias,
        (KeyAccess("TargetKeyId", "kms:CreateAlias", OpClass.MODIFY, aliases=False, fresh=True),),
        alias_resource="AliasName",
    ),
    Operation(
        "UpdateAlias",
        update_alias,
        (
            KeyAccess("TargetKeyId", "kms:UpdateAlias", OpClass.MODIFY, aliases=False, fresh=True),
            KeyAccess("AliasName", "kms:UpdateAlias", OpClass.READ, fresh=True),
        ),
        alias_resource="AliasName",
    ),
    Operation(
        "DeleteAlias",
        delete_alias,
        (KeyAccess("AliasName", "kms:DeleteAlias", OpClass.READ, fresh=True),),
        alias_resource="AliasName",
    ),
    Operation(
        "ListAliases",
        list_aliases,
        (KeyAccess("KeyId", "kms:ListAliases", OpClass.READ, aliases=False, required=False),),
    ),
)
