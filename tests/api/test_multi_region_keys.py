"""Multi-Region keys with boto3 clients of two regions against one server (SQLite and
PostgreSQL): CreateKey MultiRegion, ReplicateKey, UpdatePrimaryRegion, what members share and
what they do not, deletion rules, and the errors. Each test works in a fresh account."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from strongroom.kms.service.admin import IssuedAccessKey
from tests.support.errors import aws_error
from tests.support.servers import InProcessServer, in_process_server
from tests.support.tenants import new_tenant

US, EU, AP = "us-east-1", "eu-west-1", "ap-southeast-2"


@pytest.fixture
def tenant(server: InProcessServer) -> IssuedAccessKey:
    return new_tenant(server)


@pytest.fixture
def us(server: InProcessServer, tenant: IssuedAccessKey) -> Any:
    return server.client(tenant, region=US)


@pytest.fixture
def eu(server: InProcessServer, tenant: IssuedAccessKey) -> Any:
    return server.client(tenant, region=EU)


def _pair(us: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A primary in us-east-1 and its replica in eu-west-1: their metadata."""
    primary = us.create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    replica = us.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=EU)["ReplicaKeyMetadata"]
    return primary, replica


def test_create_key_multi_region_is_a_primary_with_an_mrk_id(us: Any) -> None:
    meta = us.create_key(MultiRegion=True)["KeyMetadata"]
    key_id = meta["KeyId"]
    assert key_id.startswith("mrk-") and len(key_id) == 36
    assert int(key_id[4:], 16) >= 0 and key_id[4:] == key_id[4:].lower()
    assert meta["MultiRegion"] is True
    assert meta["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": meta["Arn"], "Region": US},
        "ReplicaKeys": [],
    }
    single = us.create_key()["KeyMetadata"]
    assert single["MultiRegion"] is False and "MultiRegionConfiguration" not in single


def test_replicate_key_makes_a_replica_with_its_own_policy_and_tags(us: Any, eu: Any) -> None:
    primary = us.create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    answer = us.replicate_key(
        KeyId=primary["Arn"],
        ReplicaRegion=EU,
        Description="replica",
        Tags=[{"TagKey": "site", "TagValue": "dublin"}],
    )
    replica = answer["ReplicaKeyMetadata"]
    account = primary["AWSAccountId"]
    assert replica["KeyId"] == primary["KeyId"]
    assert replica["Arn"] == f"arn:aws:kms:{EU}:{account}:key/{primary['KeyId']}"
    # As AWS answers (the replica is still Creating then); it is Enabled right after.
    assert (replica["Description"], replica["KeyState"], replica["Enabled"]) == (
        "replica",
        "Creating",
        False,
    )
    described = eu.describe_key(KeyId=replica["Arn"])["KeyMetadata"]
    assert (described["KeyState"], described["Enabled"]) == ("Enabled", True)
    assert (replica["KeySpec"], replica["KeyUsage"], replica["Origin"]) == (
        primary["KeySpec"],
        primary["KeyUsage"],
        primary["Origin"],
    )
    assert replica["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "REPLICA",
        "PrimaryKey": {"Arn": primary["Arn"], "Region": US},
        "ReplicaKeys": [{"Arn": replica["Arn"], "Region": EU}],
    }
    assert answer["ReplicaTags"] == [{"TagKey": "site", "TagValue": "dublin"}]
    assert answer["ReplicaPolicy"] == eu.get_key_policy(KeyId=primary["KeyId"])["Policy"]
    described = us.describe_key(KeyId=primary["KeyId"])["KeyMetadata"]
    assert described["MultiRegionConfiguration"]["ReplicaKeys"] == [
        {"Arn": replica["Arn"], "Region": EU}
    ]
    assert described["Description"] == "primary"
    assert eu.list_resource_tags(KeyId=primary["KeyId"])["Tags"] == answer["ReplicaTags"]
    assert us.list_resource_tags(KeyId=primary["KeyId"])["Tags"] == []
    assert [k["KeyArn"] for k in eu.list_keys()["Keys"]] == [replica["Arn"]]


