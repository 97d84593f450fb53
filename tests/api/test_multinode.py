"""Three nodes on one PostgreSQL behave as one KMS: a client alternating nodes sees every
change everywhere within a second; a due rotation happens once; the audit chain stays one
valid chain with every node writing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from strongroom.kms.app import open_data_dir
from strongroom.kms.audit.verify import verify_chain
from tests.support.nodes import postgres_nodes
from tests.support.postgres import PostgresCluster
from tests.support.servers import InProcessServer

DEADLINE = 1.0  # seconds within which a change is in force on every node


@pytest.fixture
def nodes(tmp_path: Path, postgres: PostgresCluster) -> Iterator[list[InProcessServer]]:
    with postgres_nodes(tmp_path, postgres) as running:
        yield running


def _outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "OK"


def _within_deadline(call: Callable[[], Any], wanted: str) -> float:
    """Seconds until ``call`` gives ``wanted``; fails after the deadline (plus load slack)."""
    start = time.monotonic()
    while True:
        got = _outcome(call)
        elapsed = time.monotonic() - start
        if got == wanted:
            return elapsed
        assert elapsed < DEADLINE * 3, f"still {got} after {elapsed:.2f}s"
        time.sleep(0.02)


def _encrypt(client: Any, key_id: str) -> Callable[[], Any]:
    return lambda: client.encrypt(KeyId=key_id, Plaintext=b"x")


def test_a_client_alternating_nodes_sees_one_kms(nodes: list[InProcessServer]) -> None:
    a, b, c = (n.client() for n in nodes)
    key_id = a.create_key(Description="made on node 0")["KeyMetadata"]["KeyId"]
    blob = b.encrypt(KeyId=key_id, Plaintext=b"across nodes")["CiphertextBlob"]
    assert c.decrypt(CiphertextBlob=blob)["Plaintext"] == b"across nodes"
    a.create_alias(AliasName="alias/shared", TargetKeyId=key_id)
    assert c.describe_key(KeyId="alias/shared")["KeyMetadata"]["KeyId"] == key_id

    # Every node has the key cached now; disabling it on one stops it on the others.
    for node in (a, c):
        node.encrypt(KeyId=key_id, Plaintext=b"warm")
    b.disable_key(KeyId=key_id)
    for node in (a, c):
        assert _within_deadline(_encrypt(node, key_id), "DisabledException") <= DEADLINE
    c.enable_key(KeyId=key_id)
    assert _within_deadline(lambda: a.decrypt(CiphertextBlob=blob), "OK") <= DEADLINE


def test_grants_and_policies_propagate_to_every_node(nodes: list[InProcessServer]) -> None:
    a, b, c = (n.client() for n in nodes)
    key_id = a.create_key()["KeyMetadata"]["KeyId"]
    for node in (b, c):
        node.encrypt(KeyId=key_id, Plaintext=b"warm")
    arn = a.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    account = arn.split(":")[4]
    deny_encrypt = (
        '{"Version":"2012-10-17","Statement":['
        f'{{"Sid":"admin","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},'
        '"Action":"kms:*","Resource":"*"},'
        '{"Sid":"no","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*"}]}'
    )
    a.put_key_policy(KeyId=key_id, PolicyName="default", Policy=deny_encrypt)
    for node in (b, c):
        assert _within_deadline(_encrypt(node, key_id), "AccessDeniedException") <= DEADLINE
    grant = b.create_grant(
        KeyId=key_id,
        GranteePrincipal=f"arn:aws:iam::{account}:user/admin",
        Operations=["GenerateDataKey"],
    )
    generate = lambda: c.generate_data_key(KeyId=key_id, KeySpec="AES_256")  # noqa: E731
    assert _within_deadline(generate, "OK") <= DEADLINE
    assert {g["GrantId"] for g in a.list_grants(KeyId=key_id)["Grants"]} == {grant["GrantId"]}


def test_a_due_rotation_happens_once_across_nodes(nodes: list[InProcessServer]) -> None:
    a = nodes[0].client()
    key_id = a.create_key()["KeyMetadata"]["KeyId"]
    a.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    for node in nodes:  # every node's scheduler now finds it due
        node.clock.advance(timedelta(days=91))
    deadline = time.monotonic() + 15
    rotations: list[Any] = []
    while not rotations and time.monotonic() < deadline:
        rotations = a.list_key_rotations(KeyId=key_id)["Rotations"]
        time.sleep(0.1)
    time.sleep(1.0)  # several scheduler periods of every node
    rotations = nodes[2].client().list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]


def test_the_audit_chain_stays_one_valid_chain_with_every_node_writing(
    nodes: list[InProcessServer],
) -> None:
    clients = [n.client() for n in nodes]
    key_ids = [c.create_key()["KeyMetadata"]["KeyId"] for c in clients]
    for i in range(30):
        client = clients[i % 3]
        client.encrypt(KeyId=key_ids[(i + 1) % 3], Plaintext=b"audit me")
        if i % 5 == 0:
            client.tag_resource(KeyId=key_ids[i % 3], Tags=[{"TagKey": "n", "TagValue": str(i)}])
    time.sleep(2.5)  # group commits of every node
    data = open_data_dir(nodes[0].settings)
    try:
        verdict = verify_chain(data.db, data.store)
    finally:
        data.db.engine.dispose()
    assert verdict.problem is None, verdict
    assert verdict.events >= 30 + 3 + 6
