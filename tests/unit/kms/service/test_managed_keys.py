"""AWS managed keys through the pipeline, as a service of Strongroom calls it in process.

The object store's in-process KMS client runs ``Pipeline.execute`` with a :class:`Caller`
carrying ``via_service``; these tests do exactly that, on real parts (SQLite, the software key
store, the policy engine). Account A has alice (no identity policy at all) and admin
(AdministratorAccess); account B has carol.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from strongroom.kms.audit.log import MemoryAuditLog
from strongroom.kms.domain.enums import KeyManager
from strongroom.kms.domain.managed import SERVICES
from strongroom.kms.errors import AccessDeniedException, KmsError, NotFoundException
from strongroom.kms.service import managed
from strongroom.kms.service.admin import ADMINISTRATOR_POLICY, Admin
from strongroom.kms.service.authorization import PolicyAuthorizer
from strongroom.kms.service.caller import Caller
from strongroom.kms.service.pipeline import Pipeline
from strongroom.kms.service.registry import OPERATIONS
from strongroom.kms.storage import schema
from strongroom.kms.storage.engine import sqlite_url
from strongroom.kms.storage.grants import GrantRepository
from tests.support.lifecycle import REGION, Parts, SettableClock, build_parts
from tests.support.policies import user_arn

A, B = "111122223333", "444455556666"
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
S3 = "s3.us-east-1.amazonaws.com"
CONTEXT = {"aws:s3:arn": "arn:aws:s3:::bucket/object"}


@dataclass
class World:
    parts: Parts
    pipeline: Pipeline
    clock: SettableClock
    store_id: str
    root: bytes
    url: str

    def run(
        self,
        operation: str,
        request: dict[str, Any],
        who: str = "alice",
        account: str = A,
        via: str | None = S3,
    ) -> dict[str, object]:
        caller = Caller(
            account, user_arn(account, who), "AKIATESTMANAGED00000", "127.0.0.1", REGION, via
        )
        return self.pipeline.execute(OPERATIONS[operation], request, caller, "request-1")

    def refused(self, operation: str, request: dict[str, Any], **who: Any) -> KmsError:
        with pytest.raises(KmsError) as info:
            self.run(operation, request, **who)
        return info.value

    def managed_keys(self, account: str) -> int:
        k = schema.keys.c
        with self.parts.db.read_connection() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(
                        k.account_id == account, k.key_manager == KeyManager.AWS.value
                    )
                ).scalar_one()
            )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    url, store_id, root = sqlite_url(tmp_path), "store", secrets.token_bytes(32)
    clock = SettableClock(NOW)
    parts = build_parts(url, store_id, root, clock)
    ctx = parts.ctx
    admin = Admin(ctx.identity, ctx.store, ctx.clock)
    admin.create_account("a", A)
    admin.create_account("b", B)
    admin.create_user(A, "alice")
    admin.create_user(A, "admin")
    admin.put_user_policy(A, "admin", "AdministratorAccess", ADMINISTRATOR_POLICY)
    admin.create_user(B, "carol")
    admin.put_user_policy(B, "carol", "AdministratorAccess", ADMINISTRATOR_POLICY)
    authorizer = PolicyAuthorizer(ctx.policies, GrantRepository(ctx.db))
    try:
        yield World(parts, Pipeline(ctx, authorizer, MemoryAuditLog()), clock, store_id, root, url)
    finally:
        parts.close()


def test_first_use_through_the_service_creates_the_key(world: World) -> None:
    assert world.managed_keys(A) == 0
    request = {"KeyId": "alias/aws/s3", "KeySpec": "AES_256", "EncryptionContext": CONTEXT}
    data_key = world.run("GenerateDataKey", request)
    assert world.managed_keys(A) == 1
    key = world.parts.keys.get_key(str(data_key["KeyId"]).rsplit("/", 1)[1])
    assert key is not None
    assert key.key_manager is KeyManager.AWS
    assert key.description == "Default key that protects my S3 objects when no other key is defined"
    assert key.policy == SERVICES["s3"].policy(A, "us-east-1")
    assert key.rotation_period_days == 365
    assert key.next_rotation_date == NOW + timedelta(days=365)
    # The data key decrypts through the service, and the second use finds the same key.
    again = world.run("GenerateDataKey", request)
    assert again["KeyId"] == data_key["KeyId"]
    plain = world.run(
        "Decrypt", {"CiphertextBlob": data_key["CiphertextBlob"], "EncryptionContext": CONTEXT}
    )
    assert plain["Plaintext"] == data_key["Plaintext"]
    assert world.managed_keys(A) == 1


def test_an_existing_managed_key_costs_no_database_round_trip(world: World) -> None:
    request = {"KeyId": "alias/aws/s3", "KeySpec": "AES_256", "EncryptionContext": CONTEXT}
    first = world.run("GenerateDataKey", request)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(world.parts.db.engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            again = world.run("GenerateDataKey", request)
            world.run(
                "Decrypt", {"CiphertextBlob": again["CiphertextBlob"], "EncryptionContext": CONTEXT}
            )
    finally:
        event.remove(world.parts.db.engine, "before_cursor_execute", count)
    assert statements == []
    assert again["KeyId"] == first["KeyId"]


def test_the_policy_admits_only_calls_through_the_service_from_the_account(world: World) -> None:
    encrypt = {"KeyId": "alias/aws/s3", "Plaintext": b"secret", "EncryptionContext": CONTEXT}
    blob = world.run("Encrypt", encrypt)["CiphertextBlob"]
    # Direct, even for the account's administrator: no kms:ViaService, no statement applies.
    denied = world.refused("Encrypt", encrypt, who="admin", via=None)
    assert isinstance(denied, AccessDeniedException)
    assert denied.message.endswith("because no resource-based policy allows the kms:Encrypt action")
    decrypt = {"CiphertextBlob": blob, "EncryptionContext": CONTEXT}
    assert isinstance(world.refused("Decrypt", decrypt, via=None), AccessDeniedException)
    # Through another service (EBS calls come via ec2): the ViaService condition fails.
    other = world.refused("Encrypt", encrypt, via="ec2.us-east-1.amazonaws.com")
    assert isinstance(other, AccessDeniedException)
    # Another account, through S3, naming A's key by ARN: kms:CallerAccount fails.
    arn = str(world.run("DescribeKey", {"KeyId": "alias/aws/s3"})["KeyMetadata"]["Arn"])  # type: ignore[index]
    carol = world.refused("Encrypt", {**encrypt, "KeyId": arn}, who="carol", account=B)
    assert isinstance(carol, AccessDeniedException)
    assert "on this resource" in carol.message
    # Metadata is readable directly through the account's identity policies (Describe*).
    meta = world.run("DescribeKey", {"KeyId": "alias/aws/s3"}, who="admin", via=None)
    assert meta["KeyMetadata"]["KeyManager"] == "AWS"  # type: ignore[index]
    # ... but not by a principal whose identity policies allow nothing.
    nobody = world.refused("DescribeKey", {"KeyId": arn}, via=None)
    assert "no identity-based policy allows the kms:DescribeKey action" in nobody.message


def test_each_account_gets_its_own_key_and_only_its_own_alias_creates(world: World) -> None:
    a_key = world.run("DescribeKey", {"KeyId": "alias/aws/s3"})["KeyMetadata"]
    b_key = world.run("DescribeKey", {"KeyId": "alias/aws/s3"}, who="carol", account=B)
    assert a_key["KeyId"] != b_key["KeyMetadata"]["KeyId"]  # type: ignore[index]
    assert b_key["KeyMetadata"]["AWSAccountId"] == B  # type: ignore[index]
    # An alias ARN of another account's predefined alias creates nothing there.
    missing = f"arn:aws:kms:us-east-1:{B}:alias/aws/ebs"
    refused = world.refused("DescribeKey", {"KeyId": missing})
    assert isinstance(refused, NotFoundException)
    assert world.managed_keys(B) == 1
    # A name under alias/aws/ that AWS does not predefine is simply not found.
    unknown = world.refused("DescribeKey", {"KeyId": "alias/aws/unknown"})
    assert isinstance(unknown, NotFoundException)


def test_workers_racing_to_create_the_key_end_with_one(world: World) -> None:
    workers = [world.parts] + [
        build_parts(world.url, world.store_id, world.root, world.clock) for _ in range(3)
    ]
    barrier = threading.Barrier(len(workers))
    found: list[str] = []
    errors: list[BaseException] = []

    def create(parts: Parts) -> None:
        try:
            barrier.wait(timeout=30)
            found.append(managed.ensure(parts.ctx, A, REGION, SERVICES["s3"]).key_id)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=create, args=(parts,)) for parts in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for parts in workers[1:]:
        parts.close()
    assert errors == []
    assert len(found) == len(workers) and len(set(found)) == 1
    assert world.managed_keys(A) == 1
    alias = world.parts.keys.get_alias(A, REGION, "alias/aws/s3")
    assert alias is not None and alias.target_key_id == found[0]


def test_the_scheduler_rotates_it_every_year(world: World) -> None:
    key = managed.ensure(world.parts.ctx, A, REGION, SERVICES["s3"])
    blob = world.run("Encrypt", {"KeyId": key.arn, "Plaintext": b"old", "EncryptionContext": {}})
    world.clock.set(NOW + timedelta(days=364))
    assert world.parts.scheduler.run_due().rotated == []
    later = NOW + timedelta(days=365, hours=1)
    world.clock.set(later)
    assert world.parts.scheduler.run_due().rotated == [key.key_id]
    world.parts.ctx.cache.forget_key(key.key_id)
    rotated = world.parts.keys.get_key(key.key_id)
    assert rotated is not None and rotated.current_material_id != key.current_material_id
    assert rotated.next_rotation_date == later + timedelta(days=365)
    assert [v.rotation_type for v in world.parts.keys.list_materials(key.key_id)][1:] == [
        "AUTOMATIC"
    ]
    old = world.run("Decrypt", {"CiphertextBlob": blob["CiphertextBlob"]})
    assert old["Plaintext"] == b"old"
    status = world.run("GetKeyRotationStatus", {"KeyId": key.key_id}, who="admin", via=None)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 365


def test_management_is_refused_even_to_the_administrator(world: World) -> None:
    key = managed.ensure(world.parts.ctx, A, REGION, SERVICES["ebs"])
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("PutKeyPolicy", {"KeyId": key.key_id, "Policy": json.dumps({"Statement": []})}),
        ("ScheduleKeyDeletion", {"KeyId": key.key_id, "PendingWindowInDays": 7}),
        ("DisableKey", {"KeyId": key.key_id}),
        ("EnableKeyRotation", {"KeyId": key.key_id}),
        ("RotateKeyOnDemand", {"KeyId": key.key_id}),
        ("TagResource", {"KeyId": key.key_id, "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
        ("UpdateKeyDescription", {"KeyId": key.key_id, "Description": "mine"}),
    ]
    for operation, request in attempts:
        refused = world.refused(operation, request, who="admin", via=None)
        assert isinstance(refused, AccessDeniedException), operation
        action = OPERATIONS[operation].actions[0]
        assert f"because no resource-based policy allows the {action} action" in refused.message
    assert world.parts.keys.get_key(key.key_id) == key
