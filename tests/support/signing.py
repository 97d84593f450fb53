"""Hand-made KMS requests, signed by botocore, for tests of the wire protocol."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import urlsplit

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, object]:
        parsed = json.loads(self.body)
        assert isinstance(parsed, dict)
        return parsed


def signed_request(
    endpoint: str,
    access_key: str,
    secret: str,
    target: str,
    body: bytes,
    *,
    region: str = "us-east-1",
    service: str = "kms",
    when: datetime | None = None,
) -> tuple[dict[str, str], bytes]:
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": target,
        },
    )
    signer = SigV4Auth(Credentials(access_key, secret), service, region)
    # botocore reads the time from this function; a test that needs an old or future
    # signature sets the client's clock, never the server's.
    moment = (when or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=moment):
        signer.add_auth(request)
    return dict(request.headers.items()), body


def send(
    endpoint: str, headers: dict[str, str], body: bytes, method: str = "POST", path: str = "/"
) -> Reply:
    parts = urlsplit(endpoint)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        connection.close()
