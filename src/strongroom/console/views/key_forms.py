"""Forms that change keys: create (administrators apart from users), policy, deletion, state.

Each form is one or two KMS calls as the signed-in principal; a refusal is shown on the page
that sent the form, with the KMS's own error code and message.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

from strongroom.console.http import Response, redirect
from strongroom.console.kms import KmsCallError
from strongroom.console.pages import Page, PageContext
from strongroom.console.views.keys import key_detail

ACTIONS = {
    "enable": "EnableKey",
    "disable": "DisableKey",
    "rotate": "RotateKeyOnDemand",
    "enable-rotation": "EnableKeyRotation",
    "disable-rotation": "DisableKeyRotation",
    "cancel-deletion": "CancelKeyDeletion",
}


def key_page(key_id: str, done: str) -> Response:
    """Back to the key's page after a change, saying which one was made."""
    return redirect(f"/console/keys/{quote(key_id, safe='')}?done={done}")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def new_key_form(ctx: PageContext, values: dict[str, Any] | None = None) -> Page:
    return Page(
        "key_new.html",
        {"form": values or {"strict": True}, "error": None},
        title="Create a key",
    )


def create_key(ctx: PageContext) -> Page | Response:
    request = ctx.request
    administrators = _lines(request.field("administrators"))
    users = _lines(request.field("users"))
    strict = request.field("strict") == "on"
    alias = request.field("alias").strip()
    form = {
        "administrators": request.field("administrators"),
        "users": request.field("users"),
        "strict": strict,
        "alias": alias,
        "description": request.field("description"),
    }
    me = ctx.principal.arn
    notes = []
    if me not in administrators:
        if me in users:
            return _refused(
                form,
                "You are listed as a key user only; the creator of a key "
                "must be one of its administrators (to change its policy later).",
            )
        administrators.append(me)
        notes.append(f"You ({me}) were added as a key administrator: the creator must be one.")
    if alias and (not alias.startswith("alias/") or alias.startswith("alias/aws/")):
        return _refused(form, "An alias must start with 'alias/' and not with 'alias/aws/'.")
    try:
        policy = ctx.policy_template(ctx.principal.account_id, administrators, users, strict)
    except ValueError as error:
        return _refused(form, str(error))
    try:
        created = ctx.call("CreateKey", {"Policy": policy, "Description": form["description"]})
    except KmsCallError as error:
        return _refused(form, f"{error.code}: {error.message}")
    key_id = str(created["KeyMetadata"]["KeyId"])
    if alias:
        try:
            ctx.call("CreateAlias", {"AliasName": alias, "TargetKeyId": key_id})
        except KmsCallError as error:
            notes.append(f"The key was created, but not its alias: {error.code}: {error.message}")
    page = key_detail(ctx, key_id)
    return replace(page, values={**page.values, "notes": notes, "created": True})


def _refused(form: dict[str, Any], message: str) -> Page:
    return Page("key_new.html", {"form": form, "error": message}, 400, "Create a key")


def with_error(ctx: PageContext, key_id: str, error: KmsCallError, **extra: Any) -> Page:
    """The key's page again, with the KMS's refusal of a form shown above it."""
    page = key_detail(ctx, key_id, **extra)
    status = 403 if error.code == "AccessDeniedException" else 400
    return replace(page, values={**page.values, "action_error": error}, status=status)


def put_policy(ctx: PageContext, key_id: str) -> Page | Response:
    text = ctx.request.field("policy")
    try:
        ctx.call("PutKeyPolicy", {"KeyId": key_id, "PolicyName": "default", "Policy": text})
    except KmsCallError as error:
        return with_error(ctx, key_id, error, policy_draft=text)
    return key_page(key_id, "policy")


def schedule_deletion(ctx: PageContext, key_id: str) -> Page | Response:
    try:
        days = int(ctx.request.field("days") or "30")
    except ValueError:
        days = 0
    try:
        ctx.call("ScheduleKeyDeletion", {"KeyId": key_id, "PendingWindowInDays": days})
    except KmsCallError as error:
        return with_error(ctx, key_id, error)
    return key_page(key_id, "schedule-deletion")


def key_action(ctx: PageContext, key_id: str, action: str) -> Page | Response:
    operation = ACTIONS[action]
    try:
        ctx.call(operation, {"KeyId": key_id})
    except KmsCallError as error:
        return with_error(ctx, key_id, error)
    return key_page(key_id, action)
