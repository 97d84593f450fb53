"""Evaluating key policies and identity policies."""

from __future__ import annotations

import json

import pytest

from strongroom.kms.domain.evaluation import (
    Effect,
    EvalRequest,
    KeyPolicyResult,
    evaluate_identity_policies,
    evaluate_key_policy,
)
from strongroom.kms.domain.policy import PolicyDocument, parse_policy
from tests.unit.kms.domain.test_policy import CONSOLE_KEY_POLICY, DEFAULT_KEY_POLICY

A = "111122223333"
B = "444455556666"
KEY = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALICE = f"arn:aws:iam::{A}:user/alice"
BOB = f"arn:aws:iam::{A}:user/bob"
CAROL_B = f"arn:aws:iam::{B}:user/carol"

ALLOW_ACCOUNT = KeyPolicyResult(Effect.ALLOW, via_account=True)
ALLOW_DIRECT = KeyPolicyResult(Effect.ALLOW, via_account=False)
DENY = KeyPolicyResult(Effect.DENY, via_account=False)
NONE = KeyPolicyResult(Effect.NONE, via_account=False)


def request(
    action: str = "kms:Encrypt",
    principal: str = ALICE,
    resource: str = KEY,
    values: dict[str, tuple[str, ...]] | None = None,
) -> EvalRequest:
    account = principal.split(":")[4]
    return EvalRequest(action, resource, principal, account, values or {})


def key_policy(*statements: dict[str, object]) -> PolicyDocument:
    return parse_policy(
        json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), key_policy=True
    )


def identity(*statements: dict[str, object]) -> PolicyDocument:
    return parse_policy(
        json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), key_policy=False
    )


def stmt(effect: str = "Allow", principal: object = "*", **members: object) -> dict[str, object]:
    statement: dict[str, object] = {"Effect": effect, "Action": "kms:*", "Resource": "*"}
    if principal is not None:
        statement["Principal"] = principal
    statement.update(members)
    return {k: v for k, v in statement.items() if v is not None}


def aws(*names: str) -> dict[str, object]:
    return {"AWS": list(names)}


# --- the AWS default policies ---------------------------------------------------------------


def test_default_key_policy_delegates_to_the_account() -> None:
    doc = parse_policy(DEFAULT_KEY_POLICY, key_policy=True)
    assert evaluate_key_policy(doc, request()) == ALLOW_ACCOUNT
    assert evaluate_key_policy(doc, request("kms:ScheduleKeyDeletion")) == ALLOW_ACCOUNT
    assert evaluate_key_policy(doc, request(principal=f"arn:aws:iam::{A}:root")) == ALLOW_ACCOUNT
    assert evaluate_key_policy(doc, request(principal=CAROL_B)) == NONE


def test_console_policy_separates_administrators_from_users() -> None:
    doc = parse_policy(CONSOLE_KEY_POLICY, key_policy=True)
    admin = f"arn:aws:iam::{A}:role/KeyAdmin"
    user = f"arn:aws:iam::{A}:user/division/alice"
    # the administrator is named for management actions, only the account for the others
    assert evaluate_key_policy(doc, request("kms:PutKeyPolicy", admin)) == ALLOW_DIRECT
    assert evaluate_key_policy(doc, request("kms:GetKeyPolicy", admin)) == ALLOW_DIRECT
    assert evaluate_key_policy(doc, request("kms:Encrypt", admin)) == ALLOW_ACCOUNT
    assert evaluate_key_policy(doc, request("kms:Encrypt", user)) == ALLOW_DIRECT
    assert evaluate_key_policy(doc, request("kms:ReEncryptFrom", user)) == ALLOW_DIRECT
    assert evaluate_key_policy(doc, request("kms:GenerateDataKeyPair", user)) == ALLOW_DIRECT
    assert evaluate_key_policy(doc, request("kms:PutKeyPolicy", user)) == ALLOW_ACCOUNT
    # grants for AWS resources only
    grant = request("kms:CreateGrant", user, values={"kms:grantisforawsresource": ("true",)})
    assert evaluate_key_policy(doc, grant) == ALLOW_DIRECT
    grant = request("kms:CreateGrant", user, values={"kms:grantisforawsresource": ("false",)})
    assert evaluate_key_policy(doc, grant) == ALLOW_ACCOUNT
    assert evaluate_key_policy(doc, request("kms:CreateGrant", user)) == ALLOW_ACCOUNT
    assert evaluate_key_policy(doc, request("kms:Encrypt", CAROL_B)) == NONE