def test_ciphertexts_decrypt_in_every_region_of_the_set(
    server: InProcessServer, tenant: IssuedAccessKey, us: Any, eu: Any
) -> None:
    primary, _ = _pair(us)
    key_id = primary["KeyId"]
    from_us = us.encrypt(KeyId=key_id, Plaintext=b"made in us", EncryptionContext={"a": "b"})
    from_eu = eu.encrypt(KeyId=key_id, Plaintext=b"made in eu")
    decrypted = eu.decrypt(CiphertextBlob=from_us["CiphertextBlob"], EncryptionContext={"a": "b"})
    assert decrypted["Plaintext"] == b"made in us"
    assert decrypted["KeyId"] == f"arn:aws:kms:{EU}:{primary['AWSAccountId']}:key/{key_id}"
    assert us.decrypt(CiphertextBlob=from_eu["CiphertextBlob"])["Plaintext"] == b"made in eu"
    data_key = eu.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    plain = us.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"]
    assert plain == data_key["Plaintext"]
    # The encryption context still binds, in every region.
    with aws_error("InvalidCiphertextException", 400):
        eu.decrypt(CiphertextBlob=from_us["CiphertextBlob"])
    # A region with no member of the set has no such key.
    with aws_error("InvalidCiphertextException", 400):
        server.client(tenant, region=AP).decrypt(CiphertextBlob=from_eu["CiphertextBlob"])


def test_independent_properties_stay_apart(us: Any, eu: Any) -> None:
    primary, _ = _pair(us)
    key_id = primary["KeyId"]
    eu.disable_key(KeyId=key_id)
    assert us.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"] == primary["Arn"]
    with aws_error("DisabledException", 400):
        eu.encrypt(KeyId=key_id, Plaintext=b"x")
    eu.enable_key(KeyId=key_id)
    eu.create_alias(AliasName="alias/mrk", TargetKeyId=key_id)
    with aws_error("NotFoundException", 400):
        us.describe_key(KeyId="alias/mrk")
    eu.tag_resource(KeyId=key_id, Tags=[{"TagKey": "only", "TagValue": "eu"}])
    assert us.list_resource_tags(KeyId=key_id)["Tags"] == []
    eu.update_key_description(KeyId=key_id, Description="eu only")
    assert us.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "primary"
    deny = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:'
        f'iam::{primary["AWSAccountId"]}:root"}},"Action":"kms:*","Resource":"*"}},'
        '{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*"}]}'
    )
    eu.put_key_policy(KeyId=key_id, PolicyName="default", Policy=deny)
    with aws_error("AccessDeniedException", 400):
        eu.encrypt(KeyId=key_id, Plaintext=b"x")
    assert us.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"] == primary["Arn"]


def test_rotation_is_shared_and_set_on_the_primary_only(us: Any, eu: Any) -> None:
    primary, _ = _pair(us)
    key_id = primary["KeyId"]
    us.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    status = eu.get_key_rotation_status(KeyId=key_id)
    assert (status["KeyRotationEnabled"], status["RotationPeriodInDays"]) == (True, 90)
    for operation in ("enable_key_rotation", "disable_key_rotation", "rotate_key_on_demand"):
        with aws_error("UnsupportedOperationException", 400):
            getattr(eu, operation)(KeyId=key_id)
    us.rotate_key_on_demand(KeyId=key_id)
    versions = us.list_key_rotations(KeyId=key_id)["Rotations"]
    assert eu.list_key_rotations(KeyId=key_id)["Rotations"] == [
        {**v, "KeyId": v["KeyId"].replace(f":{US}:", f":{EU}:")} for v in versions
    ]
    current = us.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert eu.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == current
    blob = us.encrypt(KeyId=key_id, Plaintext=b"after rotation")
    assert blob["KeyMaterialId"] == current if "KeyMaterialId" in blob else True
    assert eu.decrypt(CiphertextBlob=blob["CiphertextBlob"])["Plaintext"] == b"after rotation"
    us.disable_key_rotation(KeyId=key_id)
    assert eu.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False


def test_replicate_key_errors(us: Any, eu: Any) -> None:
    primary, replica = _pair(us)
    key_id = primary["KeyId"]
    with aws_error("AlreadyExistsException", 400):
        us.replicate_key(KeyId=key_id, ReplicaRegion=EU)
    with aws_error("AlreadyExistsException", 400):
        us.replicate_key(KeyId=key_id, ReplicaRegion=US)
    with aws_error("UnsupportedOperationException", 400):
        eu.replicate_key(KeyId=key_id, ReplicaRegion=AP)  # a replica is not replicated
    single = us.create_key()["KeyMetadata"]["KeyId"]
    with aws_error("UnsupportedOperationException", 400):
        us.replicate_key(KeyId=single, ReplicaRegion=EU)
    with aws_error("UnsupportedOperationException", 400):
        us.replicate_key(KeyId=key_id, ReplicaRegion="xx-nowhere-1")
    with aws_error("NotFoundException", 400):
        us.replicate_key(KeyId="alias/nope", ReplicaRegion=AP)
    us.disable_key(KeyId=key_id)
    with aws_error("DisabledException", 400):
        us.replicate_key(KeyId=key_id, ReplicaRegion=AP)
    with aws_error("UnsupportedOperationException", 400):
        us.create_key(MultiRegion=True, Origin="EXTERNAL")
    assert replica["KeyId"] == key_id


