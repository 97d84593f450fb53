"""XKS proxy API messages: URI paths, request bodies, the AES-GCM AAD and the CDIV.

Decoding is strict: a body that is not a JSON object, a required member that is missing or of
the wrong type, bad Base64, or a value outside the spec's sizes is a ValidationException that
names the member (never its value). Sizes above what the spec requires a proxy to accept, but
that a valid request may carry, are UnsupportedOperationException, as the spec says.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson

from strongroom.xks.errors import (
    InvalidUriPathException,
    UnsupportedOperationException,
    ValidationException,
)

HEALTH = "health"
METADATA = "metadata"
ENCRYPT = "encrypt"
DECRYPT = "decrypt"
AES_GCM = "AES_GCM"
SHA_256 = "SHA_256"
# What a proxy must accept (the spec) and what this one does.
MAX_DATA_BYTES = 16_384  # plaintext or ciphertext; the spec asks for 4,300
MAX_AAD_BYTES = 8_192
MAX_CIPHERTEXT_METADATA = 20
MAX_ARN_CHARS = 2_048
IV_SIZES = (12, 16)
TAG_BYTES = 16

_PATH = re.compile(
    r"/xks/(?P<store>[A-Za-z0-9_-]{1,64})/kms/xks/v1/"
    r"(?:(?P<health>health)|keys/(?P<key>[^/]{1,128})/(?P<op>metadata|encrypt|decrypt))"
)
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_METADATA_FIELDS = {
    "awsPrincipalArn": "aws_principal_arn",
    "kmsKeyArn": "kms_key_arn",
    "kmsOperation": "kms_operation",
    "kmsRequestId": "kms_request_id",
    "kmsViaService": "kms_via_service",
    "awsSourceVpc": "aws_source_vpc",
    "awsSourceVpce": "aws_source_vpce",
}


@dataclass(frozen=True, slots=True)
class XksPath:
    custom_key_store_id: str
    operation: str
    xks_key_id: str = ""


def parse_path(path: str) -> XksPath:
    match = _PATH.fullmatch(path)
    if match is None:
        raise InvalidUriPathException()
    if match["health"]:
        return XksPath(match["store"], HEALTH)
    if not _KEY_ID.fullmatch(match["key"]):
        raise ValidationException("The external key id is not valid.")
    return XksPath(match["store"], match["op"], match["key"])


@dataclass(frozen=True, slots=True)
class RequestMetadata:
    """What AWS KMS says about the call behind a request: asserted by AWS, not verified here;
    it is audited, never used to decide access."""

    kms_operation: str
    kms_request_id: str
    aws_principal_arn: str | None = None
    kms_key_arn: str | None = None
    kms_via_service: str | None = None
    aws_source_vpc: str | None = None
    aws_source_vpce: str | None = None

    def audit_data(self) -> dict[str, str]:
        return {
            wire: value
            for wire, attribute in _METADATA_FIELDS.items()
            if wire != "awsPrincipalArn" and (value := getattr(self, attribute)) is not None
        }


@dataclass(frozen=True, slots=True)
class EncryptRequest:
    metadata: RequestMetadata
    plaintext: bytes
    aad: bytes | None
    integrity_value: bool


@dataclass(frozen=True, slots=True)
class DecryptRequest:
    metadata: RequestMetadata
    ciphertext: bytes
    ciphertext_metadata: bytes | None
    aad: bytes | None
    iv: bytes
    tag: bytes


def parse_body(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        raise ValidationException("The request body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise ValidationException("The request body must be a JSON object.")
    return parsed


def request_metadata(body: dict[str, Any], *required: str) -> RequestMetadata:
    raw = body.get("requestMetadata")
    if not isinstance(raw, dict):
        raise ValidationException("requestMetadata is required.")
    values: dict[str, str] = {}
    for wire, attribute in _METADATA_FIELDS.items():
        value = raw.get(wire)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > MAX_ARN_CHARS:
            raise ValidationException(f"requestMetadata.{wire} must be a string of at most 2048.")
        values[attribute] = value
    for wire in ("kmsOperation", "kmsRequestId", *required):
        if _METADATA_FIELDS[wire] not in values:
            raise ValidationException(f"requestMetadata.{wire} is required.")
    return RequestMetadata(**values)


def encrypt_request(body: dict[str, Any], metadata: RequestMetadata) -> EncryptRequest:
    """``metadata``: :func:`request_metadata` of the body, with the key operations' members."""
    _algorithm(body)
    plaintext = _blob(body, "plaintext", limit=MAX_DATA_BYTES)
    aad = _optional_blob(body, "additionalAuthenticatedData", limit=MAX_AAD_BYTES)
    cdiv = body.get("ciphertextDataIntegrityValueAlgorithm")
    if cdiv is not None and cdiv != SHA_256:
        raise ValidationException("ciphertextDataIntegrityValueAlgorithm must be SHA_256.")
    assert plaintext is not None
    return EncryptRequest(metadata, plaintext, aad, cdiv is not None)