# --- principals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "caller", "expected"),
    [
        ("*", ALICE, ALLOW_DIRECT),
        ("*", CAROL_B, ALLOW_DIRECT),
        (aws("*"), CAROL_B, ALLOW_DIRECT),
        (aws(f"arn:aws:iam::{A}:root"), ALICE, ALLOW_ACCOUNT),
        (aws(A), ALICE, ALLOW_ACCOUNT),  # bare account id = root
        (aws(ALICE), ALICE, ALLOW_DIRECT),
        (aws(ALICE), BOB, NONE),
        (aws(ALICE, A), ALICE, ALLOW_DIRECT),  # named directly wins over the account
        (aws(ALICE, A), BOB, ALLOW_ACCOUNT),
        (aws(f"arn:aws:iam::{A}:role/alice"), ALICE, NONE),  # a role is not the user
        (aws(f"arn:aws:iam::{B}:root"), ALICE, NONE),
        (aws(f"arn:aws:iam::{B}:root"), CAROL_B, ALLOW_ACCOUNT),  # cross-account
        ({"Service": "s3.amazonaws.com"}, ALICE, NONE),
        ({"Federated": "accounts.google.com"}, ALICE, NONE),
        ({"CanonicalUser": "79a59df900b949e5"}, ALICE, NONE),
    ],
)
def test_principal_matching(principal: object, caller: str, expected: KeyPolicyResult) -> None:
    doc = key_policy(stmt(principal=principal))
    assert evaluate_key_policy(doc, request(principal=caller)) == expected


def test_service_principals_match_only_services_calling_as_themselves() -> None:
    def as_service(name: str, account: str = A) -> EvalRequest:
        return EvalRequest("kms:Encrypt", KEY, name, account, {}, service=True)

    s3 = key_policy(stmt(principal={"Service": ["s3.amazonaws.com"]}))
    assert evaluate_key_policy(s3, as_service("s3.amazonaws.com")) == ALLOW_DIRECT
    assert evaluate_key_policy(s3, as_service("logs.amazonaws.com")) == NONE
    # A user whose name happens to be a service's is not that service.
    assert evaluate_key_policy(s3, request(principal=ALICE)) == NONE
    # "*" names everyone, services included; an account names none of them.
    assert evaluate_key_policy(key_policy(stmt()), as_service("s3.amazonaws.com")) == ALLOW_DIRECT
    account = key_policy(stmt(principal=aws(A)))
    assert evaluate_key_policy(account, as_service("s3.amazonaws.com")) == NONE
    # A service named in NotPrincipal is excluded; other services are admitted.
    not_s3 = key_policy(stmt(principal=None, NotPrincipal={"Service": "s3.amazonaws.com"}))
    assert evaluate_key_policy(not_s3, as_service("s3.amazonaws.com")) == NONE
    assert evaluate_key_policy(not_s3, as_service("logs.amazonaws.com")) == ALLOW_DIRECT


def test_user_paths_are_part_of_the_arn() -> None:
    doc = key_policy(stmt(principal=aws(f"arn:aws:iam::{A}:user/division/alice")))
    assert evaluate_key_policy(doc, request(principal=f"arn:aws:iam::{A}:user/division/alice"))
    assert evaluate_key_policy(doc, request(principal=ALICE)) == NONE


def test_direct_and_account_statements_together_are_direct() -> None:
    doc = key_policy(stmt(principal=aws(A)), stmt(principal=aws(ALICE), Action="kms:Encrypt"))
    assert evaluate_key_policy(doc, request()) == ALLOW_DIRECT
    assert evaluate_key_policy(doc, request("kms:Decrypt")) == ALLOW_ACCOUNT
    reordered = key_policy(stmt(principal=aws(ALICE), Action="kms:Encrypt"), stmt(principal=aws(A)))
    assert evaluate_key_policy(reordered, request()) == ALLOW_DIRECT


def test_cross_account_key_policy() -> None:
    doc = key_policy(
        stmt(principal=aws(f"arn:aws:iam::{A}:root")),
        stmt(principal=aws(f"arn:aws:iam::{B}:root"), Action=["kms:Encrypt", "kms:Decrypt"]),
    )
    assert evaluate_key_policy(doc, request("kms:Encrypt", CAROL_B)) == ALLOW_ACCOUNT
    assert evaluate_key_policy(doc, request("kms:PutKeyPolicy", CAROL_B)) == NONE
    assert evaluate_key_policy(doc, request("kms:PutKeyPolicy", ALICE)) == ALLOW_ACCOUNT


