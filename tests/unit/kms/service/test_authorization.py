"""PolicyAuthorizer decisions, with the real policy cache, identity repository and grants.

Account A (111122223333) has users alice and bob; account B (444455556666) has carol. Each
test builds fresh parts (``tests/support/lifecycle.build_parts``) on its own database, so the
policy cache starts empty.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from strongroom.kms.audit.log import MemoryAuditLog
from strongroom.kms.domain.grants import Constraints, Grant, new_grant_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.errors import AccessDeniedException
from strongroom.kms.service import crypto_ops, grants, keys
from strongroom.kms.service.admin import Admin
from strongroom.kms.service.authorization import PolicyAuthorizer
from strongroom.kms.service.caller import Caller
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Pipeline
from strongroom.kms.storage.engine import sqlite_url
from strongroom.kms.storage.grants import GrantRepository
from tests.support.lifecycle import REGION, Parts, SettableClock, build_parts, create_key
from tests.support.policies import (
    Statement,
    allow,
    deny,
    enable_iam,
    iam_policy,
    iam_statement,
    key_policy,
    root_arn,
    user_arn,
)

A, B = "111122223333", "444455556666"
ALICE, BOB, CAROL = user_arn(A, "alice"), user_arn(A, "bob"), user_arn(B, "carol")
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
OTHER_KEY = f"arn:aws:kms:us-east-1:{A}:key/00000000-0000-0000-0000-000000000000"

ALLOWED = "allowed"
# The reasons a denial gives (``reason``); test_denial_wording checks the exact words.
KEY = "no resource-based policy allows"
IAM = "no identity-based policy allows"
KEY_DENY = "explicit deny in a resource-based policy"
IAM_DENY = "explicit deny in an identity-based policy"


def reason(message: str) -> str | None:
    """Which of the four reasons an AccessDeniedException message gives (None: allowed)."""
    if "explicit deny" in message:
        return KEY_DENY if "resource-based policy" in message else IAM_DENY
    for why in (KEY, IAM):
        if f"because {why} the " in message:
            return why
    return None


ENCRYPT = next(op for op in crypto_ops.OPERATIONS if op.name == "Encrypt")
DECRYPT = next(op for op in crypto_ops.OPERATIONS if op.name == "Decrypt")
RE_ENCRYPT = next(op for op in crypto_ops.OPERATIONS if op.name == "ReEncrypt")
DESCRIBE_KEY = next(op for op in keys.OPERATIONS if op.name == "DescribeKey")
CREATE_KEY = next(op for op in keys.OPERATIONS if op.name == "CreateKey")
CREATE_GRANT = next(op for op in grants.OPERATIONS if op.name == "CreateGrant")
PURPOSE = {"purpose": "test"}


def account_of(principal: str) -> str:
    return principal.split(":")[4]


@dataclass
class Authz:
    parts: Parts
    admin: Admin
    authorizer: PolicyAuthorizer
    pipeline: Pipeline

    def key(self, *statements: Statement) -> KeyRecord:
        return create_key(self.parts, A, NOW, policy=key_policy(*statements))

    def iam(self, principal: str, *statements: Statement) -> None:
        account, name = account_of(principal), principal.rsplit("/", 1)[1]
        self.admin.put_user_policy(account, name, "Policy", iam_policy(*statements))

    def grant(
        self,
        key: KeyRecord,
        grantee: str,
        operations: tuple[str, ...],
        constraints: Constraints | None = None,
    ) -> Grant:
        grant = Grant(
            grant_id=new_grant_id(),
            key_id=key.key_id,
            issuing_account=key.account_id,
            grantee_principal=grantee,
            retiring_principal=None,
            operations=operations,
            constraints=constraints,
            name=None,
            created_at=NOW,
        )
        return GrantRepository(self.parts.db).create(grant)

    def call(
        self, principal: str, request: Mapping[str, Any] | None = None, op: Operation = ENCRYPT
    ) -> Call:
        caller = Caller(
            account_of(principal), principal, "AKIAUNITTEST00000000", "127.0.0.1", REGION
        )
        return Call(op, request or {}, caller, "request-1", self.parts.ctx, self.pipeline)

    def decide(
        self,
        principal: str,
        key: KeyRecord | None,
        request: Mapping[str, Any] | None = None,
        op: Operation = ENCRYPT,
        access: KeyAccess | None = None,
    ) -> str:
        """ALLOWED, or the message of the AccessDeniedException."""
        call = self.call(principal, request, op)
        chosen = access if access is not None else (op.keys[0] if op.keys else None)
        action = chosen.action if chosen is not None else op.action
        assert action is not None
        try:
            self.authorizer.authorize(call, action, key, chosen)
        except AccessDeniedException as denied:
            return denied.message
        return ALLOWED


@pytest.fixture
def authz(tmp_path: Path) -> Iterator[Authz]:
    parts = build_parts(sqlite_url(tmp_path), "store", secrets.token_bytes(32), SettableClock(NOW))
    ctx = parts.ctx
    admin = Admin(ctx.identity, ctx.store, ctx.clock)
    admin.create_account("a", A)
    admin.create_account("b", B)
    for principal in (ALICE, BOB, CAROL):
        admin.create_user(account_of(principal), principal.rsplit("/", 1)[1])
    authorizer = PolicyAuthorizer(ctx.policies, GrantRepository(ctx.db))
    try:
        yield Authz(parts, admin, authorizer, Pipeline(ctx, authorizer, MemoryAuditLog()))
    finally:
        parts.close()


# --- how key policies and identity policies combine ------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    key: tuple[Statement, ...]  # the key policy's statements
    caller: str
    iam: tuple[Statement, ...] = ()  # the caller's identity policy, if any
    expect: str = ALLOWED  # ALLOWED, or a part of the denial

    def __str__(self) -> str:
        return self.name


ALLOW_ENCRYPT = iam_statement("Allow", "kms:Encrypt")
ALLOW_A_KEYS = iam_statement("Allow", "kms:*", f"arn:aws:kms:*:{A}:key/*")
NOT_BOB = {"Effect": "Allow", "NotPrincipal": {"AWS": BOB}, "Action": "kms:*", "Resource": "*"}

ROWS = [
    # Same account.
    Row("direct allow needs no IAM policy", (allow(ALICE, "kms:Encrypt"),), ALICE),
    Row("account allow delegates to an absent IAM policy", (enable_iam(A),), ALICE, (), IAM),
    Row("account allow delegates to IAM, which allows", (enable_iam(A),), ALICE, (ALLOW_ENCRYPT,)),
    Row(
        "account allow; IAM allows another action",
        (enable_iam(A),),
        ALICE,
        (iam_statement("Allow", "kms:Decrypt"),),
        IAM,
    ),
    Row(
        "account allow; IAM allows another key",
        (enable_iam(A),),
        ALICE,
        (iam_statement("Allow", "kms:Encrypt", OTHER_KEY),),
        IAM,
    ),
    Row("a bare account id is the account", (allow(A, "kms:*"),), ALICE, (), IAM),
    Row("a bare account id, and IAM allows", (allow(A, "kms:*"),), ALICE, (ALLOW_ENCRYPT,)),
    Row("direct beats via account", (enable_iam(A), allow(ALICE, "kms:Encrypt")), ALICE),
    Row("star allows the account directly", (allow("*", "kms:Encrypt"),), ALICE),
    Row("NotPrincipal admits the others directly", (NOT_BOB,), ALICE),
    Row("NotPrincipal excludes its principal", (NOT_BOB,), BOB, (ALLOW_ENCRYPT,), KEY),
    Row("IAM allow without a key statement", (allow(BOB, "kms:*"),), ALICE, (ALLOW_ENCRYPT,), KEY),
    Row(
        "key deny beats direct allow",
        (allow(ALICE, "kms:*"), deny(ALICE, "kms:Encrypt")),
        ALICE,
        (),
        KEY_DENY,
    ),
    Row(
        "key deny of the account beats IAM allow",
        (enable_iam(A), deny(root_arn(A), "kms:Encrypt")),
        ALICE,
        (ALLOW_ENCRYPT,),
        KEY_DENY,
    ),
    Row(
        "key deny of another principal does not apply",
        (allow(ALICE, "kms:*"), deny(BOB, "kms:*")),
        ALICE,
    ),
    Row(
        "IAM deny beats direct key allow",
        (allow(ALICE, "kms:*"),),
        ALICE,
        (iam_statement("Deny", "kms:Encrypt"),),
        IAM_DENY,
    ),
    Row(
        "IAM deny beats IAM allow",
        (enable_iam(A),),
        ALICE,
        (iam_statement("Allow", "kms:*"), iam_statement("Deny", "kms:Enc*")),
        IAM_DENY,
    ),
    # Another account: both sides must allow.
    Row("cross: key names carol, no IAM", (allow(CAROL, "kms:Encrypt"),), CAROL, (), IAM),
    Row(
        "cross: key names carol, IAM allows", (allow(CAROL, "kms:Encrypt"),), CAROL, (ALLOW_A_KEYS,)
    ),
    Row(
        "cross: key names B, IAM allows",
        (allow(root_arn(B), "kms:Encrypt"),),
        CAROL,
        (ALLOW_A_KEYS,),
    ),
    Row("cross: key names B, no IAM", (allow(root_arn(B), "kms:Encrypt"),), CAROL, (), IAM),
    Row("cross: star, no IAM", (allow("*", "kms:Encrypt"),), CAROL, (), IAM),
    Row("cross: star, IAM allows", (allow("*", "kms:Encrypt"),), CAROL, (ALLOW_A_KEYS,)),
    Row("cross: key names only A", (enable_iam(A),), CAROL, (ALLOW_A_KEYS,), KEY),
    Row(
        "cross: IAM allows other resources only",
        (allow(root_arn(B), "kms:Encrypt"),),
        CAROL,
        (iam_statement("Allow", "kms:*", f"arn:aws:kms:*:{B}:key/*"),),
        IAM,
    ),
    Row(
        "cross: IAM deny",
        (allow(CAROL, "kms:*"),),
        CAROL,
        (ALLOW_A_KEYS, iam_statement("Deny", "kms:Encrypt")),
        IAM_DENY,
    ),
    Row(
        "cross: key deny of B",
        (allow(CAROL, "kms:*"), deny(B, "kms:Encrypt")),
        CAROL,
        (ALLOW_A_KEYS,),
        KEY_DENY,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_key_and_identity_policies_combine(authz: Authz, row: Row) -> None:
    key = authz.key(*row.key)
    if row.iam:
        authz.iam(row.caller, *row.iam)
    decision = authz.decide(row.caller, key, {"KeyId": key.arn})
    if row.expect == ALLOWED:
        assert decision == ALLOWED
        return
    assert decision.startswith(f"User: {row.caller} is not authorized to perform: kms:Encrypt")
    assert reason(decision) == row.expect, decision
    if account_of(row.caller) == A:
        assert f" on resource: {key.arn} " in decision
    else:  # another account's key is never named
        assert " on this resource " in decision and key.key_id not in decision, decision


def test_operations_on_no_key_are_decided_by_identity_policies_alone(authz: Authz) -> None:
    authz.iam(ALICE, iam_statement("Allow", "kms:Create*"))
    authz.iam(BOB, iam_statement("Allow", "*"), iam_statement("Deny", "kms:CreateKey"))
    assert authz.decide(ALICE, None, op=CREATE_KEY) == ALLOWED
    assert authz.decide(CAROL, None, op=CREATE_KEY) == (
        f"User: {CAROL} is not authorized to perform: kms:CreateKey because no identity-based "
        "policy allows the kms:CreateKey action"
    )
    assert reason(authz.decide(BOB, None, op=CREATE_KEY)) == IAM_DENY


def test_denial_wording(authz: Authz) -> None:
    """The four reasons, worded as AWS words them."""
    key = authz.key(allow(ALICE, "kms:*"), deny(BOB, "kms:Encrypt"))
    authz.iam(ALICE, iam_statement("Deny", "kms:Encrypt"))
    authz.iam(CAROL, iam_statement("Deny", "kms:Encrypt"))
    on = f"on resource: {key.arn}"
    expected = {
        ALICE: f"{on} with an explicit deny in an identity-based policy",
        BOB: f"{on} with an explicit deny in a resource-based policy",
        CAROL: "on this resource with an explicit deny in an identity-based policy",
    }
    for principal, words in expected.items():
        message = authz.decide(principal, key)
        assert message == f"User: {principal} is not authorized to perform: kms:Encrypt {words}"
    bare = authz.key(enable_iam(A))
    assert authz.decide(BOB, bare) == (
        f"User: {BOB} is not authorized to perform: kms:Encrypt on resource: {bare.arn} because "
        "no identity-based policy allows the kms:Encrypt action"
    )


def test_identity_policies_are_cached_until_the_change_feed_says_otherwise(authz: Authz) -> None:
    key = authz.key(enable_iam(A))
    seq = authz.parts.db.last_change_seq()
    assert reason(authz.decide(ALICE, key)) == IAM
    authz.iam(ALICE, ALLOW_ENCRYPT)
    assert reason(authz.decide(ALICE, key)) == IAM  # still the cached (empty) policies
    authz.parts.ctx.policies.apply(authz.parts.db.changes_since(seq))
    assert authz.decide(ALICE, key) == ALLOWED


# --- remembered decisions -----------------------------------------------------------------------


def test_a_remembered_allow_is_forgotten_when_identity_policies_change(authz: Authz) -> None:
    key = authz.key(enable_iam(A))
    authz.iam(ALICE, ALLOW_ENCRYPT)
    seq = authz.parts.db.last_change_seq()
    for _ in range(2):
        assert authz.decide(ALICE, key) == ALLOWED
    authz.admin.delete_user_policy(A, "alice", "Policy")
    authz.parts.ctx.policies.apply(authz.parts.db.changes_since(seq))
    assert reason(authz.decide(ALICE, key)) == IAM


def test_a_remembered_allow_does_not_outlive_its_key_policy(authz: Authz) -> None:
    key = authz.key(allow(ALICE, "kms:Encrypt"))
    assert authz.decide(ALICE, key) == ALLOWED
    changed = replace(key, policy=key_policy(allow(BOB, "kms:Encrypt")))
    assert reason(authz.decide(ALICE, changed)) == KEY
    assert authz.decide(BOB, changed) == ALLOWED
    assert reason(authz.decide(BOB, key)) == KEY


@pytest.mark.parametrize("where", ["key policy", "identity policy"])
def test_decisions_that_depend_on_the_request_are_made_every_time(authz: Authz, where: str) -> None:
    blue = {"StringEquals": {"kms:EncryptionContext:tenant": "blue"}}
    if where == "key policy":
        key = authz.key(allow(ALICE, "kms:Encrypt", blue))
        expected = KEY
    else:
        key = authz.key(enable_iam(A))
        authz.iam(ALICE, iam_statement("Allow", "kms:Encrypt", condition=blue))
        expected = IAM
    for tenant in ("blue", "red", "blue", "red"):
        decision = authz.decide(ALICE, key, {"EncryptionContext": {"tenant": tenant}})
        assert (decision if tenant == "blue" else reason(decision)) == (
            ALLOWED if tenant == "blue" else expected
        )


def test_a_conditional_deny_is_evaluated_every_time(authz: Authz) -> None:
    key = authz.key(allow(ALICE, "kms:*"))
    red = {"StringEquals": {"kms:EncryptionContext:tenant": "red"}}
    authz.iam(ALICE, iam_statement("Deny", "kms:Encrypt", condition=red))
    for tenant in ("blue", "red", "blue", "red"):
        decision = authz.decide(ALICE, key, {"EncryptionContext": {"tenant": tenant}})
        assert (decision if tenant == "blue" else reason(decision)) == (
            ALLOWED if tenant == "blue" else IAM_DENY
        )


# --- grants ------------------------------------------------------------------------------------


def test_a_grant_allows_what_the_policies_do_not(authz: Authz) -> None:
    key = authz.key(enable_iam(A))
    grant = authz.grant(key, BOB, ("Encrypt",))
    call = authz.call(BOB, {"KeyId": key.arn})
    authz.authorizer.authorize(call, "kms:Encrypt", key, ENCRYPT.keys[0])
    assert call.via_grant == grant
    assert "kms:Decrypt" in authz.decide(BOB, key, op=DECRYPT)
    # Policies that allow leave no grant on the call.
    authz.iam(ALICE, ALLOW_ENCRYPT)
    call = authz.call(ALICE, {"KeyId": key.arn})
    authz.authorizer.authorize(call, "kms:Encrypt", key, ENCRYPT.keys[0])
    assert call.via_grant is None


def test_a_grant_for_another_account(authz: Authz) -> None:
    key = authz.key(enable_iam(A))
    authz.grant(key, CAROL, ("Encrypt",))
    assert authz.decide(CAROL, key) == ALLOWED


def test_a_grant_does_not_override_an_explicit_deny(authz: Authz) -> None:
    key = authz.key(enable_iam(A), deny(BOB, "kms:Encrypt"))
    authz.grant(key, BOB, ("Encrypt",))
    assert reason(authz.decide(BOB, key)) == KEY_DENY
    authz.iam(ALICE, iam_statement("Deny", "kms:Encrypt"))
    authz.grant(key, ALICE, ("Encrypt",))
    assert reason(authz.decide(ALICE, key)) == IAM_DENY


def test_a_grant_constraint_is_checked_against_the_request_context(authz: Authz) -> None:
    key = authz.key(enable_iam(A))
    authz.grant(key, BOB, ("Encrypt",), Constraints(subset=PURPOSE))
    assert authz.decide(BOB, key, {"EncryptionContext": PURPOSE}) == ALLOWED
    assert authz.decide(BOB, key, {"EncryptionContext": {**PURPOSE, "x": "y"}}) == ALLOWED
    assert reason(authz.decide(BOB, key, {"EncryptionContext": {"purpose": "other"}})) == IAM
    assert reason(authz.decide(BOB, key, {})) == IAM
    equals = authz.key(enable_iam(A))
    authz.grant(equals, BOB, ("Encrypt",), Constraints(equals=PURPOSE))
    assert authz.decide(BOB, equals, {"EncryptionContext": PURPOSE}) == ALLOWED
    assert reason(authz.decide(BOB, equals, {"EncryptionContext": {**PURPOSE, "x": "y"}})) == IAM


def test_would_allow_answers_without_touching_the_calls_grant(authz: Authz) -> None:
    key = authz.key(enable_iam(A))
    grant = authz.grant(key, BOB, ("Encrypt",))
    call = authz.call(BOB)
    assert authz.authorizer.would_allow(call, "kms:Encrypt", key) is True
    assert call.via_grant is None
    call.via_grant = grant
    assert authz.authorizer.would_allow(call, "kms:PutKeyPolicy", key) is False
    assert call.via_grant is grant


def test_a_constrained_grant_allows_describe_key_without_a_context(authz: Authz) -> None:
    """AWS: grants with constraints "can include the DescribeKey and RetireGrant operations,
    but the constraint doesn't apply to these operations"."""
    key = authz.key(enable_iam(A))
    authz.grant(key, BOB, ("Encrypt", "DescribeKey"), Constraints(subset=PURPOSE))
    assert authz.decide(BOB, key, {"KeyId": key.arn}, op=DESCRIBE_KEY) == ALLOWED


