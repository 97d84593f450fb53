"""ECDSA P-384 signatures of the signed suite, and the SHA-384 of a message in a thread.

The signature covers header, header auth tag and body; the verifying key travels in the
encryption context under ``aws-crypto-public-key`` as a base64 compressed point.
"""

from __future__ import annotations

import base64
import hashlib
import queue
import threading

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from strongroom.envelope.errors import InvalidMessageError

# DER ECDSA P-384 signatures vary in length; the SDKs always write 103 bytes (they negate s
# when needed), so we do the same.
SIGNATURE_LENGTH = 103
_P384_ORDER = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77A"
    "ECEC196ACCC52973",
    16,
)
_ECDSA = ec.ECDSA(Prehashed(hashes.SHA384()))


def new_signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


class Hasher:
    """SHA-384 over buffers handed over by the caller, in a helper thread.

    Buffers circulate between a free pool and a work queue, so the encrypting thread never
    overwrites bytes that are still being hashed.
    """

    def __init__(self, buffer_size: int, buffers: int = 3) -> None:
        self._digest = hashlib.sha384()
        self.free: queue.Queue[bytearray] = queue.Queue()
        for _ in range(buffers):
            self.free.put(bytearray(buffer_size))
        self._work: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            buffer, length = item
            self._digest.update(memoryview(buffer)[:length])
            self.free.put(buffer)

    def submit(self, buffer: bytearray, length: int) -> None:
        self._work.put((buffer, length))

    def submit_bytes(self, data: bytes) -> None:
        buffer = self.free.get()
        if len(buffer) < len(data):
            buffer = bytearray(len(data))
        buffer[: len(data)] = data
        self.submit(buffer, len(data))

    def finish(self) -> bytes:
        self._work.put(None)
        self._thread.join()
        return self._digest.digest()


def sign(key: ec.EllipticCurvePrivateKey, digest: bytes) -> bytes:
    signature = key.sign(digest, _ECDSA)
    while len(signature) != SIGNATURE_LENGTH:
        r, s = decode_dss_signature(signature)
        signature = encode_dss_signature(r, _P384_ORDER - s)
        if len(signature) != SIGNATURE_LENGTH:
            signature = key.sign(digest, _ECDSA)
    return signature


def public_key_text(key: ec.EllipticCurvePrivateKey) -> str:
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    return base64.b64encode(point).decode()


def public_key_from_text(text: str | None) -> ec.EllipticCurvePublicKey:
    if text is None:
        raise InvalidMessageError()
    try:
        point = base64.b64decode(text, validate=True)
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), point)
    except ValueError:
        raise InvalidMessageError() from None


def verify(key: ec.EllipticCurvePublicKey, signature: bytes, digest: bytes) -> None:
    try:
        key.verify(signature, digest, _ECDSA)
    except InvalidSignature:
        raise InvalidMessageError() from None
