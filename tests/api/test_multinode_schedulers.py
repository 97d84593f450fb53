"""Scheduled work happens once across nodes: three nodes on one PostgreSQL, every node's
scheduler finding the same deletions, rotations and expiries due at the same moment (their
clocks move together), each item is done by exactly one of them.

"Once" is checked four ways: the state every node answers, the scheduler's own report (one
log line per item done, whichever node did it), the change feed (one change per item) and the
audit trail (one service event per item: DeleteKey, RotateKey, DeleteExpiredKeyMaterial). The
re-encryption campaign runner, which every node also runs, moves each object once: one
ReEncrypt per object in the audit trail.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from strongroom.kms.storage.database import Database
from tests.support.byok import external_key, import_material
from tests.support.nodes import postgres_nodes
from tests.support.postgres import PostgresCluster
from tests.support.raw_kms import RawKms
from tests.support.s3 import kms_bucket, s3_client
from tests.support.servers import InProcessServer

KEYS = 9  # three per node
SCHEDULER = "strongroom.kms.service.scheduler"


@pytest.fixture
def nodes(tmp_path: Path, postgres: PostgresCluster) -> Iterator[list[InProcessServer]]:
    with postgres_nodes(tmp_path, postgres) as running:
        yield running


@pytest.fixture
def reports(caplog: pytest.LogCaptureFixture) -> Callable[[str], Counter[str]]:
    """Key ids the schedulers of every node (threads of this process) reported, by message."""
    caplog.set_level(logging.INFO, logger=SCHEDULER)

    def done(prefix: str) -> Counter[str]:
        return Counter(
            str(r.args[0])
            for r in caplog.records
            if r.name == SCHEDULER and r.msg.startswith(prefix) and isinstance(r.args, tuple)
        )

    return done


def _feed_mark(node: InProcessServer) -> tuple[Database, int]:
    db = Database.open(node.settings.database_url)
    return db, db.last_change_seq()


def _changes_per_key(db: Database, since: int, key_ids: list[str]) -> Counter[str]:
    try:
        return Counter(c.key_id for c in db.changes_since(since) if c.key_id in key_ids)
    finally:
        db.engine.dispose()


def _advance_together(nodes: list[InProcessServer], delta: timedelta) -> None:
    for node in nodes:
        node.clock.advance(delta)


def _state(client: Any, key_id: str) -> str:
    try:
        return str(client.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])
    except ClientError as error:
        return str(error.response["Error"]["Code"])


def _wait_everywhere(nodes: list[InProcessServer], key_ids: list[str], wanted: str) -> None:
    clients = [n.client() for n in nodes]
    deadline = time.monotonic() + 20
    for client in clients:
        for key_id in key_ids:
            while (got := _state(client, key_id)) != wanted:
                assert time.monotonic() < deadline, f"{key_id} is still {got}"
                time.sleep(0.05)


def test_scheduled_deletions_happen_once_across_nodes(
    nodes: list[InProcessServer], reports: Callable[[str], Counter[str]]
) -> None:
    clients = [n.client() for n in nodes]
    key_ids = [clients[i % 3].create_key()["KeyMetadata"]["KeyId"] for i in range(KEYS)]
    survivor = clients[0].create_key()["KeyMetadata"]["KeyId"]
    arns = {k: clients[0].describe_key(KeyId=k)["KeyMetadata"]["Arn"] for k in key_ids}
    for i, key_id in enumerate(key_ids):
        clients[i % 3].create_alias(AliasName=f"alias/doomed-{i}", TargetKeyId=key_id)
        clients[(i + 1) % 3].schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    clients[1].schedule_key_deletion(KeyId=survivor, PendingWindowInDays=8)
    db, mark = _feed_mark(nodes[0])

    _advance_together(nodes, timedelta(days=7, minutes=1))
    _wait_everywhere(nodes, key_ids, "NotFoundException")
    time.sleep(1.0)  # several more scheduler periods of every node

    assert reports("deleted key") == dict.fromkeys(key_ids, 1)
    assert _changes_per_key(db, mark, key_ids) == dict.fromkeys(key_ids, 1)
    _one_service_event_per_key(nodes[1], "DeleteKey", arns)
    for client in clients:
        aliases = {a["AliasName"] for a in client.list_aliases(Limit=100)["Aliases"]}
        assert not {a for a in aliases if a.startswith("alias/doomed-")}
        assert _state(client, survivor) == "PendingDeletion"


def test_due_rotations_happen_once_per_key_across_nodes(
    nodes: list[InProcessServer], reports: Callable[[str], Counter[str]]
) -> None:
    clients = [n.client() for n in nodes]
    key_ids = [clients[i % 3].create_key()["KeyMetadata"]["KeyId"] for i in range(KEYS)]
    for i, key_id in enumerate(key_ids):
        clients[(i + 1) % 3].enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    db, mark = _feed_mark(nodes[0])

    _advance_together(nodes, timedelta(days=91))
    deadline = time.monotonic() + 20
    while len(reports("rotated key")) < KEYS:
        assert time.monotonic() < deadline, f"rotated only {sorted(reports('rotated key'))}"
        time.sleep(0.1)
    time.sleep(1.0)

    assert reports("rotated key") == dict.fromkeys(key_ids, 1)
    assert _changes_per_key(db, mark, key_ids) == dict.fromkeys(key_ids, 1)
    arns = {k: clients[0].describe_key(KeyId=k)["KeyMetadata"]["Arn"] for k in key_ids}
    _one_service_event_per_key(nodes[2], "RotateKey", arns)
    for i, key_id in enumerate(key_ids):
        rotations = clients[(i + 2) % 3].list_key_rotations(KeyId=key_id)["Rotations"]
        assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]


def test_imported_material_expires_once_across_nodes(
    nodes: list[InProcessServer], reports: Callable[[str], Counter[str]], tmp_path: Path
) -> None:
    clients = [n.client() for n in nodes]
    valid_to = nodes[0].clock.now() + timedelta(hours=1)
    key_ids = []
    for i in range(KEYS // 3):  # imports are slow (an RSA key pair each): three keys
        client = clients[i % 3]
        key_id = external_key(client)
        import_material(
            client,
            tmp_path,
            key_id,
            bytes([i]) * 32,
            ExpirationModel="KEY_MATERIAL_EXPIRES",
            ValidTo=valid_to,
        )
        key_ids.append(key_id)
    lasting = external_key(clients[1])
    import_material(clients[1], tmp_path, lasting, b"\xff" * 32)
    _wait_everywhere(nodes, [*key_ids, lasting], "Enabled")
    db, mark = _feed_mark(nodes[0])

    _advance_together(nodes, timedelta(hours=1, minutes=1))
    _wait_everywhere(nodes, key_ids, "PendingImport")
    time.sleep(1.0)

    assert reports("deleted expired imported key material") == dict.fromkeys(key_ids, 1)
    assert _changes_per_key(db, mark, key_ids) == dict.fromkeys(key_ids, 1)
    arns = {k: clients[0].describe_key(KeyId=k)["KeyMetadata"]["Arn"] for k in key_ids}
    _one_service_event_per_key(nodes[0], "DeleteExpiredKeyMaterial", arns)
    for client in clients:
        assert _state(client, lasting) == "Enabled"


OBJECTS = 12


def _campaign_call(node: InProcessServer, name: str, body: dict[str, Any]) -> Any:
    conn = RawKms(node.endpoint, node.admin_key)
    try:
        reply = conn.call(name, body)
    finally:
        conn.close()
    assert reply.status == 200, reply
    return reply.body


def _events(node: InProcessServer, name: str) -> list[dict[str, Any]]:
    """The events named ``name`` of the admin's account, from the trail (every page)."""
    found: list[dict[str, Any]] = []
    marker = None
    while True:
        page = _campaign_call(
            node,
            "LookupAuditEvents",
            {"EventName": name, "Limit": 50, **({"Marker": marker} if marker else {})},
        )
        found += page["Events"]
        marker = page.get("NextMarker")
        if not marker:
            return found


