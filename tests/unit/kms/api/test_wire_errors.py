"""Wire errors as AWS sends them: status 400 unless AWS uses another, no empty messages."""

from __future__ import annotations

import orjson

from strongroom.kms.api.wire_errors import error_response
from strongroom.kms.errors import (
    DisabledException,
    DryRunOperationException,
    InvalidCiphertextException,
    KMSInvalidMacException,
    KMSInvalidSignatureException,
    KMSInvalidStateException,
    NotFoundException,
    all_error_classes,
)

# The only errors AWS KMS does not answer with HTTP 400.
NOT_400 = {
    "RequestEntityTooLargeException": 413,
    "DependencyTimeoutException": 503,
    "KMSInternalException": 500,
    "KeyUnavailableException": 500,
    # Refusals of the HTTP layer's connection limits, before a request reaches the KMS.
    "RequestHeaderSectionTooLarge": 431,
    "RequestTimeout": 408,
    "ServiceUnavailable": 503,
}


def test_client_errors_are_400_whatever_the_model_says() -> None:
    statuses = {code: cls.status for code, cls in all_error_classes().items()}
    assert {code: s for code, s in statuses.items() if s != 400} == NOT_400
    for error in (
        DisabledException("x"),
        KMSInvalidStateException("x"),
        DryRunOperationException(),
    ):
        assert error_response(error)[0] == 400


def test_errors_aws_sends_without_message_have_no_message_member() -> None:
    for error in (
        InvalidCiphertextException(),
        KMSInvalidSignatureException(),
        KMSInvalidMacException(),
    ):
        status, body = error_response(error)
        assert (status, orjson.loads(body)) == (400, {"__type": error.code})


def test_other_errors_carry_their_message() -> None:
    status, body = error_response(NotFoundException("Alias arn:aws:kms:x is not found."))
    assert status == 400
    assert orjson.loads(body) == {
        "__type": "NotFoundException",
        "message": "Alias arn:aws:kms:x is not found.",
    }