def test_not_principal() -> None:
    doc = key_policy(
        stmt(principal=aws(A)),
        stmt("Deny", principal=None, NotPrincipal=aws(ALICE), Action="kms:Decrypt"),
    )
    assert evaluate_key_policy(doc, request("kms:Decrypt", ALICE)) == ALLOW_ACCOUNT
    assert evaluate_key_policy(doc, request("kms:Decrypt", BOB)) == DENY
    assert evaluate_key_policy(doc, request("kms:Encrypt", BOB)) == ALLOW_ACCOUNT
    assert evaluate_key_policy(doc, request("kms:Decrypt", CAROL_B)) == DENY
    # listing an account excludes every principal of it; listing "*" excludes everyone
    by_account = key_policy(stmt(principal=None, NotPrincipal=aws(B)))
    assert evaluate_key_policy(by_account, request(principal=CAROL_B)) == NONE
    assert evaluate_key_policy(by_account, request(principal=ALICE)) == ALLOW_DIRECT
    everyone = key_policy(stmt(principal=None, NotPrincipal="*"))
    assert evaluate_key_policy(everyone, request()) == NONE


# --- actions and resources ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "applies"),
    [
        ("kms:*", "kms:Encrypt", True),
        ("kms:*", "s3:GetObject", False),
        ("*", "kms:Encrypt", True),
        ("kms:Get*", "kms:GetKeyPolicy", True),
        ("kms:Get*", "kms:GenerateDataKey", False),
        ("kms:encrypt", "kms:Encrypt", True),  # case-insensitive
        ("KMS:ENCRYPT", "kms:encrypt", True),
        ("kms:Encrypt", "kms:EncryptX", False),
        ("kms:ReEncrypt*", "kms:ReEncryptFrom", True),
        ("kms:*Key", "kms:DescribeKey", True),
        ("kms:*Key", "kms:DescribeKeys", False),
        ("kms:?ecrypt", "kms:Decrypt", True),
        ("kms:?ecrypt", "kms:Encrypt", False),
        ("kms:Generate*Pair*", "kms:GenerateDataKeyPairWithoutPlaintext", True),
    ],
)
def test_action_patterns(pattern: str, action: str, applies: bool) -> None:
    doc = key_policy(stmt(Action=pattern))
    assert evaluate_key_policy(doc, request(action)).effect is (
        Effect.ALLOW if applies else Effect.NONE
    )


def test_not_action() -> None:
    doc = key_policy(stmt(Action=None, NotAction=["kms:Decrypt", "kms:Schedule*"]))
    assert evaluate_key_policy(doc, request("kms:Encrypt")) == ALLOW_DIRECT
    assert evaluate_key_policy(doc, request("kms:decrypt")) == NONE
    assert evaluate_key_policy(doc, request("kms:ScheduleKeyDeletion")) == NONE


def test_statement_without_action_or_resource_never_applies() -> None:
    assert evaluate_key_policy(key_policy(stmt(Action=None)), request()) == NONE
    assert evaluate_key_policy(key_policy(stmt(Resource=None)), request()) == NONE
    deny = key_policy(stmt(), stmt("Deny", Action=None))
    assert evaluate_key_policy(deny, request()) == ALLOW_DIRECT


@pytest.mark.parametrize(
    ("pattern", "resource", "applies"),
    [
        ("*", KEY, True),
        (KEY, KEY, True),
        (KEY.replace("1234abcd", "1234ABCD"), KEY, False),  # case-sensitive
        (f"arn:aws:kms:*:{A}:key/*", KEY, True),
        (f"arn:aws:kms:*:{B}:key/*", KEY, False),
        ("arn:aws:kms:us-east-?:*:key/*", KEY, True),
        ("arn:aws:kms:*:*:key/x", f"arn:aws:kms:a:b:{A}:key/x", True),  # '*' crosses ':'
        ("arn:aws:kms:*:*:key/x", f"arn:aws:kms:a:{A}:key/xy", False),
        (f"arn:aws:kms:us-east-1:{A}:alias/*", KEY, False),
        ("arn:aws:kms:*:*:key/*", "*", False),
    ],
)
def test_resource_patterns(pattern: str, resource: str, applies: bool) -> None:
    doc = identity(stmt(principal=None, Resource=pattern))
    assert evaluate_identity_policies([doc], request(resource=resource)) is (
        Effect.ALLOW if applies else Effect.NONE
    )


