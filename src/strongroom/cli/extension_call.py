"""Calls of Strongroom's extension operations (not in AWS's model, so boto3 has no method).

An AWS JSON 1.1 request like any KMS call (``X-Amz-Target: TrentService.<Name>``), signed
with SigV4 by botocore with the caller's own credentials (profile, environment or shared
files), sent with the standard library.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class ExtensionCallError(Exception):
    """The server refused the call: ``code`` is the AWS-style error code."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation} failed: {code}: {message}")
        self.code = code


def call_extension(
    session: Any, endpoint_url: str, region: str, operation: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Sign and send one extension request; the decoded answer, or ExtensionCallError."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = session.get_credentials()
    if credentials is None:
        raise ExtensionCallError(operation, "MissingAuthenticationToken", "no AWS credentials")
    body = json.dumps(payload).encode()
    url = endpoint_url.rstrip("/") + "/"
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"TrentService.{operation}",
        },
    )
    SigV4Auth(credentials.get_frozen_credentials(), "kms", region).add_auth(request)
    if not url.startswith(("http://", "https://")):
        raise ExtensionCallError(operation, "ValidationException", "the endpoint must be http(s)")
    sent = urllib.request.Request(  # noqa: S310 (http(s) checked above)
        url, data=body, headers=dict(request.headers.items()), method="POST"
    )
    try:
        with urllib.request.urlopen(sent, timeout=60) as response:  # noqa: S310
            data = response.read()
    except urllib.error.HTTPError as error:
        try:
            answer = json.loads(error.read() or b"{}")
        except ValueError:
            answer = {}
        code = str(answer.get("__type", f"HTTP {error.code}")).rsplit("#", 1)[-1]
        raise ExtensionCallError(operation, code, str(answer.get("message", ""))) from None
    except OSError as error:
        raise ExtensionCallError(operation, "ConnectionError", str(error)) from None
    result: dict[str, Any] = json.loads(data) if data else {}
    return result
