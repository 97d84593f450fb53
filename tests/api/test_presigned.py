"""Against a live server: a presigned URL runs only the operation and body it was signed for."""

from __future__ import annotations

import hashlib
import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import S3SigV4QueryAuth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.servers import InProcessServer


def _presigned_url(server: InProcessServer, headers: dict[str, str], signer: Any) -> str:
    request = AWSRequest(method="POST", url=server.endpoint + "/", headers=headers)
    key = server.admin_key
    credentials = Credentials(key.access_key_id, key.secret_access_key)
    signer(credentials, "kms", server.region, expires=604800).add_auth(request)
    return str(request.url)


def _post(url: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("POST", f"{parts.path}?{parts.query}", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _key_count(kms: Any) -> int:
    return sum(len(page["Keys"]) for page in kms.get_paginator("list_keys").paginate())


def test_url_presigned_for_list_keys_with_unsigned_payload_cannot_create_a_key(
    server: InProcessServer, kms: Any
) -> None:
    url = _presigned_url(server, {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}, S3SigV4QueryAuth)
    before = _key_count(kms)
    status, reply = _post(
        url,
        {
            "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD",
            "X-Amz-Target": "TrentService.CreateKey",
            "Content-Type": "application/x-amz-json-1.1",
        },
        b'{"Description": "through a presigned URL"}',
    )
    assert (status, reply["__type"]) == (400, "InvalidSignatureException")
    assert reply["message"].startswith("'x-amz-target' must be a 'SignedHeader'")
    assert _key_count(kms) == before


def test_url_presigned_with_target_but_unsigned_payload_is_refused(
    server: InProcessServer, kms: Any
) -> None:
    headers = {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", "X-Amz-Target": "TrentService.CreateKey"}
    url = _presigned_url(server, headers, S3SigV4QueryAuth)
    before = _key_count(kms)
    status, reply = _post(url, headers, b'{"Description": "any body"}')
    assert (status, reply["__type"]) == (400, "InvalidSignatureException")
    assert "x-amz-content-sha256" in reply["message"]
    assert _key_count(kms) == before


def test_url_presigned_over_target_and_body_runs_that_request_only(
    server: InProcessServer, kms: Any
) -> None:
    body = b'{"Description": "presigned create"}'
    headers = {
        "X-Amz-Target": "TrentService.CreateKey",
        "X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest(),
    }
    url = _presigned_url(server, headers, SigV4QueryAuth)
    json_type = {"Content-Type": "application/x-amz-json-1.1"}
    status, reply = _post(url, {**headers, **json_type}, body)
    assert status == 200
    assert reply["KeyMetadata"]["Description"] == "presigned create"

    other = b'{"Description": "another body"}'
    swapped = {**headers, "X-Amz-Content-SHA256": hashlib.sha256(other).hexdigest()}
    status, reply = _post(url, {**swapped, **json_type}, other)
    assert (status, reply["__type"]) == (400, "InvalidSignatureException")

    status, reply = _post(
        url, {**headers, **json_type, "X-Amz-Target": "TrentService.ListKeys"}, body
    )
    assert (status, reply["__type"]) == (400, "InvalidSignatureException")
