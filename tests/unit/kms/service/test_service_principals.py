"""kms:ViaService, kms:CallerAccount and service principals, end to end through the pipeline.

Customer managed keys whose policies name services the way AWS's own examples do; calls made
as a user through a service (``Caller.via_service``) and by a service as itself
(``Caller.service``), on real parts.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from strongroom.kms.audit.log import MemoryAuditLog
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.errors import AccessDeniedException, KmsError, ValidationException
from strongroom.kms.service.admin import ADMINISTRATOR_POLICY, Admin
from strongroom.kms.service.authorization import PolicyAuthorizer
from strongroom.kms.service.caller import Caller
from strongroom.kms.service.pipeline import Pipeline
from strongroom.kms.service.registry import OPERATIONS
from strongroom.kms.storage.engine import sqlite_url
from strongroom.kms.storage.grants import GrantRepository
from tests.support.lifecycle import REGION, Parts, SettableClock, build_parts, create_key
from tests.support.policies import enable_iam, key_policy, user_arn

A = "111122223333"
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
S3 = "s3.us-east-1.amazonaws.com"
BUCKET = "arn:aws:s3:::reports"
ALICE = user_arn(A, "alice")
ADMIN = user_arn(A, "admin")


@dataclass
class World:
    parts: Parts
    pipeline: Pipeline

    def key(self, *statements: dict[str, Any]) -> KeyRecord:
        return create_key(self.parts, A, NOW, policy=key_policy(*statements))

    def run(self, operation: str, request: dict[str, Any], caller: Caller) -> dict[str, object]:
        return self.pipeline.execute(OPERATIONS[operation], request, caller, "request-1")

    def refused(self, operation: str, request: dict[str, Any], caller: Caller) -> KmsError:
        with pytest.raises(KmsError) as info:
            self.run(operation, request, caller)
        return info.value


def user(arn: str, via: str | None = None) -> Caller:
    return Caller(A, arn, "AKIATESTSERVICE00000", "127.0.0.1", REGION, via)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    parts = build_parts(sqlite_url(tmp_path), "store", secrets.token_bytes(32), SettableClock(NOW))
    ctx = parts.ctx
    admin = Admin(ctx.identity, ctx.store, ctx.clock)
    admin.create_account("a", A)
    admin.create_user(A, "alice")
    admin.create_user(A, "admin")
    admin.put_user_policy(A, "admin", "AdministratorAccess", ADMINISTRATOR_POLICY)
    authorizer = PolicyAuthorizer(ctx.policies, GrantRepository(ctx.db))
    try:
        yield World(parts, Pipeline(ctx, authorizer, MemoryAuditLog()))
    finally:
        parts.close()


def test_via_service_and_caller_account_conditions(world: World) -> None:
    key = world.key(
        enable_iam(A),
        {
            "Sid": "UseThroughS3Only",
            "Effect": "Allow",
            "Principal": {"AWS": ALICE},
            "Action": ["kms:Encrypt", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": S3, "kms:CallerAccount": A}},
        },
    )
    request = {"KeyId": key.key_id, "Plaintext": b"x"}
    assert world.run("Encrypt", request, user(ALICE, S3))["KeyId"] == key.arn
    assert isinstance(world.refused("Encrypt", request, user(ALICE)), AccessDeniedException)
    other = user(ALICE, "sqs.us-east-1.amazonaws.com")
    assert isinstance(world.refused("Encrypt", request, other), AccessDeniedException)


def test_a_deny_unless_via_service_stops_direct_use(world: World) -> None:
    key = world.key(
        enable_iam(A),
        {
            "Sid": "NoDirectDecrypt",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"Null": {"kms:ViaService": "true"}},
        },
    )
    blob = world.run("Encrypt", {"KeyId": key.key_id, "Plaintext": b"x"}, user(ADMIN))
    request = {"CiphertextBlob": blob["CiphertextBlob"]}
    denied = world.refused("Decrypt", request, user(ADMIN))
    assert "explicit deny in a resource-based policy" in denied.message
    assert world.run("Decrypt", request, user(ADMIN, S3))["Plaintext"] == b"x"


def test_key_policy_names_a_service_principal(world: World) -> None:
    key = world.key(
        enable_iam(A),
        {
            "Sid": "LogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "logs.amazonaws.com"},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceArn": BUCKET}},
        },
    )
    request = {"KeyId": key.arn, "KeySpec": "AES_256"}
    logs = Caller.service("logs.amazonaws.com", A, REGION, source_arn=BUCKET)
    assert len(world.run("GenerateDataKey", request, logs)["Plaintext"]) == 32  # type: ignore[arg-type]
    for caller in (
        Caller.service("logs.amazonaws.com", A, REGION, source_arn="arn:aws:s3:::other"),
        Caller.service("s3.amazonaws.com", A, REGION, source_arn=BUCKET),
    ):
        refused = world.refused("GenerateDataKey", request, caller)
        assert isinstance(refused, AccessDeniedException)
        assert refused.message.startswith(f"User: {caller.principal_arn} is not authorized")


def test_grants_to_a_service_principal_need_and_check_a_source_arn(world: World) -> None:
    key = world.key(enable_iam(A))
    admin = user(ADMIN)
    base = {"KeyId": key.key_id, "Operations": ["Encrypt", "Decrypt"]}
    for request, says in (
        ({**base, "GranteeServicePrincipal": "s3.amazonaws.com", "RetiringPrincipal": ADMIN},
         "SourceArn"),
        ({**base, "GranteeServicePrincipal": "s3.amazonaws.com",
          "Constraints": {"SourceArn": BUCKET}}, "RetiringPrincipal"),
        ({**base, "GranteePrincipal": ALICE, "GranteeServicePrincipal": "s3.amazonaws.com"},
         "not both"),
        ({**base, "GranteePrincipal": ALICE, "Constraints": {"SourceArn": BUCKET}},
         "service principals only"),
        ({**base, "GranteeServicePrincipal": "not a service", "RetiringPrincipal": ADMIN,
          "Constraints": {"SourceArn": BUCKET}}, "not a valid service principal"),
    ):  # fmt: skip
        refused = world.refused("CreateGrant", request, admin)
        assert isinstance(refused, ValidationException) and says in refused.message, says
    world.run(
        "CreateGrant",
        {
            **base,
            "GranteeServicePrincipal": "s3.amazonaws.com",
            "RetiringServicePrincipal": "s3.amazonaws.com",
            "Constraints": {"SourceArn": BUCKET},
        },
        admin,
    )
    listed = world.run("ListGrants", {"KeyId": key.key_id}, admin)["Grants"]
    assert isinstance(listed, list) and len(listed) == 1
    entry = listed[0]
    assert entry["GranteeServicePrincipal"] == "s3.amazonaws.com"
    assert entry["RetiringServicePrincipal"] == "s3.amazonaws.com"
    assert "GranteePrincipal" not in entry
    assert entry["Constraints"] == {"SourceArn": BUCKET}
    s3 = Caller.service("s3.amazonaws.com", A, REGION, source_arn=BUCKET)
    assert world.run("Encrypt", {"KeyId": key.arn, "Plaintext": b"x"}, s3)["KeyId"] == key.arn
    elsewhere = Caller.service("s3.amazonaws.com", A, REGION, source_arn="arn:aws:s3:::other")
    denied = world.refused("Encrypt", {"KeyId": key.arn, "Plaintext": b"x"}, elsewhere)
    assert isinstance(denied, AccessDeniedException)
    # The grant is the service's, not any user's, and the key policy alone does not admit it.
    assert isinstance(
        world.refused("Encrypt", {"KeyId": key.arn, "Plaintext": b"x"}, user(ALICE)),
        AccessDeniedException,
    )
    assert json.loads(key.policy)["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{A}:root"}