def test_not_resource() -> None:
    doc = identity(stmt(principal=None, Resource=None, NotResource=f"arn:aws:kms:*:{B}:key/*"))
    assert evaluate_identity_policies([doc], request()) is Effect.ALLOW
    other = request(resource=f"arn:aws:kms:us-east-1:{B}:key/k")
    assert evaluate_identity_policies([doc], other) is Effect.NONE


def test_resource_with_policy_variable() -> None:
    doc = identity(
        stmt(principal=None, Resource=f"arn:aws:kms:*:{A}:key/${{aws:username}}-*"),
    )
    alice: dict[str, tuple[str, ...]] = {"aws:username": ("alice",)}
    mine = request(resource=f"arn:aws:kms:us-east-1:{A}:key/alice-1", values=alice)
    theirs = request(resource=f"arn:aws:kms:us-east-1:{A}:key/bob-1", values=alice)
    unknown = request(resource=f"arn:aws:kms:us-east-1:{A}:key/alice-1")
    assert evaluate_identity_policies([doc], mine) is Effect.ALLOW
    assert evaluate_identity_policies([doc], theirs) is Effect.NONE
    assert evaluate_identity_policies([doc], unknown) is Effect.NONE


def test_statement_with_unresolvable_variable_does_not_apply() -> None:
    ec = "kms:EncryptionContext:owner"
    deny = stmt("Deny", Condition={"StringNotEquals": {ec: "${aws:username}"}})
    doc = key_policy(stmt(principal=aws(A)), deny)
    ctx: dict[str, tuple[str, ...]] = {"kms:encryptioncontext:owner": ("bob",)}
    alice = request(values={**ctx, "aws:username": ("alice",)})
    bob = request(values={**ctx, "aws:username": ("bob",)})
    assert evaluate_key_policy(doc, alice) == DENY
    assert evaluate_key_policy(doc, bob) == ALLOW_ACCOUNT
    assert evaluate_key_policy(doc, request(values=ctx)) == ALLOW_ACCOUNT


# --- combining statements -------------------------------------------------------------------


def test_deny_beats_allow_across_statements() -> None:
    allow = stmt(principal=aws(ALICE))
    deny = stmt("Deny", principal="*", Action="kms:Decrypt")
    for doc in (key_policy(allow, deny), key_policy(deny, allow)):
        assert evaluate_key_policy(doc, request("kms:Decrypt")) == DENY
        assert evaluate_key_policy(doc, request("kms:Encrypt")) == ALLOW_DIRECT


def test_deny_of_an_account_applies_to_its_users() -> None:
    doc = key_policy(stmt(principal=aws(ALICE)), stmt("Deny", principal=aws(A)))
    assert evaluate_key_policy(doc, request()) == DENY


def context(tenant: str, *keys: str) -> dict[str, tuple[str, ...]]:
    return {"kms:encryptioncontext:tenant": (tenant,), "kms:encryptioncontextkeys": keys}


def test_conditions_gate_statements() -> None:
    doc = key_policy(
        stmt(
            principal=aws(ALICE),
            Condition={
                "StringEquals": {"kms:EncryptionContext:Tenant": "acme"},
                "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["Tenant", "Doc"]},
            },
        )
    )
    ok = request(values=context("acme", "Tenant", "Doc"))
    assert evaluate_key_policy(doc, ok) == ALLOW_DIRECT
    wrong = request(values=context("evil", "Tenant"))
    assert evaluate_key_policy(doc, wrong) == NONE
    extra = request(values=context("acme", "Tenant", "X"))
    assert evaluate_key_policy(doc, extra) == NONE
    assert evaluate_key_policy(doc, request()) == NONE


def test_identity_policies() -> None:
    allow = identity(stmt(principal=None, Action=["kms:Encrypt", "kms:Decrypt"]))
    deny = identity(stmt("Deny", principal=None, Action="kms:Decrypt"))
    assert evaluate_identity_policies([], request()) is Effect.NONE
    assert evaluate_identity_policies([allow], request()) is Effect.ALLOW
    assert evaluate_identity_policies([allow], request("kms:Sign")) is Effect.NONE
    assert evaluate_identity_policies([allow, deny], request("kms:Decrypt")) is Effect.DENY
    assert evaluate_identity_policies([deny, allow], request("kms:Decrypt")) is Effect.DENY
    assert evaluate_identity_policies([deny, allow], request("kms:Encrypt")) is Effect.ALLOW


def test_actions_on_no_key() -> None:
    doc = identity(stmt(principal=None, Action="kms:CreateKey"))
    assert evaluate_identity_policies([doc], request("kms:CreateKey", resource="*")) is (
        Effect.ALLOW
    )