def _re_encrypts(node: InProcessServer) -> int:
    return len(_events(node, "ReEncrypt"))


def _one_service_event_per_key(node: InProcessServer, name: str, arns: dict[str, str]) -> None:
    """Each key has exactly one ``name`` event, by the service, in the one audit chain."""
    time.sleep(0.5)  # the events commit with the work; the lookup may race the last commit
    events = _events(node, name)
    assert Counter(e["resources"][0]["ARN"] for e in events) == dict.fromkeys(arns.values(), 1)
    assert {e["sourceIPAddress"] for e in events} == {"AWS Internal"}
    assert {e["userIdentity"]["arn"] for e in events} == {""}


def test_a_re_encryption_campaign_moves_each_object_once_across_nodes(
    nodes: list[InProcessServer],
) -> None:
    kms, s3 = nodes[0].client(), s3_client(nodes[0])
    old = kms.create_key(Description="old")["KeyMetadata"]["Arn"]
    new = kms.create_key(Description="new")["KeyMetadata"]["Arn"]
    bucket = kms_bucket(s3, old)
    for n in range(OBJECTS):
        s3.put_object(Bucket=bucket, Key=f"object-{n:02d}", Body=bytes([n]) * 64)
    assert _re_encrypts(nodes[1]) == 0

    started = _campaign_call(
        nodes[1], "StartReEncryptionCampaign", {"Bucket": bucket, "DestinationKeyId": new}
    )
    campaign_id = started["Campaign"]["CampaignId"]
    deadline = time.monotonic() + 60
    while True:  # every node's runner competes for it
        (campaign,) = _campaign_call(
            nodes[2], "DescribeReEncryptionCampaigns", {"CampaignId": campaign_id}
        )["Campaigns"]
        if campaign["State"] == "COMPLETED":
            break
        assert time.monotonic() < deadline, campaign
        time.sleep(0.1)
    assert (campaign["Moved"], campaign["Skipped"], campaign["Failed"]) == (OBJECTS, 0, 0)
    time.sleep(1.5)  # data-plane audit events are committed in groups
    assert _re_encrypts(nodes[2]) == OBJECTS
    for n in range(OBJECTS):
        head = s3.head_object(Bucket=bucket, Key=f"object-{n:02d}")
        assert head["SSEKMSKeyId"] == new
