"""The root key of each object: made when it is written, recovered when it is read.

Every KMS call goes through :class:`strongroom.client.kms.KmsClient` on behalf of the principal
of the S3 request, so the KMS authorizes it (``kms:ViaService`` = ``s3.<region>.amazonaws.com``),
applies the key's state and audits it. A KMS refusal becomes the error S3 answers.

S3 Bucket Keys: a bucket-level data key (context: the bucket's ARN) serves many objects for a
bounded period; each object still gets its own key, derived from the bucket key and its salt.
Cached bucket keys are kept per principal, so every principal is authorized by the KMS at least
once per period for each bucket key it uses.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from datetime import datetime

from strongroom.client.kms import KmsCallError, KmsClient
from strongroom.client.principal import Principal
from strongroom.objectstore.errors import (
    AccessDenied,
    InternalError,
    InvalidRequest,
    KmsPassthroughError,
    S3Error,
    ServiceUnavailable,
)
from strongroom.objectstore.records import SSE_C, Bucket, Protection
from strongroom.objectstore.sse import CustomerKey, SseChoice
from strongroom.objectstore.storage.metadata import Metadata

_FINGERPRINT = b"strongroom-s3 sse-c fingerprint v1"
_NEEDS_CUSTOMER_KEY = (
    "The object was stored using a form of Server Side Encryption. The correct parameters must "
    "be provided to retrieve the object."
)


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def kms_error(error: KmsCallError) -> S3Error:
    if error.code == "AccessDeniedException":
        return AccessDenied(error.message)
    if error.code in ("DependencyTimeoutException", "ThrottlingException"):
        # The audit trail cannot commit, or the account's KMS request quota is spent (S3's
        # KMS calls count against it, as on AWS): S3's 503, which SDKs retry.
        return ServiceUnavailable()
    if error.code == "KMSInternalException":
        return InternalError()
    return KmsPassthroughError(error.code, error.message)


def fingerprint(customer: CustomerKey, salt: bytes) -> bytes:
    return hmac.digest(customer.key, _FINGERPRINT + salt, hashlib.sha256)


class Keyring:
    def __init__(
        self,
        kms: KmsClient,
        metadata: Metadata,
        bucket_key_seconds: float,
        now: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._now = now
        self._kms = kms
        self._metadata = metadata
        self._period = bucket_key_seconds
        self._monotonic = monotonic
        # (principal ARN, bucket, KMS key id as asked) -> (bucket key id, key ARN, root, made at)
        self._sealing: dict[tuple[str, str, str], tuple[str, str, bytes, float]] = {}
        # (principal ARN, bucket key id) -> (root, opened at)
        self._opening: dict[tuple[str, str], tuple[bytes, float]] = {}

    def new(
        self, principal: Principal, bucket: Bucket, key: str, choice: SseChoice
    ) -> tuple[Protection, bytes]:
        """A new object's protection record and its root key."""
        salt = secrets.token_bytes(16)
        if choice.customer is not None:
            return Protection(
                SSE_C, salt, ssec_fingerprint=fingerprint(choice.customer, salt)
            ), choice.customer.key
        if choice.bucket_key:
            key_id, key_arn, root = self._bucket_key(principal, bucket, choice.key_id)
            protection = Protection(choice.sse, salt, key_arn, None, dict(choice.context), key_id)
            return protection, root
        context = {**choice.context, "aws:s3:arn": object_arn(bucket.name, key)}
        try:
            data_key = self._kms.generate_data_key(principal, choice.key_id, context)
        except KmsCallError as error:
            raise kms_error(error) from None
        protection = Protection(
            choice.sse,
            salt,
            data_key.key_arn,
            data_key.ciphertext,
            dict(choice.context),
            key_material_id=data_key.key_material_id,
        )
        return protection, data_key.plaintext

    def open(
        self,
        principal: Principal,
        bucket: str,
        key: str,
        protection: Protection,
        customer: CustomerKey | None,
    ) -> bytes:
        """The root key of a stored object (or upload), if the principal may have it."""
        if protection.sse == SSE_C:
            if customer is None:
                raise InvalidRequest(_NEEDS_CUSTOMER_KEY)
            expected = protection.ssec_fingerprint or b""
            if not hmac.compare_digest(fingerprint(customer, protection.key_salt), expected):
                raise AccessDenied("The provided SSE-C key does not match the object's key.")
            return customer.key
        if customer is not None:
            raise InvalidRequest("The encryption parameters are not applicable to this object.")
        try:
            if protection.bucket_key_id is not None:
                return self._open_bucket_key(principal, protection.bucket_key_id)
            assert protection.wrapped_key is not None
            context = {**protection.context, "aws:s3:arn": object_arn(bucket, key)}
            return self._kms.decrypt(principal, protection.wrapped_key, context)
        except KmsCallError as error:
            raise kms_error(error) from None

    def _bucket_key(
        self, principal: Principal, bucket: Bucket, key_id: str
    ) -> tuple[str, str, bytes]:
        cache_key = (principal.arn, bucket.name, key_id)
        cached = self._sealing.get(cache_key)
        now = self._monotonic()
        if cached is not None and now - cached[3] < self._period:
            return cached[0], cached[1], cached[2]
        try:
            data_key = self._kms.generate_data_key(principal, key_id, {"aws:s3:arn": bucket.arn})
        except KmsCallError as error:
            raise kms_error(error) from None
        bucket_key_id = secrets.token_hex(16)
        self._metadata.add_bucket_key(
            bucket_key_id,
            bucket.name,
            data_key.key_arn,
            data_key.ciphertext,
            self._now(),
            key_material_id=data_key.key_material_id,
        )
        self._sealing[cache_key] = (bucket_key_id, data_key.key_arn, data_key.plaintext, now)
        self._opening[(principal.arn, bucket_key_id)] = (data_key.plaintext, now)
        return bucket_key_id, data_key.key_arn, data_key.plaintext

    def _open_bucket_key(self, principal: Principal, bucket_key_id: str) -> bytes:
        now = self._monotonic()
        cached = self._opening.get((principal.arn, bucket_key_id))
        if cached is not None and now - cached[1] < self._period:
            return cached[0]
        found = self._metadata.bucket_key(bucket_key_id)
        if found is None:
            raise InternalError()
        bucket, wrapped = found
        root = self._kms.decrypt(principal, wrapped, {"aws:s3:arn": f"arn:aws:s3:::{bucket}"})
        if len(self._opening) > 10_000:
            self._opening.clear()
        self._opening[(principal.arn, bucket_key_id)] = (root, now)
        return root
