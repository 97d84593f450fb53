"""The separation-of-duties key policy template (the AWS console's, and its strict variant)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from strongroom.kms.domain.evaluation import Effect, EvalRequest, evaluate_key_policy
from strongroom.kms.domain.policy import parse_policy
from strongroom.kms.domain.policy_templates import (
    ADMINISTRATOR_ACTIONS,
    CONSOLE_POLICY_ID,
    STRICT_POLICY_ID,
    separation_of_duties_policy,
)
from tests.unit.kms.domain.test_policy import CONSOLE_KEY_POLICY

DOCS = Path(__file__).resolve().parents[4] / "docs" / "policies"
ACCOUNT = "111122223333"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ADMIN = f"arn:aws:iam::{ACCOUNT}:user/KeyAdmin"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"
USER = f"arn:aws:iam::{ACCOUNT}:user/KeyUser"
OTHER = f"arn:aws:iam::{ACCOUNT}:user/someone-else"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SIDS = [
    "Enable IAM User Permissions",
    "Allow access for Key Administrators",
    "Allow use of the key",
    "Allow attachment of persistent resources",
]
# What Strongroom answers for kms:GrantIsForAWSResource: no AWS service ever calls it.
NO_AWS_SERVICE = {"kms:grantisforawsresource": ("false",)}


def policy(
    administrators: list[str] | None = None, users: list[str] | None = None, *, strict: bool
) -> dict[str, Any]:
    text = separation_of_duties_policy(
        ACCOUNT,
        [ADMIN] if administrators is None else administrators,
        [USER] if users is None else users,
        strict=strict,
    )
    parse_policy(text, key_policy=True)  # every variant is a valid key policy
    document: dict[str, Any] = json.loads(text)
    return document


def statements(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


def test_non_strict_is_the_console_policy() -> None:
    """Compared with the console's policy as the policy-parser tests hold it (written there
    independently of this module)."""
    console = json.loads(CONSOLE_KEY_POLICY)
    users = console["Statement"][2]["Principal"]["AWS"]
    made = policy([ADMIN_ROLE], users, strict=False)
    assert made == console
    assert made["Id"] == CONSOLE_POLICY_ID
    assert [s["Sid"] for s in made["Statement"]] == SIDS


def test_the_statements() -> None:
    found = statements(policy(strict=False))
    assert found[SIDS[0]] == {
        "Sid": SIDS[0],
        "Effect": "Allow",
        "Principal": {"AWS": ROOT},
        "Action": "kms:*",
        "Resource": "*",
    }
    admins = found[SIDS[1]]
    assert admins["Principal"] == {"AWS": ADMIN}
    assert admins["Action"] == [
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
    ]
    use = found[SIDS[2]]
    assert use["Principal"] == {"AWS": USER}
    assert use["Action"] == [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:DescribeKey",
    ]
    attach = found[SIDS[3]]
    assert attach["Principal"] == {"AWS": USER}
    assert attach["Action"] == ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
    assert attach["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    for statement in found.values():
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] == "*"
        assert ("Condition" in statement) == (statement["Sid"] == SIDS[3])


def test_strict_leaves_out_only_the_iam_delegation() -> None:
    strict, console = policy(strict=True), policy(strict=False)
    assert strict["Id"] == STRICT_POLICY_ID
    assert [s["Sid"] for s in strict["Statement"]] == SIDS[1:]
    assert strict["Statement"] == console["Statement"][1:]
    assert ROOT not in json.dumps(strict)


def test_one_principal_is_a_string_several_a_list_duplicates_dropped() -> None:
    found = statements(policy([ADMIN, ADMIN_ROLE, ADMIN], [USER, USER], strict=True))
    assert found[SIDS[1]]["Principal"] == {"AWS": [ADMIN, ADMIN_ROLE]}
    assert found[SIDS[2]]["Principal"] == {"AWS": USER}
    assert found[SIDS[3]]["Principal"] == {"AWS": USER}


@pytest.mark.parametrize("strict", [True, False])
def test_statements_without_principals_are_left_out(strict: bool) -> None:
    no_users = policy(users=[], strict=strict)
    expected = [SIDS[1]] if strict else [SIDS[0], SIDS[1]]
    assert [s["Sid"] for s in no_users["Statement"]] == expected
    no_admins = policy(administrators=[], strict=False)
    assert [s["Sid"] for s in no_admins["Statement"]] == [SIDS[0], SIDS[2], SIDS[3]]
    only_iam = policy(administrators=[], users=[], strict=False)
    assert [s["Sid"] for s in only_iam["Statement"]] == [SIDS[0]]


def test_strict_needs_an_administrator() -> None:
    with pytest.raises(ValueError, match="at least one key administrator"):
        separation_of_duties_policy(ACCOUNT, [], [USER], strict=True)
    with pytest.raises(ValueError, match="at least one key administrator"):
        separation_of_duties_policy(ACCOUNT, [], [], strict=True)


@pytest.mark.parametrize(
    "principal",
    [
        ROOT,  # delegation to a whole account is what the template avoids
        ACCOUNT,
        "*",
        "KeyAdmin",
        "arn:aws:iam::1111:user/KeyAdmin",
        f"arn:aws:iam::{ACCOUNT}:group/admins",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/KeyAdmin/session",
        f"arn:aws:iam::{ACCOUNT}:user/Key*",
        f"arn:aws:iam::{ACCOUNT}:user/",
    ],
)
def test_only_user_and_role_arns(principal: str) -> None:
    with pytest.raises(ValueError, match="not an IAM user or role ARN"):
        separation_of_duties_policy(ACCOUNT, [principal], [], strict=False)
    with pytest.raises(ValueError, match="not an IAM user or role ARN"):
        separation_of_duties_policy(ACCOUNT, [ADMIN], [principal], strict=False)


def test_paths_and_other_accounts_are_allowed() -> None:
    pathed = f"arn:aws:iam::{ACCOUNT}:role/division/team/KeyAdmin"
    foreign = "arn:aws:iam::444455556666:user/partner"
    found = statements(policy([pathed], [foreign], strict=True))
    assert found[SIDS[1]]["Principal"] == {"AWS": pathed}
    assert found[SIDS[2]]["Principal"] == {"AWS": foreign}


@pytest.mark.parametrize("account", ["", "11112222333", "1111222233334", "11112222333x"])
def test_account_id_is_twelve_digits(account: str) -> None:
    with pytest.raises(ValueError, match="12 digits"):
        separation_of_duties_policy(account, [ADMIN], [USER])


def test_a_string_is_not_a_list_of_arns() -> None:
    with pytest.raises(TypeError):
        separation_of_duties_policy(ACCOUNT, ADMIN, [USER])


def decide(text: str, action: str, principal: str) -> tuple[Effect, bool]:
    document = parse_policy(text, key_policy=True)
    request = EvalRequest(action, KEY, principal, principal.split(":")[4], NO_AWS_SERVICE)
    result = evaluate_key_policy(document, request)
    return result.effect, result.via_account


MANAGE = [
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:PutKeyPolicy",
    "kms:GetKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:EnableKeyRotation",
    "kms:RotateKeyOnDemand",
    "kms:TagResource",
    "kms:UpdateKeyDescription",
    "kms:ListGrants",
    "kms:RevokeGrant",
    "kms:CreateGrant",  # kms:Create*: how an administrator can still give itself use
    "kms:CreateAlias",
]
USE = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
]


@pytest.mark.parametrize("strict", [True, False])
def test_administrators_manage_users_use(strict: bool) -> None:
    """The key policy alone (no identity policies): who may do what directly."""
    text = separation_of_duties_policy(ACCOUNT, [ADMIN], [USER], strict=strict)
    for action in MANAGE:
        assert decide(text, action, ADMIN) == (Effect.ALLOW, False), action
    for action in USE:
        assert decide(text, action, USER) == (Effect.ALLOW, False), action
    assert decide(text, "kms:DescribeKey", USER) == (Effect.ALLOW, False)
    # Anything else of the other role only through the account (the IAM delegation), which
    # strict mode leaves out.
    through_iam = (Effect.NONE, False) if strict else (Effect.ALLOW, True)
    for action in USE:
        assert decide(text, action, ADMIN) == through_iam, action
    for action in [a for a in MANAGE if a != "kms:DescribeKey"]:
        assert decide(text, action, USER) == through_iam, action
    assert decide(text, "kms:Encrypt", OTHER) == through_iam
    assert decide(text, "kms:PutKeyPolicy", OTHER) == through_iam


def test_every_administrator_action_is_a_management_action() -> None:
    for pattern in ADMINISTRATOR_ACTIONS:
        assert not any(use.lower().startswith(pattern.lower().rstrip("*")) for use in USE)


@pytest.mark.parametrize(
    ("name", "strict"),
    [("separation-of-duties.json", True), ("separation-of-duties-with-iam.json", False)],
)
def test_docs_policies_are_generated(name: str, strict: bool) -> None:
    """The files in docs/policies are the function's output (plus the newline that
    ``strongroom key policy-template > FILE`` writes)."""
    expected = separation_of_duties_policy(
        "111122223333",
        ["arn:aws:iam::111122223333:user/KeyAdmin"],
        ["arn:aws:iam::111122223333:user/KeyUser"],
        strict=strict,
    )
    assert (DOCS / name).read_text(encoding="utf-8") == expected + "\n"
