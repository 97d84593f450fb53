"""Forms that edit a key's attachments: aliases, tags, grants, rotation period, description,
imported material.

Each form is one KMS call as the signed-in principal (CreateAlias, DeleteAlias, TagResource,
UntagResource, CreateGrant, RevokeGrant, RetireGrant, EnableKeyRotation, UpdateKeyDescription,
DeleteImportedKeyMaterial). The console checks only what it must to build the request (a JSON
object where JSON is asked for, a number where a number is); the KMS validates the rest and
its refusal is shown on the key's page with the form's values kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from strongroom.console.http import Response
from strongroom.console.kms import KmsCallError
from strongroom.console.pages import Page, PageContext
from strongroom.console.views.key_forms import key_page, with_error


class FormError(ValueError):
    """A field the console cannot turn into a request (the KMS never sees it)."""


def _run(
    ctx: PageContext, key_id: str, done: str, build: Callable[[], tuple[str, dict[str, Any]]]
) -> Page | Response:
    try:
        operation, request = build()
        ctx.call(operation, request)
    except FormError as error:
        refusal = KmsCallError("Not sent", str(error))
        return with_error(ctx, key_id, refusal, form=dict(ctx.request.form))
    except KmsCallError as error:
        return with_error(ctx, key_id, error, form=dict(ctx.request.form))
    return key_page(key_id, done)


def _required(ctx: PageContext, name: str, label: str) -> str:
    value = ctx.request.field(name).strip()
    if not value:
        raise FormError(f"{label} is required.")
    return value


def create_alias(ctx: PageContext, key_id: str) -> Page | Response:
    def build() -> tuple[str, dict[str, Any]]:
        name = _required(ctx, "alias", "The alias name")
        if not name.startswith("alias/"):
            name = f"alias/{name}"
        return "CreateAlias", {"AliasName": name, "TargetKeyId": key_id}

    return _run(ctx, key_id, "create-alias", build)


def delete_alias(ctx: PageContext, key_id: str) -> Page | Response:
    return _run(
        ctx,
        key_id,
        "delete-alias",
        lambda: ("DeleteAlias", {"AliasName": _required(ctx, "alias", "The alias name")}),
    )


def tag(ctx: PageContext, key_id: str) -> Page | Response:
    def build() -> tuple[str, dict[str, Any]]:
        tag_key = _required(ctx, "tag_key", "The tag key")
        tag_value = ctx.request.field("tag_value")
        return "TagResource", {
            "KeyId": key_id,
            "Tags": [{"TagKey": tag_key, "TagValue": tag_value}],
        }

    return _run(ctx, key_id, "tag", build)


def untag(ctx: PageContext, key_id: str) -> Page | Response:
    return _run(
        ctx,
        key_id,
        "untag",
        lambda: (
            "UntagResource",
            {"KeyId": key_id, "TagKeys": [_required(ctx, "tag_key", "The tag key")]},
        ),
    )


def _context_constraint(text: str) -> dict[str, Any] | None:
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise FormError("The encryption context must be a JSON object.") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise FormError('The encryption context must be a JSON object of strings: {"k": "v"}.')
    return value


def create_grant(ctx: PageContext, key_id: str) -> Page | Response:
    def build() -> tuple[str, dict[str, Any]]:
        request: dict[str, Any] = {
            "KeyId": key_id,
            "GranteePrincipal": _required(ctx, "grantee", "The grantee principal"),
            "Operations": [op for op in ctx.request.fields("operations") if op],
        }
        if not request["Operations"]:
            raise FormError("Choose at least one operation.")
        for field, member in (("retiring", "RetiringPrincipal"), ("name", "Name")):
            value = ctx.request.field(field).strip()
            if value:
                request[member] = value
        context = _context_constraint(ctx.request.field("context"))
        if context is not None:
            kind = ctx.request.field("context_kind")
            member = "EncryptionContextEquals" if kind == "equals" else "EncryptionContextSubset"
            request["Constraints"] = {member: context}
        return "CreateGrant", request

    return _run(ctx, key_id, "create-grant", build)


def revoke_grant(ctx: PageContext, key_id: str) -> Page | Response:
    grant = _grant_id(ctx)
    return _run(
        ctx, key_id, "revoke-grant", lambda: ("RevokeGrant", {"KeyId": key_id, "GrantId": grant()})
    )


def retire_grant(ctx: PageContext, key_id: str) -> Page | Response:
    grant = _grant_id(ctx)
    return _run(
        ctx, key_id, "retire-grant", lambda: ("RetireGrant", {"KeyId": key_id, "GrantId": grant()})
    )


def _grant_id(ctx: PageContext) -> Callable[[], str]:
    return lambda: _required(ctx, "grant_id", "The grant id")


def rotation_period(ctx: PageContext, key_id: str) -> Page | Response:
    def build() -> tuple[str, dict[str, Any]]:
        text = _required(ctx, "period", "The rotation period")
        try:
            days = int(text)
        except ValueError:
            raise FormError("The rotation period is a whole number of days.") from None
        return "EnableKeyRotation", {"KeyId": key_id, "RotationPeriodInDays": days}

    return _run(ctx, key_id, "rotation-period", build)


def describe(ctx: PageContext, key_id: str) -> Page | Response:
    return _run(
        ctx,
        key_id,
        "description",
        lambda: (
            "UpdateKeyDescription",
            {"KeyId": key_id, "Description": ctx.request.field("description")},
        ),
    )


def delete_imported_material(ctx: PageContext, key_id: str) -> Page | Response:
    return _run(
        ctx,
        key_id,
        "delete-imported-material",
        lambda: ("DeleteImportedKeyMaterial", {"KeyId": key_id}),
    )


EDITS: dict[str, Callable[[PageContext, str], Page | Response]] = {
    "aliases": create_alias,
    "aliases/delete": delete_alias,
    "tags": tag,
    "tags/delete": untag,
    "grants": create_grant,
    "grants/revoke": revoke_grant,
    "grants/retire": retire_grant,
    "rotation-period": rotation_period,
    "description": describe,
    "imported-material/delete": delete_imported_material,
}
