"""Liveness, readiness and Prometheus metrics of a live server (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

from botocore.exceptions import ClientError

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


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    for line in text.splitlines():
        if line.startswith(name + "{") and all(w in line for w in wanted):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name} {labels}")


def test_metrics_count_requests_by_operation_and_error_code(
    server: InProcessServer, kms: Any, key_id: str
) -> None:
    for _ in range(3):
        kms.encrypt(KeyId=key_id, Plaintext=b"counted")
    try:
        kms.describe_key(KeyId="1234abcd-12ab-34cd-56ef-1234567890ab")
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NotFoundException"
    status, content_type, body = _get(server.endpoint + "/metrics")
    text = body.decode()
    assert status == 200 and content_type.startswith("text/plain")
    assert _sample(text, "strongroom_requests_total", operation="Encrypt", code="OK") >= 3
    assert (
        _sample(
            text, "strongroom_requests_total", operation="DescribeKey", code="NotFoundException"
        )
        >= 1
    )
    assert _sample(text, "strongroom_request_seconds_count", operation="Encrypt", code="OK") >= 3
    ratio = _sample(text, "strongroom_key_cache_hit_ratio")
    assert 0 < ratio <= 1
    assert _sample(text, "strongroom_audit_queue_depth") >= 0
    assert server.admin_key.secret_access_key not in text
    assert not re.search(r"(?i)password|postgresql://", text)