def test_a_constrained_grant_allows_create_grant_with_constraints_as_strict(
    authz: Authz,
) -> None:
    """AWS: a constrained grant that includes CreateGrant lets its grantee create grants whose
    constraints are equally strict or stricter. A CreateGrant request has no
    EncryptionContext: the constraint is about the new grant's Constraints."""
    key = authz.key(enable_iam(A))
    parent = authz.grant(key, BOB, ("Encrypt", "CreateGrant"), Constraints(subset=PURPOSE))
    request = {
        "KeyId": key.arn,
        "GranteePrincipal": ALICE,
        "Operations": ["Encrypt"],
        "Constraints": {"EncryptionContextSubset": PURPOSE},
    }
    call = authz.call(BOB, request, CREATE_GRANT)
    authz.authorizer.authorize(call, "kms:CreateGrant", key, CREATE_GRANT.keys[0])
    assert call.via_grant == parent


@pytest.mark.parametrize(
    ("access", "member"),
    [(0, "SourceEncryptionContext"), (1, "DestinationEncryptionContext")],
    ids=["ReEncryptFrom", "ReEncryptTo"],
)
def test_a_constrained_grant_allows_re_encrypt_in_its_context(
    authz: Authz, access: int, member: str
) -> None:
    """ReEncrypt's contexts are SourceEncryptionContext (for ReEncryptFrom) and
    DestinationEncryptionContext (for ReEncryptTo); it has no EncryptionContext member."""
    key = authz.key(enable_iam(A))
    authz.grant(key, BOB, ("ReEncryptFrom", "ReEncryptTo"), Constraints(subset=PURPOSE))
    request = {"SourceEncryptionContext": PURPOSE, "DestinationEncryptionContext": PURPOSE}
    chosen = RE_ENCRYPT.keys[access]
    assert authz.decide(BOB, key, request, op=RE_ENCRYPT, access=chosen) == ALLOWED, member


def test_the_default_key_policy_is_the_iam_statement() -> None:
    assert json.loads(keys.default_key_policy(A))["Statement"] == [enable_iam(A)]
