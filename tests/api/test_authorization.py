"""Authorization through the API: key policies, IAM policies and grants, as AWS KMS combines them.

One server for this module. Account A (the default account) has ``admin`` (AdministratorAccess),
``keyadmin``, ``keyuser`` and ``nobody`` (no policies) and the role ``app``; account B has
``partner`` (IAM: ``kms:*`` on A's keys), ``stranger`` (no policy) and ``badmin``
(AdministratorAccess). Every case of the table gets a key of its own, created by A's admin with
the key policy the case names, so cases never disturb each other. The tests after the table
follow what a table cannot: sequences of requests, changes, grants, and the key policy itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from strongroom.kms.app import DataDir, open_data_dir
from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.principals import ROLE
from strongroom.kms.service.admin import (
    ADMINISTRATOR_POLICY,
    ADMINISTRATOR_POLICY_NAME,
    Admin,
    IssuedAccessKey,
)
from strongroom.kms.storage.keys import KeyRepository
from tests.support.errors import aws_error
from tests.support.policies import (
    ADMIN_ACTIONS,
    USER_ACTIONS,
    Statement,
    allow,
    deny,
    enable_iam,
    iam_policy,
    iam_statement,
    key_policy,
    role_arn,
    root_arn,
    user_arn,
)
from tests.support.servers import InProcessServer, in_process_server

PLAINTEXT = b"authorization test"
DEADLINE = 1.0  # seconds within which an identity change must be in force
ACCESS_DENIED = "AccessDeniedException"
OK = "ok"

# Why a request was refused, as the message says (``reason``; the exact wording is checked once,
# in test_denial_messages_are_worded_as_aws_words_them).
KEY = "no resource-based policy allows"
IAM = "no identity-based policy allows"
KEY_DENY = "explicit deny in a resource-based policy"
IAM_DENY = "explicit deny in an identity-based policy"


def reason(message: str) -> str | None:
    """Which of the four reasons an AccessDeniedException message gives."""
    if "explicit deny" in message:
        return KEY_DENY if "resource-based policy" in message else IAM_DENY
    for why in (KEY, IAM):
        if f"because {why} the " in message:
            return why
    return None


# --- the world -------------------------------------------------------------------------------

USERS_A = ("keyadmin", "keyuser", "nobody")
USERS_B = ("partner", "stranger", "badmin")


@dataclass
class World:
    server: InProcessServer
    data: DataDir
    a: str
    b: str
    credentials: dict[str, IssuedAccessKey]
    clients: dict[str, Any] = field(default_factory=dict)
    delegated_key: str = ""  # a key with the default policy; keyuser's IAM policy names it

    @property
    def admin(self) -> Admin:
        return self.data.admin

    @property
    def kms(self) -> Any:
        return self.client("admin")

    def client(self, who: str) -> Any:
        if who not in self.clients:
            self.clients[who] = self.server.client(self.credentials[who])
        return self.clients[who]

    def arn(self, who: str) -> str:
        if who == "app":
            return role_arn(self.a, who)
        return user_arn(self.b if who in USERS_B else self.a, who)

    def record(self, key_id: str) -> KeyRecord:
        record = KeyRepository(self.data.db).get_key(key_id)
        assert record is not None
        return record

    def new_key(
        self, policy: str | None = None, tags: dict[str, str] | None = None, bypass: bool = False
    ) -> dict[str, Any]:
        """A key created by A's admin; its KeyMetadata."""
        request: dict[str, Any] = {"Description": "authorization test"}
        if policy is not None:
            request["Policy"] = policy
            request["BypassPolicyLockoutSafetyCheck"] = bypass
        if tags:
            request["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in tags.items()]
        return dict(self.kms.create_key(**request)["KeyMetadata"])


APP_POLICY = iam_policy(
    iam_statement(
        "Allow",
        "kms:CreateKey",
        condition={
            "StringEquals": {"aws:RequestTag/team": "blue"},
            "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]},
        },
        sid="CreateBlueKeys",
    ),
    iam_statement("Deny", "kms:Decrypt", sid="NeverDecrypt"),
    iam_statement("Deny", "kms:RetireGrant", sid="NeverRetireGrants"),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with in_process_server(tmp_path_factory.mktemp("authorization")) as server:
        data = open_data_dir(server.settings)
        try:
            admin = data.admin
            a = server.admin_key.account_id
            b = admin.create_account("partner-org").account_id
            credentials = {"admin": server.admin_key}
            for name in USERS_A:
                admin.create_user(a, name)
                credentials[name] = admin.create_access_key(a, name)
            admin.create_role(a, "app")
            credentials["app"] = admin.create_access_key(a, "app", kind=ROLE)
            admin.put_role_policy(a, "app", "App", APP_POLICY)
            for name in USERS_B:
                admin.create_user(b, name)
                credentials[name] = admin.create_access_key(b, name)
            admin.put_user_policy(b, "badmin", ADMINISTRATOR_POLICY_NAME, ADMINISTRATOR_POLICY)
            admin.put_user_policy(
                b,
                "partner",
                "UseKeysOfA",
                iam_policy(iam_statement("Allow", "kms:*", f"arn:aws:kms:*:{a}:key/*")),
            )
            world = World(server, data, a, b, credentials)
            world.delegated_key = world.new_key()["Arn"]
            admin.put_user_policy(
                a,
                "keyuser",
                "EncryptOnly",
                iam_policy(iam_statement("Allow", "kms:Encrypt", world.delegated_key)),
            )
            yield world
        finally:
            data.db.engine.dispose()


# --- the key policies of the table -------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """A key policy, built for the world's accounts.

    ``iam``: the policy starts with AWS's "Enable IAM User Permissions" statement for account
    A, so A's admin (AdministratorAccess) may do anything with the key. Without it the admin
    is not in the policy and creates the key with BypassPolicyLockoutSafetyCheck.
    ``producer``: who makes the ciphertexts that Decrypt and ReEncrypt cases use.
    """

    statements: Callable[[World], list[Statement]]
    iam: bool = True
    producer: str = "admin"

    def text(self, w: World) -> str:
        statements = self.statements(w)
        return key_policy(*([enable_iam(w.a)] if self.iam else []), *statements)


POLICIES: dict[str, Policy] = {
    # The console's key policy without the IAM statement: administrators and users.
    "console": Policy(
        lambda w: [
            allow(w.arn("keyadmin"), ADMIN_ACTIONS, sid="Allow access for Key Administrators"),
            allow(w.arn("keyuser"), USER_ACTIONS, sid="Allow use of the key"),
        ],
        iam=False,
        producer="keyuser",
    ),
    "tenant-blue": Policy(
        lambda w: [
            allow(w.arn("keyuser"), "kms:Encrypt"),
            allow(
                w.arn("keyuser"),
                "kms:Decrypt",
                {"StringEquals": {"kms:EncryptionContext:tenant": "blue"}},
            ),
        ]
    ),
    "context-keys": Policy(
        lambda w: [
            allow(
                w.arn("keyuser"),
                "kms:Encrypt",
                {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant", "purpose"]}},
            )
        ]
    ),
    "context-present": Policy(
        lambda w: [
            allow(
                w.arn("keyuser"), "kms:Encrypt", {"Null": {"kms:EncryptionContext:tenant": "false"}}
            )
        ]
    ),
    "deny-decrypt": Policy(
        lambda w: [
            allow(w.arn("keyuser"), USER_ACTIONS, sid="Use"),
            deny(w.arn("keyuser"), "kms:Decrypt", sid="ButNeverDecrypt"),
        ]
    ),
    "deny-deletion": Policy(lambda w: [deny(root_arn(w.a), "kms:ScheduleKeyDeletion")]),
    "app-user": Policy(lambda w: [allow(w.arn("app"), USER_ACTIONS)]),
    "share-b": Policy(lambda w: [allow(root_arn(w.b), USER_ACTIONS, sid="Account B")]),
    "share-partner": Policy(lambda w: [allow(w.arn("partner"), ["kms:Encrypt", "kms:Decrypt"])]),
    "share-stranger": Policy(lambda w: [allow(w.arn("stranger"), "kms:Encrypt")]),
    "share-anyone": Policy(lambda _: [allow("*", "kms:Encrypt")]),
    "caller-account": Policy(
        lambda w: [allow("*", "kms:Encrypt", {"StringEquals": {"kms:CallerAccount": w.a}})]
    ),
    "principal-arn": Policy(
        lambda w: [allow("*", "kms:Encrypt", {"ArnLike": {"aws:PrincipalArn": role_arn(w.a, "*")}})]
    ),
    "username": Policy(
        lambda _: [
            allow("*", "kms:Encrypt", {"StringEquals": {"aws:username": ["keyuser", "app"]}})
        ]
    ),
    "request-alias": Policy(
        lambda w: [
            allow(
                w.arn("keyuser"),
                "kms:Encrypt",
                {"StringLike": {"kms:RequestAlias": "alias/allowed-*"}},
            )
        ]
    ),
    "resource-tag": Policy(
        lambda w: [
            allow(
                w.arn("keyuser"), "kms:Encrypt", {"StringEquals": {"aws:ResourceTag/team": "blue"}}
            )
        ]
    ),
}
DEFAULT = "default"  # a key created without a policy: AWS's default key policy
DELEGATED = "delegated"  # the world's default-policy key that keyuser's IAM policy names
NO_KEY = "no-key"  # an operation on no key (CreateKey, ListKeys)


# --- the operations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    arn: str
    key_id: str
    producer: Any  # a client that may Encrypt under the key


@dataclass(frozen=True)
class Case:
    key: str  # a name in POLICIES, DEFAULT, DELEGATED or NO_KEY
    who: str
    op: str  # a name in OPERATIONS
    outcome: str = OK  # OK, or the error code
    why: str | None = None  # for AccessDeniedException: the reason in the message
    context: dict[str, str] | None = None
    tags: dict[str, str] | None = None  # the key's tags; for CreateKey, the request's
    alias: str | None = None  # for the alias operations: the alias name's prefix

    @property
    def id(self) -> str:
        parts = [self.key, self.who, self.op]
        if self.context is not None:
            parts.append("ctx=" + ",".join(f"{k}:{v}" for k, v in self.context.items()))
        if self.tags is not None:
            parts.append("tags=" + ",".join(f"{k}:{v}" for k, v in self.tags.items()))
        if self.alias is not None:
            parts.append(self.alias)
        parts.append(OK if self.outcome == OK else self.outcome.removesuffix("Exception"))
        return "-".join(parts)


Call = Callable[[], None]
# Prepares a call (as somebody allowed to) and returns the call itself, which checks its result.
Prepare = Callable[[World, Any, "Target | None", Case], Call]


def _context(case: Case) -> dict[str, Any]:
    return {} if case.context is None else {"EncryptionContext": case.context}


def _target(t: Target | None) -> Target:
    assert t is not None
    return t


def encrypt(w: World, client: Any, t: Target | None, case: Case) -> Call:
    t = _target(t)

    def call() -> None:
        reply = client.encrypt(KeyId=t.arn, Plaintext=PLAINTEXT, **_context(case))
        assert reply["KeyId"] == t.arn

    return call


def encrypt_by_id(w: World, client: Any, t: Target | None, case: Case) -> Call:
    t = _target(t)

    def call() -> None:
        reply = client.encrypt(KeyId=t.key_id, Plaintext=PLAINTEXT, **_context(case))
        assert reply["KeyId"] == t.arn

    return call


def _encrypt_via_alias(as_arn: bool) -> Prepare:
    def prepare(w: World, client: Any, t: Target | None, case: Case) -> Call:
        t = _target(t)
        name = f"{case.alias}-{t.key_id[:8]}"
        w.kms.create_alias(AliasName=name, TargetKeyId=t.key_id)
        ref = f"arn:aws:kms:{w.server.region}:{w.a}:{name}" if as_arn else name

        def call() -> None:
            reply = client.encrypt(KeyId=ref, Plaintext=PLAINTEXT, **_context(case))
            assert reply["KeyId"] == t.arn

        return call

    return prepare


def _blob(t: Target, case: Case) -> bytes:
    reply = t.producer.encrypt(KeyId=t.arn, Plaintext=PLAINTEXT, **_context(case))
    return bytes(reply["CiphertextBlob"])


def decrypt(w: World, client: Any, t: Target | None, case: Case) -> Call:
    t = _target(t)
    blob = _blob(t, case)

    def call() -> None:
        reply = client.decrypt(CiphertextBlob=blob, **_context(case))
        assert (reply["KeyId"], reply["Plaintext"]) == (t.arn, PLAINTEXT)

    return call


def re_encrypt(w: World, client: Any, t: Target | None, case: Case) -> Call:
    t = _target(t)
    blob = _blob(t, case)

    def call() -> None:
        reply = client.re_encrypt(
            CiphertextBlob=blob,
            DestinationKeyId=t.arn,
            **({} if case.context is None else {"SourceEncryptionContext": case.context}),
        )
        assert (reply["SourceKeyId"], reply["KeyId"]) == (t.arn, t.arn)

    return call


def generate_data_key(w: World, client: Any, t: Target | None, case: Case) -> Call:
    t = _target(t)

    def call() -> None:
        reply = client.generate_data_key(KeyId=t.arn, KeySpec="AES_256", **_context(case))
        assert (reply["KeyId"], len(reply["Plaintext"])) == (t.arn, 32)

    return call


def describe_key(w: World, client: Any, t: Target | None, case: Case) -> Call:
    t = _target(t)

    def call() -> None:
        assert client.describe_key(KeyId=t.arn)["KeyMetadata"]["Arn"] == t.arn

    return call


def disable_key(w: World, client: Any, t: Target | None, case: Case) -> Call:
    t = _target(t)

    def call() -> None:
        client.disable_key(KeyId=t.arn)
        assert w.record(t.key_id).state is KeyState.DISABLED

    return call


def schedule_key_deletion(w: World, client: Any, t: Target | None, case: Case) -> Call:
    t = _target(t)

    def call() -> None:
        reply = client.schedule_key_deletion(KeyId=t.arn, PendingWindowInDays=7)
        assert (reply["KeyId"], reply["KeyState"], reply["PendingWindowInDays"]) == (
            t.arn,
            "PendingDeletion",
            7,
        )
        assert w.record(t.key_id).state is KeyState.PENDING_DELETION

    return call


def put_key_policy(w: World, client: Any, t: Target | None, case: Case) -> Call:
    t = _target(t)
    text = w.record(t.key_id).policy + "\n"  # the same policy, told apart by its text

    def call() -> None:
        client.put_key_policy(KeyId=t.arn, PolicyName="default", Policy=text)
        assert w.record(t.key_id).policy == text

    return call


def get_key_policy(w: World, client: Any, t: Target | None, case: Case) -> Call:
    t = _target(t)

    def call() -> None:
        reply = client.get_key_policy(KeyId=t.arn, PolicyName="default")
        assert reply["Policy"] == w.record(t.key_id).policy

    return call


def create_key(w: World, client: Any, t: Target | None, case: Case) -> Call:
    tags = [{"TagKey": k, "TagValue": v} for k, v in (case.tags or {}).items()]

    def call() -> None:
        meta = client.create_key(Tags=tags)["KeyMetadata"]
        owner = w.b if case.who in USERS_B else w.a
        assert (meta["AWSAccountId"], meta["KeyState"]) == (owner, "Enabled")
        policy = json.loads(w.record(meta["KeyId"]).policy)
        assert policy["Statement"] == [enable_iam(owner)]

    return call


def list_keys(w: World, client: Any, t: Target | None, case: Case) -> Call:
    def call() -> None:
        keys = client.list_keys(Limit=1000)["Keys"]
        assert {k["KeyArn"] for k in keys} >= {w.delegated_key}

    return call


OPERATIONS: dict[str, tuple[str, Prepare]] = {
    "Encrypt": ("kms:Encrypt", encrypt),
    "EncryptById": ("kms:Encrypt", encrypt_by_id),
    "EncryptViaAlias": ("kms:Encrypt", _encrypt_via_alias(as_arn=False)),
    "EncryptViaAliasArn": ("kms:Encrypt", _encrypt_via_alias(as_arn=True)),
    "Decrypt": ("kms:Decrypt", decrypt),
    "ReEncrypt": ("kms:ReEncryptFrom", re_encrypt),
    "GenerateDataKey": ("kms:GenerateDataKey", generate_data_key),
    "DescribeKey": ("kms:DescribeKey", describe_key),
    "DisableKey": ("kms:DisableKey", disable_key),
    "ScheduleKeyDeletion": ("kms:ScheduleKeyDeletion", schedule_key_deletion),
    "PutKeyPolicy": ("kms:PutKeyPolicy", put_key_policy),
    "GetKeyPolicy": ("kms:GetKeyPolicy", get_key_policy),
    "CreateKey": ("kms:CreateKey", create_key),
    "ListKeys": ("kms:ListKeys", list_keys),
}


# --- the table ---------------------------------------------------------------------------------

D = ACCESS_DENIED
CASES = [
    # Key administrators (the console's statement) manage the key but cannot use it.
    Case("console", "keyadmin", "Encrypt", D, KEY),
    Case("console", "keyadmin", "Decrypt", D, KEY),
    Case("console", "keyadmin", "GenerateDataKey", D, KEY),
    Case("console", "keyadmin", "DescribeKey"),
    Case("console", "keyadmin", "DisableKey"),
    Case("console", "keyadmin", "PutKeyPolicy"),
    Case("console", "keyadmin", "GetKeyPolicy"),
    Case("console", "keyadmin", "ScheduleKeyDeletion"),
    # Key users use the key but cannot manage it.
    Case("console", "keyuser", "Encrypt"),
    Case("console", "keyuser", "Decrypt"),
    Case("console", "keyuser", "ReEncrypt"),
    Case("console", "keyuser", "GenerateDataKey"),
    Case("console", "keyuser", "DescribeKey"),
    Case("console", "keyuser", "ScheduleKeyDeletion", D, KEY),
    Case("console", "keyuser", "PutKeyPolicy", D, KEY),
    Case("console", "keyuser", "DisableKey", D, KEY),
    # Without the IAM statement, IAM policies do not reach the key: not even AdministratorAccess.
    Case("console", "admin", "Encrypt", D, KEY),
    Case("console", "admin", "DescribeKey", D, KEY),
    Case("console", "nobody", "DescribeKey", D, KEY),
    # A principal without IAM policies, on a key with the default policy, may do nothing.
    *(
        Case(DEFAULT, "nobody", op, D, IAM)
        for op in (
            "Encrypt",
            "Decrypt",
            "ReEncrypt",
            "GenerateDataKey",
            "DescribeKey",
            "DisableKey",
            "ScheduleKeyDeletion",
            "PutKeyPolicy",
            "GetKeyPolicy",
        )
    ),
    # ... nor anything on no key, which identity policies alone decide.
    Case(NO_KEY, "nobody", "CreateKey", D, IAM),
    Case(NO_KEY, "nobody", "ListKeys", D, IAM),
    Case(NO_KEY, "admin", "CreateKey"),
    Case(NO_KEY, "admin", "ListKeys"),
    Case(DEFAULT, "admin", "Encrypt"),
    Case(DEFAULT, "admin", "ScheduleKeyDeletion"),
    # The default key policy delegates to IAM: keyuser's IAM policy allows kms:Encrypt only, and
    # only on the delegated key.
    Case(DELEGATED, "keyuser", "Encrypt"),
    Case(DELEGATED, "keyuser", "Decrypt", D, IAM),
    Case(DELEGATED, "keyuser", "GenerateDataKey", D, IAM),
    Case(DELEGATED, "keyuser", "DescribeKey", D, IAM),
    Case(DEFAULT, "keyuser", "Encrypt", D, IAM),
    # Encryption context conditions. From here on the keys keep the IAM statement, so a refused
    # principal of account A is refused for want of an identity-based policy.
    Case("tenant-blue", "keyuser", "Decrypt", context={"tenant": "blue"}),
    Case("tenant-blue", "keyuser", "Decrypt", context={"tenant": "blue", "app": "web"}),
    Case("tenant-blue", "keyuser", "Decrypt", D, IAM, context={"tenant": "red"}),
    Case("tenant-blue", "keyuser", "Decrypt", D, IAM),
    Case("tenant-blue", "keyuser", "Decrypt", D, IAM, context={"app": "web"}),
    Case("context-keys", "keyuser", "Encrypt", context={"tenant": "blue"}),
    Case("context-keys", "keyuser", "Encrypt", context={"tenant": "blue", "purpose": "x"}),
    Case("context-keys", "keyuser", "Encrypt", D, IAM, context={"tenant": "blue", "app": "x"}),
    # kms:EncryptionContextKeys compares the keys as spelled (case-sensitively).
    Case("context-keys", "keyuser", "Encrypt", D, IAM, context={"Tenant": "blue"}),
    # ForAllValues holds for an absent key: no context at all is allowed (as in AWS).
    Case("context-keys", "keyuser", "Encrypt"),
    Case("context-present", "keyuser", "Encrypt", context={"tenant": "red"}),
    Case("context-present", "keyuser", "Encrypt", D, IAM),
    Case("context-present", "keyuser", "Encrypt", D, IAM, context={"purpose": "x"}),
    # An explicit Deny overrides any Allow: in the key policy ...
    Case("deny-decrypt", "keyuser", "Encrypt"),
    Case("deny-decrypt", "keyuser", "Decrypt", D, KEY_DENY),
    Case("deny-deletion", "admin", "DisableKey"),
    Case("deny-deletion", "admin", "ScheduleKeyDeletion", D, KEY_DENY),
    # ... and in an identity policy (app's denies kms:Decrypt).
    Case("app-user", "app", "Encrypt"),
    Case("app-user", "app", "Decrypt", D, IAM_DENY),
    # Cross-account use needs the key policy and the caller's own IAM policies.
    Case("share-b", "partner", "Encrypt"),
    Case("share-b", "partner", "Decrypt"),
    Case("share-b", "partner", "ReEncrypt"),
    Case("share-b", "partner", "GenerateDataKey"),
    Case("share-b", "partner", "DescribeKey"),
    Case("share-b", "partner", "ScheduleKeyDeletion", D, KEY),
    Case("share-b", "stranger", "Encrypt", D, IAM),
    Case("share-b", "partner", "EncryptById", "NotFoundException"),
    Case("share-partner", "partner", "Encrypt"),
    Case("share-partner", "stranger", "Encrypt", D, KEY),
    Case("share-stranger", "stranger", "Encrypt", D, IAM),
    Case(DEFAULT, "partner", "Encrypt", D, KEY),
    Case(DEFAULT, "partner", "DescribeKey", D, KEY),
    Case("share-anyone", "partner", "Encrypt"),
    Case("share-anyone", "stranger", "Encrypt", D, IAM),
    Case("share-anyone", "nobody", "Encrypt"),  # "*" names every principal of the account
    # Global and KMS condition keys.
    Case("caller-account", "keyuser", "Encrypt"),
    Case("caller-account", "partner", "Encrypt", D, KEY),
    Case("principal-arn", "app", "Encrypt"),
    Case("principal-arn", "keyuser", "Encrypt", D, IAM),
    Case("username", "keyuser", "Encrypt"),
    # aws:username is a user's: a role's request has none (AWS: "This key is included in the
    # request context for IAM users"; role sessions do not have it).
    Case("username", "app", "Encrypt", D, IAM),
    Case("request-alias", "keyuser", "EncryptViaAlias", alias="alias/allowed"),
    Case("request-alias", "keyuser", "EncryptViaAliasArn", alias="alias/allowed"),
    Case("request-alias", "keyuser", "EncryptViaAlias", D, IAM, alias="alias/other"),
    Case("request-alias", "keyuser", "Encrypt", D, IAM),
    Case("request-alias", "keyuser", "EncryptById", D, IAM),
    Case("resource-tag", "keyuser", "Encrypt", tags={"team": "blue"}),
    Case("resource-tag", "keyuser", "Encrypt", D, IAM, tags={"team": "red"}),
    Case("resource-tag", "keyuser", "Encrypt", D, IAM),
    Case(NO_KEY, "app", "CreateKey", tags={"team": "blue"}),
    Case(NO_KEY, "app", "CreateKey", D, IAM, tags={"team": "red"}),
    Case(NO_KEY, "app", "CreateKey", D, IAM, tags={"team": "blue", "cost": "1"}),
    Case(NO_KEY, "app", "CreateKey", D, IAM),
]


def _refused(call: Callable[[], object]) -> str:
    with aws_error(ACCESS_DENIED) as caught:
        call()
    return caught.message


def _target_for(w: World, case: Case) -> Target | None:
    if case.key == NO_KEY:
        return None
    if case.key == DELEGATED:
        return Target(w.delegated_key, w.delegated_key.rsplit("/", 1)[1], w.kms)
    if case.key == DEFAULT:
        meta = w.new_key(tags=case.tags)
        return Target(meta["Arn"], meta["KeyId"], w.kms)
    policy = POLICIES[case.key]
    meta = w.new_key(policy.text(w), case.tags, bypass=not policy.iam)
    return Target(meta["Arn"], meta["KeyId"], w.client(policy.producer))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_authorization(world: World, case: Case) -> None:
    action, prepare = OPERATIONS[case.op]
    target = _target_for(world, case)
    call = prepare(world, world.client(case.who), target, case)
    if case.outcome == OK:
        call()
        return
    with aws_error(case.outcome) as caught:
        call()
    if case.outcome != ACCESS_DENIED:
        return
    message = caught.message
    assert message.startswith(
        f"User: {world.arn(case.who)} is not authorized to perform: {action}"
    ), message
    assert reason(message) == case.why, message
    if target is not None and case.who not in USERS_B:
        assert f" on resource: {target.arn} " in message, message


def test_the_table_covers_every_policy_and_operation() -> None:
    assert {c.key for c in CASES} >= set(POLICIES) | {DEFAULT, DELEGATED, NO_KEY}
    assert {c.op for c in CASES} == set(OPERATIONS)
    assert len({c.id for c in CASES}) == len(CASES)


def test_denial_messages_are_worded_as_aws_words_them(world: World) -> None:
    def denial(policy: str | None, who: str, op: str) -> tuple[str, str]:
        prepare = OPERATIONS[op][1]
        case = Case(DEFAULT if policy is None else policy, who, op)
        target = _target_for(world, case)
        assert target is not None
        return _refused(prepare(world, world.client(who), target, case)), target.arn

    for policy, who, op, words in [
        (
            "console",
            "keyadmin",
            "Encrypt",
            "because no resource-based policy allows the {action} action",
        ),
        (None, "nobody", "Encrypt", "because no identity-based policy allows the {action} action"),
        ("deny-decrypt", "keyuser", "Decrypt", "with an explicit deny in a resource-based policy"),
        ("app-user", "app", "Decrypt", "with an explicit deny in an identity-based policy"),
    ]:
        action = OPERATIONS[op][0]
        message, arn = denial(policy, who, op)
        assert message == (
            f"User: {world.arn(who)} is not authorized to perform: {action} on resource: {arn} "
            + words.format(action=action)
        )


# --- one key, many requests ------------------------------------------------------------------


def test_conditions_are_evaluated_on_every_request(world: World) -> None:
    """Allowed and refused requests alternate on one key (and one principal): a decision that
    depended on the request is never reused for another request."""
    keyuser = world.client("keyuser")

    def expect(allowed: bool, operation: Callable[..., object], **request: Any) -> None:
        if allowed:
            operation(**request)
        else:
            _refused(lambda: operation(**request))

    # The encryption context.
    meta = world.new_key(POLICIES["tenant-blue"].text(world))
    blobs = {
        tenant: world.kms.encrypt(
            KeyId=meta["KeyId"], Plaintext=PLAINTEXT, EncryptionContext={"tenant": tenant}
        )["CiphertextBlob"]
        for tenant in ("blue", "red")
    }
    for tenant in ("blue", "red", "blue", "red", "blue"):
        expect(
            tenant == "blue",
            keyuser.decrypt,
            CiphertextBlob=blobs[tenant],
            EncryptionContext={"tenant": tenant},
        )
    # The alias the request names.
    meta = world.new_key(POLICIES["request-alias"].text(world))
    alias = f"alias/allowed-{meta['KeyId']}"
    world.kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    for ref in (alias, meta["KeyId"], alias, meta["Arn"], alias):
        expect(ref == alias, keyuser.encrypt, KeyId=ref, Plaintext=PLAINTEXT)
    # The key's tags, changed between requests.
    meta = world.new_key(POLICIES["resource-tag"].text(world), {"team": "blue"})
    for team in ("blue", "red", "blue"):
        world.kms.tag_resource(KeyId=meta["KeyId"], Tags=[{"TagKey": "team", "TagValue": team}])
        expect(team == "blue", keyuser.encrypt, KeyId=meta["Arn"], Plaintext=PLAINTEXT)
    # The caller.
    meta = world.new_key(POLICIES["principal-arn"].text(world))
    for who in ("app", "keyuser", "app", "keyuser"):
        expect(who == "app", world.client(who).encrypt, KeyId=meta["Arn"], Plaintext=PLAINTEXT)
    # The request's tags, for an identity policy (app may create keys tagged team=blue only).
    for team in ("blue", "red", "blue"):
        tags = [{"TagKey": "team", "TagValue": team}]
        expect(team == "blue", world.client("app").create_key, Tags=tags)


def test_a_changed_key_policy_applies_to_the_next_request(world: World) -> None:
    """An unconditional allow, once granted, does not outlive the key policy that gave it."""
    meta = world.new_key(POLICIES["console"].text(world), bypass=True)
    keyuser, keyadmin = world.client("keyuser"), world.client("keyadmin")
    for _ in range(3):
        assert keyuser.encrypt(KeyId=meta["Arn"], Plaintext=PLAINTEXT)["KeyId"] == meta["Arn"]
    admins_only = key_policy(allow(world.arn("keyadmin"), ADMIN_ACTIONS))
    keyadmin.put_key_policy(KeyId=meta["KeyId"], Policy=admins_only)
    _refused(lambda: keyuser.encrypt(KeyId=meta["Arn"], Plaintext=PLAINTEXT))
    keyadmin.put_key_policy(KeyId=meta["KeyId"], Policy=POLICIES["console"].text(world))
    assert keyuser.encrypt(KeyId=meta["Arn"], Plaintext=PLAINTEXT)["KeyId"] == meta["Arn"]


# --- identity changes --------------------------------------------------------------------------


def _poll(call: Callable[[], object], until: Callable[[str], bool]) -> tuple[str, float]:
    """Repeat ``call`` until its outcome (OK or an error code) satisfies ``until``; return the
    outcome and how long it took. Gives up after a few deadlines."""
    started = time.monotonic()
    while True:
        try:
            call()
            outcome = OK
        except ClientError as error:
            outcome = str(error.response["Error"]["Code"])
        elapsed = time.monotonic() - started
        if until(outcome) or elapsed > 5 * DEADLINE:
            return outcome, elapsed
        time.sleep(0.02)


def test_an_iam_policy_given_to_nobody_lets_it_create_keys_within_a_second(world: World) -> None:
    nobody = world.client("nobody")
    with aws_error(ACCESS_DENIED) as caught:
        nobody.create_key()
    assert caught.message == (
        f"User: {world.arn('nobody')} is not authorized to perform: kms:CreateKey because no "
        "identity-based policy allows the kms:CreateKey action"
    )
    world.admin.put_user_policy(
        world.a, "nobody", "CreateKeys", iam_policy(iam_statement("Allow", "kms:CreateKey"))
    )
    outcome, elapsed = _poll(nobody.create_key, lambda o: o == OK)
    assert (outcome, elapsed < DEADLINE) == (OK, True), elapsed
    # Its own new key has the default policy, which delegates to IAM: it may not use it.
    key_id = nobody.create_key()["KeyMetadata"]["KeyId"]
    with aws_error(ACCESS_DENIED):
        nobody.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)
    world.admin.delete_user_policy(world.a, "nobody", "CreateKeys")
    outcome, elapsed = _poll(nobody.create_key, lambda o: o != OK)
    assert (outcome, elapsed < DEADLINE) == (ACCESS_DENIED, True), elapsed


def test_a_deleted_access_key_stops_working_within_a_second(world: World) -> None:
    world.admin.create_user(world.a, "shortlived")
    world.admin.put_user_policy(
        world.a, "shortlived", "List", iam_policy(iam_statement("Allow", "kms:ListKeys"))
    )
    doomed = world.admin.create_access_key(world.a, "shortlived")
    other = world.admin.create_access_key(world.a, "shortlived")
    client, second = world.server.client(doomed), world.server.client(other)
    assert client.list_keys()["Keys"] and second.list_keys()["Keys"]
    world.admin.delete_access_key(doomed.access_key_id)
    outcome, elapsed = _poll(client.list_keys, lambda o: o != OK)
    assert (outcome, elapsed < DEADLINE) == ("UnrecognizedClientException", True), elapsed
    with aws_error("UnrecognizedClientException"):
        client.list_keys()
    assert second.list_keys()["Keys"]  # the user's other key still works


# --- cross-account -----------------------------------------------------------------------------


def test_removing_account_b_from_the_key_policy_refuses_partner_at_once(world: World) -> None:
    meta = world.new_key(POLICIES["share-b"].text(world))
    partner = world.client("partner")
    assert partner.encrypt(KeyId=meta["Arn"], Plaintext=PLAINTEXT)["KeyId"] == meta["Arn"]
    world.kms.put_key_policy(KeyId=meta["KeyId"], Policy=key_policy(enable_iam(world.a)))
    with aws_error(ACCESS_DENIED) as caught:
        partner.encrypt(KeyId=meta["Arn"], Plaintext=PLAINTEXT)
    assert caught.message.startswith(
        f"User: {world.arn('partner')} is not authorized to perform: kms:Encrypt"
    )


@pytest.mark.parametrize(
    ("policy", "who"),
    [
        (None, "partner"),
        (None, "stranger"),
        ("share-b", "stranger"),
        ("share-stranger", "stranger"),
    ],
)
def test_a_refused_decrypt_from_another_account_does_not_name_the_key(
    world: World, policy: str | None, who: str
) -> None:
    """Whoever holds a ciphertext of A's key learns nothing about the key from a refusal."""
    meta = world.new_key(None if policy is None else POLICIES[policy].text(world))
    blob = world.kms.encrypt(KeyId=meta["KeyId"], Plaintext=PLAINTEXT)["CiphertextBlob"]
    client = world.client(who)
    with aws_error(ACCESS_DENIED) as caught:
        client.decrypt(CiphertextBlob=blob)
    message = caught.message
    assert message.startswith(f"User: {world.arn(who)} is not authorized to perform: kms:Decrypt")
    for secret in (meta["Arn"], meta["KeyId"], world.a):
        assert secret not in message, message
    # Nor does a refused ReEncrypt from it, nor a DryRun.
    with aws_error(ACCESS_DENIED) as caught:
        client.re_encrypt(CiphertextBlob=blob, DestinationKeyId=meta["Arn"])
    with aws_error(ACCESS_DENIED) as dry:
        client.decrypt(CiphertextBlob=blob, DryRun=True)
    for text in (caught.message, dry.message):
        assert meta["KeyId"] not in text and world.a not in text, text


def test_partner_decrypts_a_ciphertext_of_a_shared_key(world: World) -> None:
    meta = world.new_key(POLICIES["share-b"].text(world))
    blob = world.kms.encrypt(
        KeyId=meta["KeyId"], Plaintext=PLAINTEXT, EncryptionContext={"tenant": "blue"}
    )["CiphertextBlob"]
    reply = world.client("partner").decrypt(
        CiphertextBlob=blob, EncryptionContext={"tenant": "blue"}
    )
    assert (reply["KeyId"], reply["Plaintext"]) == (meta["Arn"], PLAINTEXT)


# --- grants ------------------------------------------------------------------------------------

PURPOSE = {"purpose": "test"}
SUBSET = {"EncryptionContextSubset": PURPOSE}


@dataclass
class Granted:
    arn: str
    key_id: str
    grant_id: str
    token: str


def _grant(
    w: World,
    operations: list[str],
    constraints: dict[str, Any] | None = None,
    grantee: str = "nobody",
    **extra: Any,
) -> Granted:
    meta = w.new_key()
    request: dict[str, Any] = {"Constraints": constraints} if constraints else {}
    reply = w.kms.create_grant(
        KeyId=meta["KeyId"],
        GranteePrincipal=w.arn(grantee),
        Operations=operations,
        **request,
        **extra,
    )
    return Granted(meta["Arn"], meta["KeyId"], reply["GrantId"], reply["GrantToken"])


def test_a_grant_allows_its_operations_under_its_constraints(world: World) -> None:
    g = _grant(world, ["Encrypt", "Decrypt"], SUBSET)
    nobody = world.client("nobody")
    for context in (PURPOSE, {**PURPOSE, "extra": "x"}, {"PURPOSE": "test"}):
        reply = nobody.encrypt(KeyId=g.arn, Plaintext=PLAINTEXT, EncryptionContext=context)
        assert reply["KeyId"] == g.arn
        back = nobody.decrypt(CiphertextBlob=reply["CiphertextBlob"], EncryptionContext=context)
        assert back["Plaintext"] == PLAINTEXT
    message = _refused(lambda: nobody.encrypt(KeyId=g.arn, Plaintext=PLAINTEXT))
    assert message.startswith(
        f"User: {world.arn('nobody')} is not authorized to perform: kms:Encrypt"
    )
    _refused(
        lambda: nobody.encrypt(
            KeyId=g.arn, Plaintext=PLAINTEXT, EncryptionContext={"purpose": "Test"}
        )
    )
    message = _refused(
        lambda: nobody.generate_data_key(KeyId=g.arn, KeySpec="AES_256", EncryptionContext=PURPOSE)
    )
    assert "kms:GenerateDataKey" in message
    _refused(lambda: nobody.describe_key(KeyId=g.arn))
    # The grant is for nobody alone.
    _refused(
        lambda: world.client("keyadmin").encrypt(
            KeyId=g.arn, Plaintext=PLAINTEXT, EncryptionContext=PURPOSE
        )
    )


def test_list_grants_shows_a_grant_exactly(world: World) -> None:
    before = datetime.now(UTC)
    g = _grant(
        world,
        ["Encrypt", "Decrypt"],
        SUBSET,
        Name="for-nobody",
        RetiringPrincipal=world.arn("keyuser"),
    )
    listing = world.kms.list_grants(KeyId=g.key_id)
    assert listing["Truncated"] is False
    [entry] = listing["Grants"]
    created = entry.pop("CreationDate")
    assert before - timedelta(seconds=5) <= created <= datetime.now(UTC) + timedelta(seconds=5)
    assert entry == {
        "KeyId": g.arn,
        "GrantId": g.grant_id,
        "Name": "for-nobody",
        "GranteePrincipal": world.arn("nobody"),
        "RetiringPrincipal": world.arn("keyuser"),
        "IssuingAccount": root_arn(world.a),
        "Operations": ["Encrypt", "Decrypt"],
        "Constraints": SUBSET,
    }
    assert world.kms.list_grants(KeyId=g.arn, GrantId=g.grant_id)["Grants"][0]["GrantId"] == (
        g.grant_id
    )
    assert world.kms.list_grants(KeyId=g.arn, GranteePrincipal=world.arn("keyuser"))["Grants"] == []
    retirable = world.kms.list_retirable_grants(RetiringPrincipal=world.arn("keyuser"))
    assert g.grant_id in {r["GrantId"] for r in retirable["Grants"]}


def test_a_grant_token_works_at_once(world: World) -> None:
    g = _grant(world, ["Encrypt"])
    reply = world.client("nobody").encrypt(KeyId=g.arn, Plaintext=PLAINTEXT, GrantTokens=[g.token])
    assert reply["KeyId"] == g.arn


def test_an_invalid_grant_token_is_refused(world: World) -> None:
    g = _grant(world, ["Encrypt"])
    nobody = world.client("nobody")
    forged = g.token[:-4] + ("0000" if not g.token.endswith("0000") else "1111")
    for token in ("not-a-grant-token", forged):
        with aws_error("InvalidGrantTokenException"):
            nobody.encrypt(KeyId=g.arn, Plaintext=PLAINTEXT, GrantTokens=[token])
    # A real token of a grant for another key gives nothing on this one.
    other = world.new_key()
    message = _refused(
        lambda: nobody.encrypt(KeyId=other["Arn"], Plaintext=PLAINTEXT, GrantTokens=[g.token])
    )
    assert "kms:Encrypt" in message


def test_retire_grant_by_the_retiring_principal_takes_effect_at_once(world: World) -> None:
    g = _grant(world, ["Encrypt"], RetiringPrincipal=world.arn("keyuser"))
    nobody = world.client("nobody")
    assert nobody.encrypt(KeyId=g.arn, Plaintext=PLAINTEXT)["KeyId"] == g.arn
    world.client("keyuser").retire_grant(KeyId=g.arn, GrantId=g.grant_id)
    _refused(lambda: nobody.encrypt(KeyId=g.arn, Plaintext=PLAINTEXT))
    assert world.kms.list_grants(KeyId=g.arn)["Grants"] == []
    # By token, too.
    g = _grant(world, ["Encrypt"], RetiringPrincipal=world.arn("keyuser"))
    world.client("keyuser").retire_grant(GrantToken=g.token)
    _refused(lambda: nobody.encrypt(KeyId=g.arn, Plaintext=PLAINTEXT))


def test_the_grantee_retires_a_grant_only_if_it_allows_retire_grant(world: World) -> None:
    """The grantee here is in account B, so only the grant can let it retire."""
    stranger = world.client("stranger")
    g = _grant(world, ["Encrypt"], grantee="stranger")
    message = _refused(lambda: stranger.retire_grant(KeyId=g.arn, GrantId=g.grant_id))
    assert message.startswith(f"User: {world.arn('stranger')} "), message
    g = _grant(world, ["Encrypt", "RetireGrant"], grantee="stranger")
    assert stranger.encrypt(KeyId=g.arn, Plaintext=PLAINTEXT)["KeyId"] == g.arn
    stranger.retire_grant(KeyId=g.arn, GrantId=g.grant_id)
    _refused(lambda: stranger.encrypt(KeyId=g.arn, Plaintext=PLAINTEXT))


def test_another_account_cannot_retire_a_grant(world: World) -> None:
    g = _grant(world, ["Encrypt"], RetiringPrincipal=world.arn("keyuser"))
    _refused(lambda: world.client("stranger").retire_grant(KeyId=g.arn, GrantId=g.grant_id))
    _refused(lambda: world.client("partner").retire_grant(GrantToken=g.token))
    assert [x["GrantId"] for x in world.kms.list_grants(KeyId=g.arn)["Grants"]] == [g.grant_id]


def test_a_retiring_principal_in_another_account_retires_the_grant(world: World) -> None:
    g = _grant(world, ["Encrypt"], RetiringPrincipal=world.arn("partner"))
    listed = world.client("badmin").list_retirable_grants(RetiringPrincipal=world.arn("partner"))
    assert [x["GrantId"] for x in listed["Grants"]] == [g.grant_id]
    assert listed["Grants"][0]["KeyId"] == g.arn
    world.client("partner").retire_grant(KeyId=g.arn, GrantId=g.grant_id)
    assert world.kms.list_grants(KeyId=g.arn)["Grants"] == []


def test_list_retirable_grants_names_a_principal_of_the_callers_account(world: World) -> None:
    """AWS: "Cross-account use: You must specify a principal in your Amazon Web Services
    account." A's administrator must not see the grants of B's keys by naming B's
    principal."""
    badmin = world.client("badmin")
    b_key = badmin.create_key()["KeyMetadata"]
    secret = badmin.create_grant(
        KeyId=b_key["KeyId"],
        GranteePrincipal=world.arn("stranger"),
        RetiringPrincipal=world.arn("stranger"),
        Operations=["Decrypt"],
        Name="b-internal",
    )
    try:
        listed = world.kms.list_retirable_grants(RetiringPrincipal=world.arn("stranger"))
    except ClientError as error:
        assert error.response["Error"]["Code"] in (ACCESS_DENIED, "ValidationException")
        return
    seen = {x["GrantId"] for x in listed["Grants"]}
    assert secret["GrantId"] not in seen, listed["Grants"]


def test_the_account_retires_grants_through_principals_it_allows_kms_retire_grant(
    world: World,
) -> None:
    """AWS: "As a backup, the AWS account in which the grant was created can retire the grant
    ... The AWS account that owns the KMS key can delegate the kms:RetireGrant permission to an
    IAM principal in the account." A principal of the account without that permission (here
    keyadmin, who has no IAM policy at all) is not the account, and may not retire a grant it
    is neither grantee nor retiring principal of. The admin (AdministratorAccess) may."""
    g = _grant(world, ["Encrypt"], RetiringPrincipal=world.arn("keyuser"))
    _refused(lambda: world.client("keyadmin").retire_grant(KeyId=g.arn, GrantId=g.grant_id))
    assert [x["GrantId"] for x in world.kms.list_grants(KeyId=g.arn)["Grants"]] == [g.grant_id]
    world.kms.retire_grant(KeyId=g.arn, GrantId=g.grant_id)
    assert world.kms.list_grants(KeyId=g.arn)["Grants"] == []


def test_an_iam_deny_of_retire_grant_stops_the_retiring_principal(world: World) -> None:
    """AWS: "To deny permission to retire a grant, you can use a Deny action with the
    kms:RetireGrant permission in your IAM policies." app's IAM policy denies it."""
    g = _grant(world, ["Encrypt"], RetiringPrincipal=world.arn("app"))
    message = _refused(lambda: world.client("app").retire_grant(KeyId=g.arn, GrantId=g.grant_id))
    assert "kms:RetireGrant" in message
    assert [x["GrantId"] for x in world.kms.list_grants(KeyId=g.arn)["Grants"]] == [g.grant_id]


def test_revoke_grant_by_the_admin_takes_effect_at_once(world: World) -> None:
    g = _grant(world, ["Encrypt"], RetiringPrincipal=world.arn("keyuser"))
    nobody = world.client("nobody")
    assert nobody.encrypt(KeyId=g.arn, Plaintext=PLAINTEXT)["KeyId"] == g.arn
    # The retiring principal may retire, but revoking needs kms:RevokeGrant.
    message = _refused(
        lambda: world.client("keyuser").revoke_grant(KeyId=g.arn, GrantId=g.grant_id)
    )
    assert "kms:RevokeGrant" in message
    world.kms.revoke_grant(KeyId=g.arn, GrantId=g.grant_id)
    _refused(lambda: nobody.encrypt(KeyId=g.arn, Plaintext=PLAINTEXT))
    with aws_error("InvalidGrantIdException"):
        world.kms.revoke_grant(KeyId=g.arn, GrantId=g.grant_id)


def test_a_grantee_with_create_grant_creates_narrower_grants_only(world: World) -> None:
    g = _grant(world, ["Encrypt", "Decrypt", "CreateGrant"])
    nobody, app = world.client("nobody"), world.client("app")
    _refused(lambda: app.encrypt(KeyId=g.arn, Plaintext=PLAINTEXT))
    message = _refused(
        lambda: nobody.create_grant(
            KeyId=g.arn,
            GranteePrincipal=world.arn("app"),
            Operations=["Encrypt", "GenerateDataKey"],
        )
    )
    assert message.startswith(f"User: {world.arn('nobody')} "), message
    child = nobody.create_grant(
        KeyId=g.arn, GranteePrincipal=world.arn("app"), Operations=["Encrypt"]
    )
    reply = app.encrypt(KeyId=g.arn, Plaintext=PLAINTEXT, GrantTokens=[child["GrantToken"]])
    assert reply["KeyId"] == g.arn
    _refused(lambda: app.generate_data_key(KeyId=g.arn, KeySpec="AES_256"))
    # A sub-grant may carry constraints its parent does not have (it is only narrower).
    nobody.create_grant(
        KeyId=g.arn, GranteePrincipal=world.arn("app"), Operations=["Encrypt"], Constraints=SUBSET
    )
    grants = world.kms.list_grants(KeyId=g.arn)["Grants"]
    assert len(grants) == 3


def test_a_constrained_grant_with_create_grant_allows_sub_grants_as_strict(world: World) -> None:
    """AWS: "If a grant with a grant constraint includes the CreateGrant operation, the
    constraint requires that any grants created with the CreateGrant permission have an
    equally strict or stricter encryption context constraint." A CreateGrant request carries
    no EncryptionContext of its own, so the parent's constraint is checked against the new
    grant's Constraints."""
    g = _grant(world, ["Encrypt", "CreateGrant"], SUBSET)
    nobody = world.client("nobody")
    # Looser than the parent: refused.
    _refused(
        lambda: nobody.create_grant(
            KeyId=g.arn, GranteePrincipal=world.arn("app"), Operations=["Encrypt"]
        )
    )
    # As strict, and stricter: allowed.
    for constraints in (SUBSET, {"EncryptionContextEquals": PURPOSE}):
        grant_id = nobody.create_grant(
            KeyId=g.arn,
            GranteePrincipal=world.arn("app"),
            Operations=["Encrypt"],
            Constraints=constraints,
        )["GrantId"]
        listed = world.kms.list_grants(KeyId=g.arn, GrantId=grant_id)["Grants"]
        assert [(e["GranteePrincipal"], e["Constraints"]) for e in listed] == [
            (world.arn("app"), constraints)
        ]


def test_a_constrained_grant_may_include_describe_key(world: World) -> None:
    """AWS: "Grants with grant constraints can include the DescribeKey and RetireGrant
    operations, but the constraint doesn't apply to these operations.\""""
    g = _grant(world, ["Encrypt", "DescribeKey"], SUBSET)
    assert world.client("nobody").describe_key(KeyId=g.arn)["KeyMetadata"]["Arn"] == g.arn


def test_a_constrained_grant_allows_re_encrypt_in_its_context(world: World) -> None:
    """ReEncrypt has no EncryptionContext member: its contexts are SourceEncryptionContext
    (ReEncryptFrom) and DestinationEncryptionContext (ReEncryptTo). With both in the grant's
    context, the grant allows it."""
    g = _grant(world, ["ReEncryptFrom", "ReEncryptTo"], SUBSET)
    blob = world.kms.encrypt(KeyId=g.arn, Plaintext=PLAINTEXT, EncryptionContext=PURPOSE)[
        "CiphertextBlob"
    ]
    nobody = world.client("nobody")
    _refused(
        lambda: nobody.re_encrypt(
            CiphertextBlob=blob, SourceEncryptionContext=PURPOSE, DestinationKeyId=g.arn
        )
    )
    reply = nobody.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext=PURPOSE,
        DestinationKeyId=g.arn,
        DestinationEncryptionContext=PURPOSE,
    )
    assert reply["KeyId"] == g.arn


def test_a_grant_name_makes_create_grant_idempotent(world: World) -> None:
    meta = world.new_key()
    request = {
        "KeyId": meta["KeyId"],
        "GranteePrincipal": world.arn("nobody"),
        "Operations": ["Encrypt", "Decrypt"],
        "Constraints": SUBSET,
        "Name": "retried",
    }
    first = world.kms.create_grant(**request)
    again = world.kms.create_grant(**request)
    reordered = world.kms.create_grant(**{**request, "Operations": ["Decrypt", "Encrypt"]})
    assert first["GrantId"] == again["GrantId"] == reordered["GrantId"]
    assert len(world.kms.list_grants(KeyId=meta["KeyId"])["Grants"]) == 1
    different = world.kms.create_grant(**{**request, "Operations": ["Encrypt"]})
    assert different["GrantId"] != first["GrantId"]
    unnamed = {k: v for k, v in request.items() if k != "Name"}
    assert (
        world.kms.create_grant(**unnamed)["GrantId"] != world.kms.create_grant(**unnamed)["GrantId"]
    )
    assert len(world.kms.list_grants(KeyId=meta["KeyId"])["Grants"]) == 4


def test_a_grant_does_not_override_an_explicit_deny(world: World) -> None:
    meta = world.new_key(POLICIES["deny-decrypt"].text(world))
    world.kms.create_grant(
        KeyId=meta["KeyId"], GranteePrincipal=world.arn("keyuser"), Operations=["Decrypt"]
    )
    keyuser = world.client("keyuser")
    blob = keyuser.encrypt(KeyId=meta["KeyId"], Plaintext=PLAINTEXT)["CiphertextBlob"]
    message = _refused(lambda: keyuser.decrypt(CiphertextBlob=blob))
    assert reason(message) == KEY_DENY, message


def test_a_grant_lets_another_account_use_the_key(world: World) -> None:
    """Grants work across accounts: stranger has no IAM policy and no place in the policy."""
    g = _grant(world, ["Encrypt"], grantee="stranger")
    reply = world.client("stranger").encrypt(KeyId=g.arn, Plaintext=PLAINTEXT)
    assert reply["KeyId"] == g.arn


# --- the key policy itself -----------------------------------------------------------------------

LOCKED_OUT = "The new key policy will not allow you to update the key policy in the future."
INVALID_PRINCIPALS = "Policy contains a statement with one or more invalid principals."


def test_the_lockout_safety_check(world: World) -> None:
    console = POLICIES["console"].text(world)
    meta = world.new_key(console, bypass=True)
    keyadmin = world.client("keyadmin")
    users_only = key_policy(allow(world.arn("keyuser"), USER_ACTIONS))
    with aws_error("MalformedPolicyDocumentException") as caught:
        keyadmin.put_key_policy(KeyId=meta["KeyId"], Policy=users_only)
    assert caught.message == LOCKED_OUT
    assert world.record(meta["KeyId"]).policy == console
    keyadmin.put_key_policy(
        KeyId=meta["KeyId"], Policy=users_only, BypassPolicyLockoutSafetyCheck=True
    )
    assert world.record(meta["KeyId"]).policy == users_only
    _refused(lambda: keyadmin.get_key_policy(KeyId=meta["KeyId"]))

    # The admin's access comes from the IAM statement: a policy without it locks the admin out.
    meta = world.new_key()
    with aws_error("MalformedPolicyDocumentException") as caught:
        world.kms.put_key_policy(KeyId=meta["KeyId"], Policy=console)
    assert caught.message == LOCKED_OUT
    world.kms.put_key_policy(
        KeyId=meta["KeyId"],
        Policy=key_policy(enable_iam(world.a), allow(world.arn("keyuser"), "kms:Encrypt")),
    )
    # CreateKey applies the same check.
    with aws_error("MalformedPolicyDocumentException") as caught:
        world.kms.create_key(Policy=console)
    assert caught.message == LOCKED_OUT


@pytest.mark.parametrize(
    "principal",
    [
        "arn:aws:iam::{a}:user/ghost",
        "arn:aws:iam::{a}:role/ghost",
        "arn:aws:iam::{a}:role/keyuser",  # keyuser is a user, not a role
        "arn:aws:iam::{b}:user/keyuser",  # keyuser is in A
        "arn:aws:iam::999999999999:root",
        "999999999999",
    ],
)
def test_a_policy_naming_a_principal_that_does_not_exist_is_malformed(
    world: World, principal: str
) -> None:
    named = principal.format(a=world.a, b=world.b)
    policy = key_policy(enable_iam(world.a), allow(named, "kms:Encrypt"))
    meta = world.new_key()
    for bypass in (False, True):
        with aws_error("MalformedPolicyDocumentException") as caught:
            world.kms.put_key_policy(
                KeyId=meta["KeyId"], Policy=policy, BypassPolicyLockoutSafetyCheck=bypass
            )
        assert caught.message == INVALID_PRINCIPALS
        with aws_error("MalformedPolicyDocumentException") as caught:
            world.kms.create_key(Policy=policy, BypassPolicyLockoutSafetyCheck=bypass)
        assert caught.message == INVALID_PRINCIPALS
    assert world.record(meta["KeyId"]).policy != policy


def test_get_key_policy_returns_exactly_the_text_put(world: World) -> None:
    # Odd spacing and member order, a Sid with spaces, escapes: the text comes back unchanged.
    text = (
        '{"Statement" :[ {"Sid":"Enable IAM User Permissions \\u00e9", "Effect":"Allow",'
        f'\n\t"Principal":{{"AWS":"{root_arn(world.a)}"}},"Action":"kms:*","Resource":"*"}}],'
        '   "Version":"2012-10-17"}  '
    )
    meta = world.new_key()
    world.kms.put_key_policy(KeyId=meta["KeyId"], PolicyName="default", Policy=text)
    reply = world.kms.get_key_policy(KeyId=meta["KeyId"])
    assert (reply["Policy"], reply["PolicyName"]) == (text, "default")
    assert world.kms.get_key_policy(KeyId=meta["Arn"], PolicyName="default")["Policy"] == text
    listing = world.kms.list_key_policies(KeyId=meta["KeyId"])
    assert (listing["PolicyNames"], listing["Truncated"]) == (["default"], False)
    with aws_error("NotFoundException"):
        world.kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="other")
    # And CreateKey keeps the text too.
    created = world.kms.create_key(Policy=text)["KeyMetadata"]
    assert world.kms.get_key_policy(KeyId=created["KeyId"])["Policy"] == text