def decrypt_request(body: dict[str, Any], metadata: RequestMetadata) -> DecryptRequest:
    _algorithm(body)
    ciphertext = _blob(body, "ciphertext", limit=MAX_DATA_BYTES)
    extra = _optional_blob(body, "ciphertextMetadata", limit=MAX_CIPHERTEXT_METADATA, hard=True)
    aad = _optional_blob(body, "additionalAuthenticatedData", limit=MAX_AAD_BYTES)
    iv = _blob(body, "initializationVector", limit=16, hard=True)
    tag = _blob(body, "authenticationTag", limit=TAG_BYTES, hard=True)
    if len(iv) not in IV_SIZES:
        raise ValidationException("initializationVector must be 12 or 16 bytes.")
    if len(tag) != TAG_BYTES:
        raise ValidationException("authenticationTag must be 16 bytes.")
    return DecryptRequest(metadata, ciphertext, extra, aad, iv, tag)


def gcm_aad(aad: bytes | None, ciphertext_metadata: bytes | None) -> bytes:
    """The AAD given to AES-GCM: both parts with their lengths, as the spec recommends
    (2-byte big-endian length || AAD || 1-byte length || ciphertextMetadata)."""
    aad = aad or b""
    extra = ciphertext_metadata or b""
    return len(aad).to_bytes(2, "big") + aad + len(extra).to_bytes(1, "big") + extra


def integrity_value(
    aad: bytes | None,
    iv: bytes,
    ciphertext: bytes,
    tag: bytes,
    *,
    ciphertext_metadata: bytes | None = None,
) -> bytes:
    """The CDIV: SHA-256 over AAD || ciphertextMetadata || IV || ciphertext || tag (this proxy
    sends no ciphertextMetadata; the parameter is for the spec's example)."""
    return hashlib.sha256(
        (aad or b"") + (ciphertext_metadata or b"") + iv + ciphertext + tag
    ).digest()


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _algorithm(body: dict[str, Any]) -> None:
    algorithm = body.get("encryptionAlgorithm")
    if algorithm is None:
        raise ValidationException("encryptionAlgorithm is required.")
    if algorithm != AES_GCM:
        raise ValidationException("encryptionAlgorithm must be AES_GCM.")


def _blob(body: dict[str, Any], name: str, *, limit: int, hard: bool = False) -> bytes:
    value = _optional_blob(body, name, limit=limit, hard=hard)
    if value is None:
        raise ValidationException(f"{name} is required.")
    return value


def _optional_blob(
    body: dict[str, Any], name: str, *, limit: int, hard: bool = False
) -> bytes | None:
    """A Base64 member; ``hard`` limits are the spec's (ValidationException), soft ones are
    this proxy's (UnsupportedOperationException)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationException(f"{name} must be a Base64 string.")
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationException(f"{name} is not valid Base64.") from None
    if len(decoded) > limit:
        if hard:
            raise ValidationException(f"{name} is longer than {limit} bytes.")
        raise UnsupportedOperationException(f"{name} is longer than {limit} bytes.")
    return decoded
