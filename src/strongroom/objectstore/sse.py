"""Which server-side encryption a request asks for: its SSE headers and the bucket's default.

SSE-S3 (``AES256``) uses the account's AWS managed key ``alias/aws/s3``; SSE-KMS (``aws:kms``)
a customer key (or the managed key when none is named); SSE-C a key the customer sends with
every request, which is never stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from strongroom.objectstore.errors import InvalidArgument, InvalidRequest, Unimplemented
from strongroom.objectstore.records import SSE_C, SSE_KMS, SSE_S3, Bucket

MANAGED_KEY = "alias/aws/s3"
SSE = "x-amz-server-side-encryption"
KMS_KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"
CONTEXT = "x-amz-server-side-encryption-context"
BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
CUSTOMER = "x-amz-server-side-encryption-customer-"
COPY_SOURCE_CUSTOMER = "x-amz-copy-source-server-side-encryption-customer-"


@dataclass(frozen=True, slots=True)
class CustomerKey:
    """An SSE-C key as sent: 32 bytes (never shown in ``repr``) and their base64 MD5."""

    key: bytes = field(repr=False)
    md5: str


@dataclass(frozen=True, slots=True)
class SseChoice:
    sse: str
    kms_key_id: str | None = None  # None with SSE-KMS: the managed key
    context: dict[str, str] = field(default_factory=dict)
    bucket_key: bool = False
    customer: CustomerKey | None = None

    @property
    def key_id(self) -> str:
        return self.kms_key_id or MANAGED_KEY


def customer_key(headers: Mapping[str, str], prefix: str = CUSTOMER) -> CustomerKey | None:
    algorithm = headers.get(prefix + "algorithm")
    raw_key = headers.get(prefix + "key")
    md5 = headers.get(prefix + "key-md5")
    if algorithm is None and raw_key is None and md5 is None:
        return None
    if algorithm != "AES256":
        raise InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide a valid encryption algorithm.",
            ArgumentName=prefix + "algorithm",
        )
    if raw_key is None:
        raise InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide an appropriate secret key.",
            ArgumentName=prefix + "key",
        )
    try:
        key = base64.b64decode(raw_key, validate=True)
    except binascii.Error:
        key = b""
    if len(key) != 32:
        raise InvalidArgument(
            "The secret key was invalid for the specified algorithm.",
            ArgumentName=prefix + "key",
        )
    if md5 is None:
        raise InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide the client calculated MD5 of the secret key.",
            ArgumentName=prefix + "key-MD5",
        )
    actual = base64.b64encode(hashlib.md5(key).digest()).decode("ascii")  # noqa: S324 - S3's check
    if actual != md5:
        raise InvalidArgument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            ArgumentName=prefix + "key-MD5",
        )
    return CustomerKey(key, md5)


def _context(raw: str | None) -> dict[str, str]:
    if raw is None:
        return {}
    try:
        parsed = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        parsed = None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise InvalidArgument(
            "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 "
            "string holding JSON which represents a string-string map",
            ArgumentName=CONTEXT,
        )
    if "aws:s3:arn" in parsed:
        raise InvalidArgument(
            "The encryption context may not contain aws:s3:arn", ArgumentName=CONTEXT
        )
    return parsed


def _flag(raw: str | None, default: bool) -> bool:
    return default if raw is None else raw.strip().lower() == "true"


def choose(headers: Mapping[str, str], bucket: Bucket) -> SseChoice:
    """The encryption of a new object (PutObject, CreateMultipartUpload, CopyObject's target)."""
    customer = customer_key(headers)
    declared = headers.get(SSE)
    kms_key = headers.get(KMS_KEY_ID)
    if customer is not None:
        if declared is not None:
            raise InvalidArgument(
                "Server Side Encryption with Customer provided key is incompatible with the "
                "encryption method specified",
                ArgumentName=SSE,
            )
        return SseChoice(SSE_C, customer=customer)
    default = bucket.encryption
    if declared is None:
        if kms_key is not None or CONTEXT in headers:
            raise InvalidArgument(
                "Server Side Encryption with AWS KMS managed key requires HTTP header "
                "x-amz-server-side-encryption : aws:kms",
                ArgumentName=SSE,
            )
        if default is not None and default.algorithm == SSE_KMS:
            return SseChoice(SSE_KMS, default.kms_key_id, {}, default.bucket_key)
        return SseChoice(SSE_S3)
    if declared == SSE_S3:
        if kms_key is not None:
            raise InvalidArgument(
                "Server Side Encryption with AWS KMS managed key requires HTTP header "
                "x-amz-server-side-encryption : aws:kms",
                ArgumentName=SSE,
            )
        return SseChoice(SSE_S3)
    if declared == SSE_KMS:
        from_default = default is not None and default.algorithm == SSE_KMS
        key_id = kms_key or (default.kms_key_id if default is not None and from_default else None)
        bucket_default = bool(default is not None and from_default and default.bucket_key)
        return SseChoice(
            SSE_KMS,
            key_id,
            _context(headers.get(CONTEXT)),
            _flag(headers.get(BUCKET_KEY), bucket_default),
        )
    if declared == "aws:kms:dsse":
        raise Unimplemented("Dual-layer server-side encryption (aws:kms:dsse) is not supported.")
    raise InvalidArgument(
        "The encryption method specified is not supported", ArgumentName=SSE, ArgumentValue=declared
    )


def refuse_customer_key_for(headers: Mapping[str, str]) -> None:
    """Requests on objects stored without SSE-C must not send an SSE-C key."""
    if customer_key(headers) is not None:
        raise InvalidRequest("The encryption parameters are not applicable to this object.")


INSECURE_SSE_C = (
    "Requests specifying Server Side Encryption with Customer provided keys must be made over "
    "a secure connection."
)


def require_secure_transport(headers: Mapping[str, str], secure: bool) -> None:
    """S3 refuses SSE-C keys sent in the clear (``InvalidRequest``, 400): the key is the data's
    only protection. ``secure``: TLS, or a connection that never left the host (loopback)."""
    if not secure and any(n.startswith((CUSTOMER, COPY_SOURCE_CUSTOMER)) for n in headers):
        raise InvalidRequest(INSECURE_SSE_C)
