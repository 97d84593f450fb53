"""Key policy templates: separation of duties between key administrators and key users.

:func:`separation_of_duties_policy` writes the key policy the AWS console writes for a
symmetric encryption key when you choose key administrators and key users:

1. ``Enable IAM User Permissions``: the account root, ``kms:*`` (delegation to IAM policies);
2. ``Allow access for Key Administrators``: manage, never use;
3. ``Allow use of the key``: use, never manage;
4. ``Allow attachment of persistent resources``: grants for AWS services only
   (``kms:GrantIsForAWSResource``, which is always false in Strongroom: no AWS service calls
   it, so this statement is inert and kept only to be the console's policy).

A statement whose principal list is empty is left out.

**Strict mode** (``strict=True``) leaves out statement 1. With it, the account's IAM
(identity) policies also decide: a key administrator whose identity policy allows ``kms:*``
could encrypt and decrypt through that delegation, and any principal of the account with such
a policy could do anything to the key. Without it the key policy alone decides: identity
policies cannot add anything (their explicit ``Deny`` still applies), administrators may manage
but not use, users may use but not manage. The price: nobody but the listed administrators can
ever change the policy, so a strict policy requires at least one administrator, and whoever
creates the key must be one of them (the server's lockout safety check refuses anything else).

Administrators can still give themselves use: ``kms:Create*`` includes ``kms:CreateGrant`` and
``kms:Put*`` includes ``kms:PutKeyPolicy``, as in AWS. Separation of duties here is the default,
and the audit trail shows every such change; it is not a barrier against an administrator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

CONSOLE_POLICY_ID = "key-consolepolicy-3"
"""The ``Id`` the AWS console gives this policy (kept in non-strict mode)."""
STRICT_POLICY_ID = "key-separation-of-duties-strict-1"
"""The ``Id`` of the strict variant, so a reader of the key policy sees which one it is."""

IAM_DELEGATION_SID = "Enable IAM User Permissions"
ADMINISTRATORS_SID = "Allow access for Key Administrators"
USERS_SID = "Allow use of the key"
PERSISTENT_RESOURCES_SID = "Allow attachment of persistent resources"

ADMINISTRATOR_ACTIONS = (
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
    "kms:RotateKeyOnDemand",
)
USER_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
)
PERSISTENT_RESOURCE_ACTIONS = ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant")

_ACCOUNT_ID = re.compile(r"\d{12}", re.ASCII)
_NAME = r"[\w+=,.@-]+"
# IAM users and roles only, as the console offers: an account root or "*" here would hand
# administration (or use) to every principal of an account, which is what this template avoids.
_USER_OR_ROLE_ARN = re.compile(
    rf"arn:aws:iam::\d{{12}}:(?:user|role)/(?:{_NAME}/)*{_NAME}", re.ASCII
)


def separation_of_duties_policy(
    account_id: str,
    administrators: Sequence[str],
    users: Sequence[str],
    *,
    strict: bool = False,
) -> str:
    """The key policy (JSON text) separating key administrators from key users.

    ``account_id`` is the key's account; ``administrators`` and ``users`` are IAM user or role
    ARNs (duplicates are dropped, order kept). One principal is written as a string and several
    as a list, as the console does. ``strict`` leaves out the IAM delegation statement (see the
    module documentation). Raises ``ValueError`` for a malformed account id or ARN, and for a
    strict policy without administrators (nobody could ever change or delete the key).
    """
    if not _ACCOUNT_ID.fullmatch(account_id):
        raise ValueError(f"account id {account_id!r} is not 12 digits")
    admins = _principals(administrators, "key administrator")
    key_users = _principals(users, "key user")
    if strict and not admins:
        raise ValueError(
            "a strict key policy needs at least one key administrator: without one nobody "
            "could ever change the policy or delete the key"
        )
    statements: list[dict[str, object]] = []
    if not strict:
        statements.append(
            _statement(IAM_DELEGATION_SID, [f"arn:aws:iam::{account_id}:root"], "kms:*")
        )
    if admins:
        statements.append(_statement(ADMINISTRATORS_SID, admins, list(ADMINISTRATOR_ACTIONS)))
    if key_users:
        statements.append(_statement(USERS_SID, key_users, list(USER_ACTIONS)))
        attachment = _statement(
            PERSISTENT_RESOURCES_SID, key_users, list(PERSISTENT_RESOURCE_ACTIONS)
        )
        attachment["Condition"] = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
        statements.append(attachment)
    if not statements:
        raise ValueError("the key policy would have no statement: name administrators or users")
    policy = {
        "Version": "2012-10-17",
        "Id": STRICT_POLICY_ID if strict else CONSOLE_POLICY_ID,
        "Statement": statements,
    }
    return json.dumps(policy, indent=2)


def _principals(arns: Sequence[str], role: str) -> list[str]:
    if isinstance(arns, str):  # a str is a Sequence too: one ARN, not its characters
        raise TypeError(f"pass the {role} ARNs as a list, not a string")
    chosen: list[str] = []
    for arn in arns:
        if not _USER_OR_ROLE_ARN.fullmatch(arn):
            raise ValueError(
                f"{role} {arn!r} is not an IAM user or role ARN "
                "(arn:aws:iam::<account>:user/<name> or arn:aws:iam::<account>:role/<name>)"
            )
        if arn not in chosen:
            chosen.append(arn)
    return chosen


def _statement(sid: str, principals: list[str], actions: str | list[str]) -> dict[str, object]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
        "Action": actions,
        "Resource": "*",
    }
