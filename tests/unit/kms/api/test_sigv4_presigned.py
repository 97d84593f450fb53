"""Presigned (query-string) KMS requests are bound to the operation and the body they signed.

A URL presigned for one operation must not run another, and must not carry another body: the
KMS refuses ``UNSIGNED-PAYLOAD`` and, for a presigned request, an ``X-Amz-Target`` that is
not among the signed headers.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any
from unittest import mock

import botocore.auth
import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.kms.api.sigv4 import SIGNATURE_MISMATCH, SigV4Verifier
from strongroom.kms.errors import InvalidSignatureException
from tests.unit.kms.api.test_sigv4 import (
    AKID,
    CRED,
    ENDPOINT,
    NOW,
    SECRET,
    Cred,
    Request,
    epoch,
    sign,
    to_asgi,
    verify,
)

LIST_KEYS = b"{}"
CREATE_KEY = json.dumps({"Description": "made through a ListKeys URL"}).encode()


def kms_verifier() -> SigV4Verifier[Cred]:
    """As the server builds it: presigned requests must sign X-Amz-Target."""
    return SigV4Verifier(
        regions=("us-east-1",),
        service="kms",
        lookup={AKID: CRED}.get,
        clock=lambda: epoch(NOW),
        presigned_signed_headers=(b"x-amz-target",),
    )


def presign_post(
    *,
    body: bytes = LIST_KEYS,
    target: str | None = "TrentService.ListKeys",
    signer: type[Any] = SigV4QueryAuth,
    at: datetime = NOW,
) -> Request:
    """A POST presigned over the headers it carries at signing time (botocore's rule)."""
    headers = {"X-Amz-Target": target} if target is not None else {}
    request = AWSRequest(method="POST", url=ENDPOINT + "/", headers=headers)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=at):
        signer(Credentials(AKID, SECRET), "kms", "us-east-1", expires=3600).add_auth(request)
    asgi = to_asgi(request)
    return asgi._replace(body=body)


def presign_body_bound(body: bytes, target: str) -> Request:
    """A presigned POST whose canonical request carries the body's SHA-256."""
    digest = hashlib.sha256(body).hexdigest()
    request = AWSRequest(
        method="POST",
        url=ENDPOINT + "/",
        headers={"X-Amz-Target": target, "X-Amz-Content-SHA256": digest},
    )
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=NOW):
        SigV4QueryAuth(Credentials(AKID, SECRET), "kms", "us-east-1", expires=3600).add_auth(
            request
        )
    return to_asgi(request)._replace(body=body)


def test_presigned_request_signing_target_and_body_is_accepted() -> None:
    request = presign_body_bound(CREATE_KEY, "TrentService.CreateKey")
    assert b"x-amz-target" in request.query.lower()
    assert verify(request, kms_verifier()) is CRED


def test_presigned_request_signing_target_and_empty_body_is_accepted() -> None:
    request = presign_post(body=b"")
    assert verify(request, kms_verifier()) is CRED


def test_presigned_body_cannot_be_replaced() -> None:
    request = presign_body_bound(LIST_KEYS, "TrentService.ListKeys")
    swapped = request._replace(body=CREATE_KEY).with_header(
        b"x-amz-content-sha256", hashlib.sha256(CREATE_KEY).hexdigest().encode()
    )
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(swapped, kms_verifier())
    assert excinfo.value.message == SIGNATURE_MISMATCH


def test_presigned_body_without_a_declared_hash_is_still_bound() -> None:
    request = presign_post(body=b"")
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(request._replace(body=CREATE_KEY), kms_verifier())
    assert excinfo.value.message == SIGNATURE_MISMATCH


def test_presigned_unsigned_payload_is_refused() -> None:
    """The break test's URL: signed over host only, UNSIGNED-PAYLOAD, any body."""
    request = presign_post(body=CREATE_KEY, target=None, signer=S3SigV4QueryAuth)
    request = request.with_header(b"x-amz-content-sha256", b"UNSIGNED-PAYLOAD")
    request = request.with_header(b"x-amz-target", b"TrentService.CreateKey")
    with pytest.raises(InvalidSignatureException, match=r"^'x-amz-target' must be a"):
        verify(request, kms_verifier())
    with pytest.raises(InvalidSignatureException, match=r"^The provided 'x-amz-content-sha256'"):
        verify(request)  # a verifier without the target rule (STS) still refuses it


def test_presigned_unsigned_payload_signed_with_the_target_is_refused() -> None:
    request = presign_post(
        body=CREATE_KEY, target="TrentService.CreateKey", signer=S3SigV4QueryAuth
    )
    request = request.with_header(b"x-amz-content-sha256", b"UNSIGNED-PAYLOAD")
    with pytest.raises(InvalidSignatureException, match="x-amz-content-sha256"):
        verify(request, kms_verifier())


def test_header_signed_unsigned_payload_is_refused() -> None:
    request = sign(extra_headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(request, kms_verifier())
    assert excinfo.value.message == (
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    )


def test_presigned_request_with_an_unsigned_target_is_refused() -> None:
    request = presign_post(body=b"", target=None)
    request = request.with_header(b"x-amz-target", b"TrentService.CreateKey")
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(request, kms_verifier())
    assert excinfo.value.message.startswith(
        "'x-amz-target' must be a 'SignedHeader' of a presigned request. X-Amz-Credential="
    )
    assert "X-Amz-Signature" not in excinfo.value.message


def test_presigned_target_cannot_be_swapped() -> None:
    request = presign_post(body=b"").with_header(b"x-amz-target", b"TrentService.CreateKey")
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(request, kms_verifier())
    assert excinfo.value.message == SIGNATURE_MISMATCH


def test_header_signed_requests_need_not_sign_the_target() -> None:
    """AWS accepts it (botocore always signs it, other SDKs may not); the body is signed."""
    request = sign()
    authorization = request.header(b"authorization").decode()
    assert "x-amz-target" in authorization
    verifier = kms_verifier()
    assert verify(request, verifier) is CRED
