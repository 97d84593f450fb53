"""The XKS wire rules against the specification's own examples."""

from __future__ import annotations

import base64

import pytest

from strongroom.xks import wire
from strongroom.xks.errors import (
    InvalidUriPathException,
    UnsupportedOperationException,
    ValidationException,
    error_response,
)


def test_integrity_value_matches_the_specifications_appendix_c() -> None:
    aad = b"project=nile,department=marketing"
    extra = b"key_version=1"
    iv = base64.b64decode("HMrlRw85cAJUd5Ax")
    ciphertext = base64.b64decode("ghxkK1txeDNn3q8Y")
    tag = base64.b64decode("vBxN2ncH1oEkR8WVXpmyYQ==")
    value = wire.integrity_value(aad, iv, ciphertext, tag, ciphertext_metadata=extra)
    assert wire.b64(value) == "qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc="


def test_gcm_aad_carries_both_lengths() -> None:
    assert wire.gcm_aad(b"ab", b"xyz") == b"\x00\x02ab\x03xyz"
    assert wire.gcm_aad(None, None) == b"\x00\x00\x00"
    assert wire.gcm_aad(b"ab" + b"xyz", None) != wire.gcm_aad(b"ab", b"xyz")
    assert wire.gcm_aad(b"\x00" * 8192, None)[:2] == b"\x20\x00"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/xks/cks-0123456789abcdef0/kms/xks/v1/health", ("cks-0123456789abcdef0", "health", "")),
        ("/xks/s/kms/xks/v1/keys/k.1_-A/encrypt", ("s", "encrypt", "k.1_-A")),
        ("/xks/s/kms/xks/v1/keys/k/metadata", ("s", "metadata", "k")),
    ],
    ids=["health", "encrypt", "metadata"],
)
def test_paths(path: str, expected: tuple[str, str, str]) -> None:
    parsed = wire.parse_path(path)
    assert (parsed.custom_key_store_id, parsed.operation, parsed.xks_key_id) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/xks/s/kms/xks/v2/health",
        "/xks/s/kms/xks/v1/keys/k/sign",
        "/xks/s/kms/xks/v1/keys//encrypt",
        "/xks//kms/xks/v1/health",
        "/xks/s/kms/xks/v1/health/",
    ],
    ids=["version", "operation", "empty key", "empty store", "trailing slash"],
)
def test_invalid_paths(path: str) -> None:
    with pytest.raises(InvalidUriPathException):
        wire.parse_path(path)


def test_a_key_id_outside_the_alphabet_is_invalid() -> None:
    with pytest.raises(ValidationException):
        wire.parse_path("/xks/s/kms/xks/v1/keys/a%20b/encrypt")


def _encrypt_body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "requestMetadata": {
            "awsPrincipalArn": "arn:aws:iam::123456789012:user/Alice",
            "kmsKeyArn": "arn:aws:kms:us-east-2:123456789012:key/k",
            "kmsOperation": "SomeFutureOperation",
            "kmsRequestId": "not-a-uuid",
        },
        "plaintext": "SGVsbG8gV29ybGQh",
        "encryptionAlgorithm": "AES_GCM",
    }
    body.update(changes)
    return body


def test_an_encrypt_request_as_the_spec_shows_it() -> None:
    body = _encrypt_body(
        additionalAuthenticatedData="cHJvamVjdD1uaWxlLGRlcGFydG1lbnQ9bWFya2V0aW5n",
        ciphertextDataIntegrityValueAlgorithm="SHA_256",
    )
    request = wire.encrypt_request(body, wire.request_metadata(body, "awsPrincipalArn"))
    assert request.plaintext == b"Hello World!"
    assert request.aad == b"project=nile,department=marketing"
    assert request.integrity_value
    assert request.metadata.kms_operation == "SomeFutureOperation"  # unknown ones are fine


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"plaintext": 5}, ValidationException),
        ({"plaintext": "SGVsbG8=="}, ValidationException),
        ({"ciphertextDataIntegrityValueAlgorithm": "MD5"}, ValidationException),
        ({"requestMetadata": {"kmsOperation": "Encrypt"}}, ValidationException),
        ({"additionalAuthenticatedData": wire.b64(bytes(8193))}, UnsupportedOperationException),
    ],
    ids=["not a string", "bad padding", "other cdiv", "no request id", "aad too long"],
)
def test_invalid_encrypt_requests(changes: dict[str, object], error: type[Exception]) -> None:
    body = _encrypt_body(**changes)
    with pytest.raises(error):
        wire.encrypt_request(body, wire.request_metadata(body, "kmsKeyArn"))


def test_error_messages_are_printable_ascii_under_512() -> None:
    status, payload = error_response(ValidationException("caf\u00e9\n" + "x" * 600))
    assert status == 400
    text = payload.decode("ascii")
    assert '"errorName":"ValidationException"' in text
    assert "\\n" not in text and len(text) < 600


def test_every_error_is_documented_with_its_status() -> None:
    """docs/xks.md's error table names each error class with the status it is sent with."""
    from pathlib import Path

    from strongroom.xks import errors

    doc = (Path(__file__).parents[3] / "docs" / "xks.md").read_text()
    classes = [
        c
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, errors.XksError) and c is not errors.XksError
    ]
    for cls in classes:
        if cls is errors.MethodNotAllowed:
            assert "HTTP 405" in doc
            continue
        assert f"| {cls.__name__} | {cls.status} |" in doc, cls.__name__
