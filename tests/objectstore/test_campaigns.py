"""Object inventory and re-encryption campaigns, end to end: boto3 stores objects, the tenant
starts campaigns through the KMS API, the server's runner moves the objects, and every object
reads back unchanged under its new key while the old key is disabled.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from strongroom.kms.service.admin import IssuedAccessKey
from tests.support.byok import external_key, import_material
from tests.support.cli import run
from tests.support.raw_kms import RawKms
from tests.support.s3 import kms_bucket, new_account_admin, s3_client
from tests.support.servers import InProcessServer


def call(server: InProcessServer, who: IssuedAccessKey, name: str, body: dict[str, Any]) -> Any:
    conn = RawKms(server.endpoint, who)
    try:
        return conn.call(name, body)
    finally:
        conn.close()


def finished(server: InProcessServer, who: IssuedAccessKey, campaign_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        reply = call(server, who, "DescribeReEncryptionCampaigns", {"CampaignId": campaign_id})
        assert reply.status == 200, reply
        (campaign,) = reply.body["Campaigns"]
        if campaign["State"] == "COMPLETED":
            return dict(campaign)
        assert time.monotonic() < deadline, campaign
        time.sleep(0.1)


def start(server: InProcessServer, who: IssuedAccessKey, **body: Any) -> str:
    reply = call(server, who, "StartReEncryptionCampaign", body)
    assert reply.status == 200, reply
    assert reply.body["Campaign"]["State"] == "RUNNING"
    return str(reply.body["Campaign"]["CampaignId"])


def inventory(server: InProcessServer, who: IssuedAccessKey) -> dict[str, Any]:
    reply = call(server, who, "GetObjectInventory", {})
    assert reply.status == 200, reply
    return {k["KeyArn"]: k for k in reply.body["Keys"]}


def test_campaigns_move_buckets_and_keys_without_an_unreadable_moment(
    server: InProcessServer,
) -> None:
    tenant = new_account_admin(server, f"campaign-{uuid.uuid4().hex[:8]}")
    kms, s3 = server.client(tenant), s3_client(server, tenant)
    old = kms.create_key(Description="old")["KeyMetadata"]["Arn"]
    new = kms.create_key(Description="new")["KeyMetadata"]["Arn"]
    direct = kms_bucket(s3, old)
    pooled = kms_bucket(s3, old, bucket_key=True)
    bodies = {f"obj-{n}": secrets.token_bytes(100 + n) for n in range(5)}
    for name, body in bodies.items():
        s3.put_object(Bucket=direct, Key=name, Body=body)
        s3.put_object(Bucket=pooled, Key=name, Body=body)
    customer = secrets.token_bytes(32)
    sse_c = {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(customer).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(customer).digest()).decode(),
    }
    s3.put_object(Bucket=direct, Key="mine", Body=b"customer's", **sse_c)
    before = inventory(server, tenant)
    assert before[old]["Objects"] == 10 and new not in before

    # One bucket, to another key: the SSE-C object is skipped, the others move.
    campaign = finished(server, tenant, start(server, tenant, Bucket=direct, DestinationKeyId=new))
    assert (campaign["Moved"], campaign["Skipped"], campaign["Failed"]) == (5, 1, 0)
    assert campaign["Position"] == f"{direct}/obj-4"
    for name in bodies:
        assert s3.head_object(Bucket=direct, Key=name)["SSEKMSKeyId"] == new
    # Every object under the old key next: the bucket key moves once, with its objects.
    campaign = finished(
        server, tenant, start(server, tenant, SourceKeyId=old, DestinationKeyId=new)
    )
    assert (campaign["Moved"], campaign["Failed"]) == (5, 0)
    kms.disable_key(KeyId=old)
    for bucket in (direct, pooled):
        for name, body in bodies.items():
            assert s3.get_object(Bucket=bucket, Key=name)["Body"].read() == body
    assert s3.get_object(Bucket=direct, Key="mine", **sse_c)["Body"].read() == b"customer's"
    after = inventory(server, tenant)
    assert old not in after and after[new]["Objects"] == 10
    assert after[new]["Buckets"] == sorted([direct, pooled])

    # Newest material: rotate, then re-wrap every object of the bucket under the new version.
    kms.rotate_key_on_demand(KeyId=new)
    current = kms.describe_key(KeyId=new)["KeyMetadata"]["CurrentKeyMaterialId"]
    finished(server, tenant, start(server, tenant, Bucket=direct))
    versions = dict(
        (v["KeyMaterialId"], v["Objects"]) for v in inventory(server, tenant)[new]["Versions"]
    )
    assert versions[current] == 5
    for name, body in bodies.items():
        assert s3.get_object(Bucket=direct, Key=name)["Body"].read() == body

    # A failure leaves the object as it was: the old key is disabled, so nothing of it moves.
    kms.enable_key(KeyId=old)
    s3.put_object(
        Bucket=direct, Key="late", Body=b"late", SSEKMSKeyId=old, ServerSideEncryption="aws:kms"
    )
    kms.disable_key(KeyId=old)
    campaign = finished(
        server, tenant, start(server, tenant, SourceKeyId=old, DestinationKeyId=new)
    )
    assert (campaign["Moved"], campaign["Failed"]) == (0, 1)
    assert campaign["LastError"].startswith("DisabledException")
    kms.enable_key(KeyId=old)
    assert s3.get_object(Bucket=direct, Key="late")["Body"].read() == b"late"


def test_campaign_requests_are_checked(server: InProcessServer) -> None:
    tenant = new_account_admin(server, f"checks-{uuid.uuid4().hex[:8]}")
    other = new_account_admin(server, f"other-{uuid.uuid4().hex[:8]}")
    s3 = s3_client(server, tenant)
    s3.create_bucket(Bucket=(bucket := f"checked-{uuid.uuid4().hex[:8]}"))
    for body, code in (
        ({}, "ValidationException"),
        ({"Bucket": bucket, "SourceKeyId": "alias/aws/s3"}, "ValidationException"),
        ({"Bucket": "no-such-bucket-anywhere"}, "NotFoundException"),
        ({"Bucket": bucket, "DestinationKeyId": "alias/missing"}, "NotFoundException"),
    ):
        reply = call(server, tenant, "StartReEncryptionCampaign", body)
        assert (reply.status, reply.error_code) == (400, code), body
    # Another tenant can neither use the bucket nor see the campaign.
    reply = call(server, other, "StartReEncryptionCampaign", {"Bucket": bucket})
    assert reply.error_code == "NotFoundException"
    campaign_id = start(server, tenant, Bucket=bucket)
    reply = call(server, other, "DescribeReEncryptionCampaigns", {"CampaignId": campaign_id})
    assert (reply.status, reply.error_code) == (400, "NotFoundException")
    assert finished(server, tenant, campaign_id)["Moved"] == 0


def test_the_command_shows_the_inventory_and_follows_a_campaign(
    server: InProcessServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = new_account_admin(server, f"cli-{uuid.uuid4().hex[:8]}")
    kms, s3 = server.client(tenant), s3_client(server, tenant)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    bucket = kms_bucket(s3, key)
    for n in range(3):
        s3.put_object(Bucket=bucket, Key=f"o{n}", Body=b"z" * (n + 1))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", tenant.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", tenant.secret_access_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", server.region)
    endpoint = ("--endpoint-url", server.endpoint)
    status, out, err = run("objects", "inventory", *endpoint)
    assert (status, err) == (0, "")
    assert f"{key}: 3 objects, 6 bytes" in out
    assert f"bucket {bucket}: 3 objects, 6 bytes, default aws:kms, 0 under customer keys" in out
    kms.rotate_key_on_demand(KeyId=key)
    status, out, err = run("objects", "reencrypt", *endpoint, "--bucket", bucket)
    assert (status, err) == (0, "")
    assert out.splitlines()[0].startswith("campaign ")
    assert out.splitlines()[-1] == f"COMPLETED: 3 moved, 0 skipped, 0 failed (at {bucket}/o2)"
    status, out, _ = run("objects", "inventory", *endpoint, "--format", "json")
    (entry,) = [k for k in json.loads(out)["Keys"] if k["KeyArn"] == key]
    current = kms.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert entry["Versions"] == [{"KeyMaterialId": current, "Objects": 3}]
    status, _, err = run("objects", "reencrypt", *endpoint, "--bucket", "not-mine-at-all")
    assert status == 2 and "NotFoundException" in err


def test_objects_under_keys_whose_protection_was_lowered_move_away(
    server: InProcessServer, tmp_path: Path
) -> None:
    tenant = new_account_admin(server, f"lowered-{uuid.uuid4().hex[:8]}")
    kms, s3 = server.client(tenant), s3_client(server, tenant)
    exported = external_key(kms)
    import_material(kms, tmp_path, exported, secrets.token_bytes(32))
    reply = call(
        server,
        tenant,
        "RecordKeyLineage",
        {"KeyId": exported, "TokenLabel": "vault", "TokenSerial": "0001", "KeyLabel": "k"},
    )
    assert reply.status == 200, reply
    exported_arn = kms.describe_key(KeyId=exported)["KeyMetadata"]["Arn"]
    kept = kms.create_key()["KeyMetadata"]["Arn"]
    safe = kms.create_key()["KeyMetadata"]["Arn"]
    lowered_bucket, other_bucket = kms_bucket(s3, exported_arn), kms_bucket(s3, kept)
    for name in ("a", "b"):
        s3.put_object(Bucket=lowered_bucket, Key=name, Body=name.encode() * 10)
    s3.put_object(Bucket=other_bucket, Key="c", Body=b"c")
    exposure = call(server, tenant, "GetExposureReport", {}).body["ExposureReport"]
    (row,) = next(b for b in exposure["Buckets"] if b["Bucket"] == lowered_bucket)["Keys"]
    assert row["Flags"][0].startswith("protection lowered")

    campaign = finished(
        server, tenant, start(server, tenant, LoweredProtection=True, DestinationKeyId=safe)
    )
    assert campaign["SourceKeyIds"] == [exported_arn]
    assert (campaign["Moved"], campaign["Skipped"], campaign["Failed"]) == (2, 0, 0)
    keys = inventory(server, tenant)
    assert exported_arn not in keys and keys[safe]["Objects"] == 2 and keys[kept]["Objects"] == 1
    kms.delete_imported_key_material(KeyId=exported)  # the exported copy is useless now
    for name in ("a", "b"):
        assert s3.get_object(Bucket=lowered_bucket, Key=name)["Body"].read() == name.encode() * 10