def test_update_primary_region_swaps_the_roles(us: Any, eu: Any) -> None:
    primary, replica = _pair(us)
    key_id = primary["KeyId"]
    with aws_error("NotFoundException", 400):
        us.update_primary_region(KeyId=key_id, PrimaryRegion=AP)
    with aws_error("UnsupportedOperationException", 400):
        eu.update_primary_region(KeyId=key_id, PrimaryRegion=US)  # not the primary
    single = us.create_key()["KeyMetadata"]["KeyId"]
    with aws_error("UnsupportedOperationException", 400):
        us.update_primary_region(KeyId=single, PrimaryRegion=EU)
    us.update_primary_region(KeyId=key_id, PrimaryRegion=EU)
    in_eu = eu.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    in_us = us.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    assert in_eu == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": replica["Arn"], "Region": EU},
        "ReplicaKeys": [{"Arn": primary["Arn"], "Region": US}],
    }
    assert in_us["MultiRegionKeyType"] == "REPLICA"
    assert in_us["PrimaryKey"] == {"Arn": replica["Arn"], "Region": EU}
    # Now eu-west-1 replicates and rotates; us-east-1 may not.
    with aws_error("UnsupportedOperationException", 400):
        us.replicate_key(KeyId=key_id, ReplicaRegion=AP)
    eu.replicate_key(KeyId=key_id, ReplicaRegion=AP)
    eu.enable_key_rotation(KeyId=key_id)
    assert us.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[InProcessServer]:
    """A server of this test's own: it moves the clock, which others must not see."""
    with in_process_server(tmp_path / "data") as running:
        yield running


def _state(client: Any, key_id: str, timeout: float = 15.0, want: str | None = None) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = str(client.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])
        except client.exceptions.NotFoundException:
            state = "gone"
        if want is None or state == want or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def test_a_primary_waits_for_its_replicas_deletion(own_server: InProcessServer) -> None:
    server = own_server
    us, eu = server.client(region=US), server.client(region=EU)
    primary, _ = _pair(us)
    key_id = primary["KeyId"]
    scheduled = us.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingReplicaDeletion"
    assert scheduled["PendingWindowInDays"] == 7 and "DeletionDate" not in scheduled
    with aws_error("KMSInvalidStateException", 400):
        us.encrypt(KeyId=key_id, Plaintext=b"x")
    assert eu.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"].startswith(f"arn:aws:kms:{EU}:")
    eu.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    server.clock.advance(timedelta(days=7, hours=1))
    assert _state(eu, key_id, want="gone") == "gone"
    # The primary's own 7 days start now.
    assert _state(us, key_id, want="PendingDeletion") == "PendingDeletion"
    meta = us.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["DeletionDate"].timestamp() == pytest.approx(
        server.clock.now().timestamp() + 7 * 86400, abs=120
    )
    assert meta["MultiRegionConfiguration"]["ReplicaKeys"] == []
    server.clock.advance(timedelta(days=7, hours=1))
    assert _state(us, key_id, want="gone") == "gone"


def test_cancelling_a_primary_waiting_for_replicas_disables_it(us: Any) -> None:
    primary, _ = _pair(us)
    us.schedule_key_deletion(KeyId=primary["KeyId"], PendingWindowInDays=7)
    assert us.cancel_key_deletion(KeyId=primary["KeyId"])["KeyId"] == primary["Arn"]
    assert us.describe_key(KeyId=primary["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_multi_region_condition_keys(us: Any, eu: Any) -> None:
    primary, _ = _pair(us)
    key_id, account = primary["KeyId"], primary["AWSAccountId"]
    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:'
        f'iam::{account}:root"}},"Action":"kms:*","Resource":"*"}},'
        '{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":'
        '{"StringEquals":{"kms:MultiRegionKeyType":"REPLICA"},"Bool":{"kms:MultiRegion":"true"}}}]}'
    )
    for client in (us, eu):
        client.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy)
    assert us.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"] == primary["Arn"]
    with aws_error("AccessDeniedException", 400):
        eu.encrypt(KeyId=key_id, Plaintext=b"x")
