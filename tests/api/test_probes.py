"""Liveness, readiness and Prometheus metrics of a live server (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support import metrics
from tests.support.metrics import sample, scrape
from tests.support.s3 import bucket_name, s3_client
from tests.support.servers import InProcessServer


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["content-type"], response.read()


def test_healthz_and_readyz_answer_without_credentials(server: InProcessServer) -> None:
    status, _, body = _get(server.endpoint + "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, _, body = _get(server.endpoint + "/readyz")
    assert status == 200
    assert json.loads(body) == {"status": "ready", "checks": {"database": "ok", "keyStore": "ok"}}


def test_metrics_count_requests_by_operation_and_error_code(
    server: InProcessServer, kms: Any, key_id: str
) -> None:
    for _ in range(3):
        kms.encrypt(KeyId=key_id, Plaintext=b"counted")
    try:
        kms.describe_key(KeyId="1234abcd-12ab-34cd-56ef-1234567890ab")
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NotFoundException"
    text = scrape(server.endpoint)
    assert sample(text, "strongroom_requests_total", operation="Encrypt", code="OK") >= 3
    assert (
        sample(text, "strongroom_requests_total", operation="DescribeKey", code="NotFoundException")
        >= 1
    )
    assert sample(text, "strongroom_request_seconds_count", operation="Encrypt", code="OK") >= 3
    ratio = sample(text, "strongroom_key_cache_hit_ratio")
    assert 0 < ratio <= 1
    assert sample(text, "strongroom_audit_queue_depth") >= 0
    assert sample(text, "strongroom_node_workers") == 1
    assert server.admin_key.secret_access_key not in text
    assert not re.search(r"(?i)password|postgresql://", text)


def _settled(endpoint: str) -> str:
    """A scrape once the change feed has delivered earlier writes (the key's creation evicts
    it again when its echo arrives): evictions unchanged over several poll periods."""
    deadline = time.monotonic() + 10
    last = scrape(endpoint)
    while True:
        time.sleep(0.2)  # four of the in-process server's feed polls
        text = scrape(endpoint)
        counts = [
            sample(t, "strongroom_cache_evictions_total", cache=c)
            for t in (last, text)
            for c in ("key", "material")
        ]
        if counts[:2] == counts[2:]:
            return text
        assert time.monotonic() < deadline, "the change feed never settled"
        last = text


def test_metrics_show_the_caches_and_the_change_feed(
    server: InProcessServer, kms: Any, key_id: str
) -> None:
    before = _settled(server.endpoint)
    for _ in range(3):
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"cached")["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob)
    warm = scrape(server.endpoint)
    for cache in ("key", "material"):
        gained = sample(warm, "strongroom_cache_hits_total", cache=cache) - sample(
            before, "strongroom_cache_hits_total", cache=cache
        )
        assert gained >= 2, cache
        assert sample(warm, "strongroom_cache_entries", cache=cache) >= 1
    # The policy cache: the key's policy parsed, the caller's allow remembered.
    assert sample(warm, "strongroom_cache_entries", cache="policy") >= 2
    assert sample(warm, "strongroom_cache_evictions_total", cache="policy") >= 0
    kms.disable_key(KeyId=key_id)  # the feed evicts the key from the cache
    deadline = time.monotonic() + 10
    while True:
        after = scrape(server.endpoint)
        evicted = sample(after, "strongroom_cache_evictions_total", cache="key")
        if evicted > sample(before, "strongroom_cache_evictions_total", cache="key"):
            break
        assert time.monotonic() < deadline, "the disabled key was never evicted"
        time.sleep(0.05)
    kms.enable_key(KeyId=key_id)
    # Misses, made certain: a key id this worker never saw, and the material the eviction
    # dropped (the key itself may be cached again by enable_key, a write of this worker).
    with pytest.raises(ClientError) as unknown:
        kms.encrypt(KeyId=str(uuid.uuid4()), Plaintext=b"nowhere")
    assert unknown.value.response["Error"]["Code"] == "NotFoundException"
    kms.encrypt(KeyId=key_id, Plaintext=b"cold again")
    cold = scrape(server.endpoint)
    for cache in ("key", "material"):
        misses = "strongroom_cache_misses_total"
        assert sample(cold, misses, cache=cache) > sample(after, misses, cache=cache), cache
    assert sample(after, "strongroom_cache_evictions_total", cache="material") > sample(
        before, "strongroom_cache_evictions_total", cache="material"
    )
    # The in-process server reads the feed every 0.05 s.
    assert 0 <= sample(after, "strongroom_change_feed_lag_seconds") < 5
    assert sample(after, "strongroom_change_feed_position") >= sample(
        before, "strongroom_change_feed_position"
    )


def test_metrics_count_s3_and_sts_requests_by_service(server: InProcessServer) -> None:
    s3 = s3_client(server)
    sts = boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name=server.region,
        aws_access_key_id=server.admin_key.access_key_id,
        aws_secret_access_key=server.admin_key.secret_access_key,
    )
    before = scrape(server.endpoint)
    s3.list_buckets()
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=bucket_name(), Key="nothing")
    assert missing.value.response["Error"]["Code"] == "NoSuchBucket"
    assert sts.get_caller_identity()["Account"] == server.admin_key.account_id
    after = scrape(server.endpoint)

    def gained(**labels: str) -> float:
        return metrics.gained(before, after, "strongroom_requests_total", **labels)

    assert gained(service="s3", operation="ListBuckets", code="OK") == 1
    assert gained(service="s3", operation="GetObject", code="NoSuchBucket") == 1
    assert gained(service="sts", operation="GetCallerIdentity", code="OK") == 1
    assert gained(service="kms") == 0  # none of them was counted as a KMS request
    assert (
        sample(
            after,
            "strongroom_request_seconds_count",
            service="s3",
            operation="ListBuckets",
            code="OK",
        )
        >= 1
    )