def test_a_key_created_without_a_policy_gets_the_default_policy(world: World) -> None:
    meta = world.new_key()
    policy = json.loads(world.kms.get_key_policy(KeyId=meta["KeyId"])["Policy"])
    assert policy["Statement"] == [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": root_arn(world.a)},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]


def test_alias_operations_need_the_action_on_the_alias_too(tmp_path: Path) -> None:
    """CreateAlias needs kms:CreateAlias on the alias (identity policy) and on the key (key
    policy), as in AWS: a key policy naming the user is not enough."""
    with in_process_server(tmp_path / "data") as server:
        data = open_data_dir(server.settings)
        admin = data.admin
        account = server.admin_key.account_id
        admin.create_user(account, "aliaser")
        issued = admin.create_access_key(account, "aliaser")
        admin_kms, user_kms = server.client(), server.client(issued)
        user_arn = f"arn:aws:iam::{account}:user/aliaser"
        policy = (
            '{"Version": "2012-10-17", "Statement": [{"Sid": "Admin", "Effect": "Allow", '
            f'"Principal": {{"AWS": "arn:aws:iam::{account}:user/admin"}}, "Action": "kms:*", '
            '"Resource": "*"}, {"Sid": "Aliaser", "Effect": "Allow", '
            f'"Principal": {{"AWS": "{user_arn}"}}, "Action": "kms:*Alias", "Resource": "*"}}]}}'
        )
        key_id = admin_kms.create_key(Policy=policy)["KeyMetadata"]["KeyId"]
        with aws_error("AccessDeniedException") as error:
            user_kms.create_alias(AliasName="alias/mine", TargetKeyId=key_id)
        assert ":alias/mine because no identity-based policy" in error.message
        admin.put_user_policy(
            account,
            "aliaser",
            "Aliases",
            (
                '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                '"Action": ["kms:CreateAlias", "kms:DeleteAlias"], '
                f'"Resource": "arn:aws:kms:us-east-1:{account}:alias/mine"}}]}}'
            ),
        )
        deadline = time.monotonic() + 2
        while True:
            try:
                user_kms.create_alias(AliasName="alias/mine", TargetKeyId=key_id)
                break
            except user_kms.exceptions.ClientError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        with aws_error("AccessDeniedException"):
            user_kms.create_alias(AliasName="alias/other", TargetKeyId=key_id)
        user_kms.delete_alias(AliasName="alias/mine")
        data.db.engine.dispose()
