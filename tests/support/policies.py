"""Building key policies and identity (IAM) policies for authorization tests."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

VERSION = "2012-10-17"

# The AWS console's "key administrators" statement.
ADMIN_ACTIONS = (
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)
# The AWS console's "key users" statement.
USER_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
)

Statement = dict[str, Any]
Condition = Mapping[str, Mapping[str, object]]


def user_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:user/{name}"


def role_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def root_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def _actions(actions: str | Sequence[str]) -> str | list[str]:
    return actions if isinstance(actions, str) else list(actions)


def key_statement(
    effect: str,
    principal: str | Sequence[str],
    actions: str | Sequence[str],
    condition: Condition | None = None,
    sid: str | None = None,
) -> Statement:
    """A key-policy statement; ``principal`` is ``"*"``, an ARN or a list of ARNs."""
    statement: Statement = {}
    if sid is not None:
        statement["Sid"] = sid
    statement["Effect"] = effect
    if principal == "*":
        statement["Principal"] = "*"
    else:
        statement["Principal"] = {"AWS": _actions(principal)}
    statement["Action"] = _actions(actions)
    statement["Resource"] = "*"
    if condition is not None:
        statement["Condition"] = {op: dict(keys) for op, keys in condition.items()}
    return statement


def allow(
    principal: str | Sequence[str],
    actions: str | Sequence[str],
    condition: Condition | None = None,
    sid: str | None = None,
) -> Statement:
    return key_statement("Allow", principal, actions, condition, sid)


def deny(
    principal: str | Sequence[str],
    actions: str | Sequence[str],
    condition: Condition | None = None,
    sid: str | None = None,
) -> Statement:
    return key_statement("Deny", principal, actions, condition, sid)


def enable_iam(account: str) -> Statement:
    """AWS's default statement: the account's IAM policies decide."""
    return allow(root_arn(account), "kms:*", sid="Enable IAM User Permissions")


def key_policy(*statements: Statement) -> str:
    return json.dumps({"Version": VERSION, "Statement": list(statements)}, indent=2)


def iam_statement(
    effect: str,
    actions: str | Sequence[str],
    resource: str | Sequence[str] = "*",
    condition: Condition | None = None,
    sid: str | None = None,
) -> Statement:
    """An identity-policy statement (no Principal)."""
    statement: Statement = {}
    if sid is not None:
        statement["Sid"] = sid
    statement["Effect"] = effect
    statement["Action"] = _actions(actions)
    statement["Resource"] = _actions(resource)
    if condition is not None:
        statement["Condition"] = {op: dict(keys) for op, keys in condition.items()}
    return statement


def iam_policy(*statements: Statement) -> str:
    return json.dumps({"Version": VERSION, "Statement": list(statements)})
