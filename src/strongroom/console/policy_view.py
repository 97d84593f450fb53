"""A key policy read for people: who administers the key, who uses it, who else has access.

Only a reading aid next to the policy's text, which stays the authority: a statement is put
with the administrators when its actions manage the key (policy, deletion, enable/disable) and
with the users when they use it (encrypt, decrypt, data keys, sign); ``kms:*`` does both.
Conditions are shown, not evaluated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

MANAGE = ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:CreateAlias")
USE = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:Sign", "kms:GenerateMac")


@dataclass(frozen=True, slots=True)
class StatementView:
    sid: str
    effect: str
    principals: tuple[str, ...]
    actions: tuple[str, ...]
    manages: bool
    uses: bool
    conditional: bool


@dataclass(frozen=True, slots=True)
class Roles:
    administrators: tuple[str, ...]
    users: tuple[str, ...]
    statements: tuple[StatementView, ...]


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return ()


def _principals(value: Any) -> tuple[str, ...]:
    if value == "*":
        return ("*",)
    if isinstance(value, dict):
        found: list[str] = []
        for kind in ("AWS", "Service"):
            found.extend(_strings(value.get(kind)))
        return tuple(found)
    return ()


def _matches(patterns: tuple[str, ...], actions: tuple[str, ...]) -> bool:
    return any(fnmatchcase(a.lower(), p.lower()) for p in patterns for a in actions)


def roles_of(policy_text: str) -> Roles | None:
    """The roles a policy gives; None when the text is not a JSON policy document."""
    try:
        document = json.loads(policy_text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    raw = document.get("Statement", [])
    statements = [raw] if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    views: list[StatementView] = []
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        actions = _strings(statement.get("Action"))
        views.append(
            StatementView(
                sid=str(statement.get("Sid", "")),
                effect=str(statement.get("Effect", "")),
                principals=_principals(statement.get("Principal")),
                actions=actions,
                manages=_matches(actions, MANAGE),
                uses=_matches(actions, USE),
                conditional="Condition" in statement,
            )
        )
    allowed = [v for v in views if v.effect == "Allow" and not v.conditional]
    return Roles(
        administrators=tuple(sorted({p for v in allowed if v.manages for p in v.principals})),
        users=tuple(sorted({p for v in allowed if v.uses for p in v.principals})),
        statements=tuple(views),
    )
