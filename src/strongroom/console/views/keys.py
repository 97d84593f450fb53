"""The keys list (with filters) and the key detail page."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from strongroom.console.http import Response, redirect
from strongroom.console.pages import Outcome, Page, PageContext
from strongroom.console.policy_view import roles_of
from strongroom.console.views.exposure import key_exposure
from strongroom.console.views.grant_operations import grant_operations

FILTERS = ("state", "spec", "origin", "store", "manager")
DEFAULT_STORE = "default"

# What the key page says after a form's change was made (``?done=``).
DONE = {
    "policy": "Policy saved.",
    "schedule-deletion": "Deletion scheduled.",
    "cancel-deletion": "Deletion cancelled: the key is disabled; enable it to use it again.",
    "enable": "Key enabled.",
    "disable": "Key disabled.",
    "rotate": "Rotation started: new material is in use for encryption.",
    "enable-rotation": "Automatic rotation turned on.",
    "disable-rotation": "Automatic rotation turned off.",
    "import": "Key material imported.",
    "create-alias": "Alias created.",
    "delete-alias": "Alias deleted.",
    "tag": "Tag saved.",
    "untag": "Tag removed.",
    "create-grant": "Grant created.",
    "revoke-grant": "Grant revoked.",
    "retire-grant": "Grant retired.",
    "rotation-period": "Automatic rotation turned on with the new period.",
    "description": "Description saved.",
    "delete-imported-material": "Imported key material deleted: the key is unusable until "
    "material is imported again.",
}


def _store(metadata: dict[str, Any]) -> str:
    return str(metadata.get("CustomKeyStoreId") or DEFAULT_STORE)


def _facets(metadata: dict[str, Any]) -> dict[str, str]:
    return {
        "state": str(metadata.get("KeyState", "")),
        "spec": str(metadata.get("KeySpec", "")),
        "origin": str(metadata.get("Origin", "")),
        "store": _store(metadata),
        "manager": str(metadata.get("KeyManager", "")),
    }


def keys_list(ctx: PageContext) -> Page | Response:
    wanted = ctx.request.query.get("key", "").strip()
    if wanted:
        return redirect(f"/console/keys/{quote(wanted, safe='')}")
    listed = ctx.pages("ListKeys", {}, "Keys")
    aliases = ctx.pages("ListAliases", {}, "Aliases")
    names: dict[str, list[str]] = {}
    for alias in aliases.value or []:
        if alias.get("TargetKeyId"):
            names.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
    chosen = {name: ctx.request.query[name] for name in FILTERS if name in ctx.request.query}
    rows: list[dict[str, Any]] = []
    options: dict[str, set[str]] = {name: set() for name in FILTERS}
    for entry in listed.value or []:
        described = ctx.attempt("DescribeKey", {"KeyId": entry["KeyId"]})
        metadata = described.value["KeyMetadata"] if described.value else {}
        facets = _facets(metadata) if metadata else {}
        for name, value in facets.items():
            options[name].add(value)
        if any(facets.get(name) != value for name, value in chosen.items()):
            continue
        rows.append(
            {
                "key_id": entry["KeyId"],
                "aliases": sorted(names.get(entry["KeyId"], [])),
                "metadata": metadata,
                "facets": facets,
                "error": described.error,
            }
        )
    return Page(
        "keys.html",
        {
            "rows": rows,
            "listed": listed,
            "aliases_error": aliases.error,
            "filters": FILTERS,
            "chosen": chosen,
            "options": {name: sorted(values) for name, values in options.items()},
        },
        title="Keys",
    )


def _policy_text(policy: Outcome[dict[str, Any]]) -> str:
    if policy.value is None:
        return ""
    text = str(policy.value.get("Policy", ""))
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


def key_detail(
    ctx: PageContext,
    key_id: str,
    *,
    policy_draft: str | None = None,
    form: dict[str, list[str]] | None = None,
) -> Page:
    """The key's page; after a refused form, ``form`` keeps what was typed."""
    described = ctx.attempt("DescribeKey", {"KeyId": key_id})
    if described.value is None:
        assert described.error is not None
        status = 404 if described.error.code == "NotFoundException" else 403
        return Page("key_denied.html", {"key_id": key_id, "error": described.error}, status)
    metadata = described.value["KeyMetadata"]
    key = {"KeyId": metadata["KeyId"]}
    policy = ctx.attempt("GetKeyPolicy", {**key, "PolicyName": "default"})
    symmetric = metadata.get("KeySpec") == "SYMMETRIC_DEFAULT"
    rotation = ctx.attempt("GetKeyRotationStatus", key)
    rotations = ctx.pages("ListKeyRotations", key, "Rotations", limit=100)
    aliases = ctx.pages("ListAliases", key, "Aliases")
    tags = ctx.pages("ListResourceTags", key, "Tags")
    grants = ctx.pages("ListGrants", key, "Grants", limit=100)
    policy_text = _policy_text(policy)
    return Page(
        "key.html",
        {
            "metadata": metadata,
            "policy": policy,
            "policy_text": policy_draft if policy_draft is not None else policy_text,
            "roles": roles_of(policy_text) if policy.ok else None,
            "rotation": rotation,
            "symmetric": symmetric,
            # Only these rotate automatically; GetKeyRotationStatus says false for the others.
            "rotatable": symmetric and metadata.get("Origin") == "AWS_KMS",
            "rotations": rotations,
            "aliases": aliases,
            "tags": tags,
            "grants": grants,
            "exposure": key_exposure(ctx, str(metadata["Arn"])),
            "windows": range(7, 31),
            "created": False,
            "notes": [DONE[done]] if (done := ctx.request.query.get("done", "")) in DONE else [],
            "action_error": None,
            "form": {name: values[0] for name, values in (form or {}).items() if values},
            "grant_operations": grant_operations(str(metadata.get("KeyUsage", ""))),
        },
        title=f"Key {metadata['KeyId']}",
    )
