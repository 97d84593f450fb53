"""A campaign survives a crash: the server is killed while it moves objects, started again,
and finishes the job with every object counted once and readable all along."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from tests.support.raw_kms import RawKms
from tests.support.s3 import kms_bucket, s3_client
from tests.support.servers import ServerProcess, server_process

OBJECTS = 400


def describe(server: ServerProcess, campaign_id: str) -> dict[str, Any]:
    conn = RawKms(server.endpoint, server.admin_key)
    try:
        reply = conn.call("DescribeReEncryptionCampaigns", {"CampaignId": campaign_id})
    finally:
        conn.close()
    assert reply.status == 200, reply
    return dict(reply.body["Campaigns"][0])


def test_a_killed_server_resumes_the_campaign(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with server_process(data_dir, 1) as first:
        kms, s3 = first.client(), s3_client(first)
        old = kms.create_key()["KeyMetadata"]["Arn"]
        new = kms.create_key()["KeyMetadata"]["Arn"]
        bucket = kms_bucket(s3, old)
        for n in range(OBJECTS):
            s3.put_object(Bucket=bucket, Key=f"o{n:04d}", Body=f"body {n}".encode())
        conn = RawKms(first.endpoint, first.admin_key)
        try:
            reply = conn.call(
                "StartReEncryptionCampaign", {"Bucket": bucket, "DestinationKeyId": new}
            )
        finally:
            conn.close()
        campaign_id = reply.body["Campaign"]["CampaignId"]
        deadline = time.monotonic() + 120
        while (seen := describe(first, campaign_id))["Moved"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert seen["State"] == "RUNNING" and seen["Moved"] < OBJECTS, seen
        assert first.process is not None
        os.killpg(first.process.pid, signal.SIGKILL)  # no graceful shutdown
        first.process.wait()
    with server_process(data_dir, 1) as second:
        s3 = s3_client(second)
        deadline = time.monotonic() + 120
        while (done := describe(second, campaign_id))["State"] != "COMPLETED":
            assert time.monotonic() < deadline, done
            time.sleep(0.2)
        assert (done["Moved"], done["Skipped"], done["Failed"]) == (OBJECTS, 0, 0)
        second.client().disable_key(KeyId=old)
        for n in range(OBJECTS):
            got = s3.get_object(Bucket=bucket, Key=f"o{n:04d}")
            assert got["SSEKMSKeyId"] == new
            assert got["Body"].read() == f"body {n}".encode()
