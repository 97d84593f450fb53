"""Double encryption for KMS keys in an external key store (AWS's design).

Encrypt: AES-256-GCM with the KMS key's own material (Strongroom's, wrapped under the root key)
over the plaintext and the blob's AAD, then the proxy's Encrypt with the external key over the
result. Decrypt: the reverse. The blob (domain/ciphertext.py) keeps its layout: its nonce is the
inner layer's, and its sealed part is the outer layer, encoded here::

    1   version (0x01)
    1   n = length of the proxy's IV (12 or 16)
    n   the proxy's IV
    1   m = length of the proxy's ciphertextMetadata (0..20)
    m   ciphertextMetadata
    ..  the proxy's ciphertext (the inner ciphertext || tag, encrypted), then its 16-byte tag

The proxy's AAD is SHA-256 of the blob's AAD (header and encryption context): bound to the same
things, and of a fixed size whatever the encryption context.
"""

from __future__ import annotations

import contextvars
import hashlib
from collections.abc import Callable

from strongroom.kms.errors import InvalidCiphertextException, KMSInvalidStateException
from strongroom.kms.keystores.base import MaterialCipher
from strongroom.kms.keystores.external.proxy_client import (
    Encrypted,
    ProxyError,
    ProxyFailure,
    RequestContext,
    XksProxyClient,
)

_VERSION = 1
_TAG = 16

# The request being served (set by the pipeline for keys in external key stores): its
# requestMetadata. Absent (background work), the proxy is told the operation only.
REQUEST: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "xks_request", default=None
)


def encode_outer(encrypted: Encrypted) -> bytes:
    return (
        bytes((_VERSION, len(encrypted.iv)))
        + encrypted.iv
        + bytes((len(encrypted.metadata),))
        + encrypted.metadata
        + encrypted.ciphertext
        + encrypted.tag
    )


def decode_outer(sealed: bytes) -> Encrypted:
    """The outer layer's parts; InvalidCiphertextException for anything malformed."""
    if len(sealed) < 2 or sealed[0] != _VERSION or sealed[1] not in (12, 16):
        raise InvalidCiphertextException()
    iv_end = 2 + sealed[1]
    if len(sealed) < iv_end + 1:
        raise InvalidCiphertextException()
    meta_end = iv_end + 1 + sealed[iv_end]
    if sealed[iv_end] > 20 or len(sealed) < meta_end + _TAG + 1:
        raise InvalidCiphertextException()
    return Encrypted(
        iv=sealed[2:iv_end],
        metadata=sealed[iv_end + 1 : meta_end],
        ciphertext=sealed[meta_end:-_TAG],
        tag=sealed[-_TAG:],
    )


def failure(error: ProxyError) -> InvalidCiphertextException | KMSInvalidStateException:
    """The error a cryptographic operation answers: AWS answers KMSInvalidStateException for
    every failure of the external key store's proxy or key, with a message saying which."""
    if error.kind is ProxyFailure.INVALID_CIPHERTEXT:
        return InvalidCiphertextException()
    return KMSInvalidStateException(
        f"The external key store proxy failed: {error.kind.value}. The operation was not done."
    )


class DoubleCipher:
    """A :class:`MaterialCipher` for one material version of a KMS key in an external store."""

    def __init__(
        self,
        inner: MaterialCipher,
        proxy: Callable[[], XksProxyClient],
        xks_key_id: str,
        key_arn: str,
    ) -> None:
        self._inner = inner
        self._proxy = proxy
        self._xks_key_id = xks_key_id
        self._key_arn = key_arn

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        nonce, inner = self._inner.encrypt(plaintext, aad)
        try:
            outer = self._proxy().encrypt(
                self._xks_key_id, inner, _proxy_aad(aad), self._context("Encrypt")
            )
        except ProxyError as error:
            raise failure(error) from None
        return nonce, encode_outer(outer)

    def decrypt(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        outer = decode_outer(sealed)
        try:
            inner = self._proxy().decrypt(
                self._xks_key_id, outer, _proxy_aad(aad), self._context("Decrypt")
            )
        except ProxyError as error:
            raise failure(error) from None
        return self._inner.decrypt(nonce, inner, aad)

    def _context(self, fallback: str) -> RequestContext:
        current = REQUEST.get()
        if current is None:
            return RequestContext("", fallback, "", self._key_arn)
        return RequestContext(
            current.principal_arn, current.operation, current.request_id, self._key_arn
        )


def _proxy_aad(aad: bytes) -> bytes:
    return hashlib.sha256(aad).digest()
