"""CreateAlias, UpdateAlias, DeleteAlias, ListAliases."""

from __future__ import annotations

from strongroom.kms import messages
from strongroom.kms.domain.ids import alias_arn, check_alias_name
from strongroom.kms.domain.key import AliasRecord, KeyRecord
from strongroom.kms.domain.managed import SERVICES
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import AlreadyExistsException, NotFoundException, ValidationException
from strongroom.kms.service.paging import page
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response
from strongroom.kms.storage.database import DuplicateRecord


def _not_found(call: Call, name: str) -> NotFoundException:
    arn = alias_arn(call.region, call.caller.account_id, name)
    return NotFoundException(messages.alias_not_found(arn))


def create_alias(call: Call) -> Response:
    name = call.request["AliasName"]
    check_alias_name(name)
    ctx, account, region = call.ctx, call.caller.account_id, call.region
    now = ctx.clock.now()
    call.extra_resources.append(alias_arn(region, account, name))  # named by its event
    try:
        ctx.keys.create_alias(AliasRecord(account, region, name, call.key.key_id, now, now))
    except DuplicateRecord:
        raise AlreadyExistsException(
            messages.alias_exists(alias_arn(region, account, name))
        ) from None
    ctx.cache.forget_alias(account, region, name)
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
    if not ctx.keys.update_alias(account, call.region, name, new.record_id, ctx.clock.now()):
        raise _not_found(call, name)
    ctx.cache.forget_alias(account, call.region, name)
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
    if not ctx.keys.delete_alias(account, call.region, name, ctx.clock.now()):
        raise _not_found(call, name)
    ctx.cache.forget_alias(account, call.region, name)
    return {}


Entry = tuple[str, dict[str, object]]


def list_aliases(call: Call) -> Response:
    """The account's aliases in the call's region, with AWS's predefined ``alias/aws/*`` names
    among them (without a TargetKeyId until their AWS managed key exists), as AWS lists them."""
    ctx, account = call.ctx, call.caller.account_id
    key = call.keys[0]
    key_id = None if key is None else key.record_id

    def fetch(after: str | None, limit: int) -> list[Entry]:
        rows = [
            (a.alias_name, a.listing())
            for a in ctx.keys.list_aliases(account, call.region, key_id, after, limit)
        ]
        if key_id is None:
            rows += _predefined_without_key(call, {name for name, _ in rows}, after)
            rows.sort(key=lambda row: row[0])
        return rows[:limit]

    items, paging = page(
        fetch, lambda row: row[0], call.request.get("Limit", 50), call.request.get("Marker")
    )
    return {"Aliases": [listing for _, listing in items], **paging}


def _predefined_without_key(call: Call, listed: set[str], after: str | None) -> list[Entry]:
    ctx, account, region = call.ctx, call.caller.account_id, call.region
    return [
        (name, {"AliasName": name, "AliasArn": alias_arn(region, account, name)})
        for name in (service.alias_name for service in SERVICES.values())
        if (after is None or name > after)
        and name not in listed
        and ctx.cache.alias_target(account, region, name) is None
    ]


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
