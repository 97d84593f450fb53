"""The two message format version 2 algorithm suites (both commit to the data key).

Key derivation follows the Encryption SDK specification: HKDF-SHA512 with the 32-byte message
id as salt and the 32-byte data key as input; the encryption key uses the info
``suite id (2 bytes, big-endian) || "DERIVEKEY"``, the commitment key the info ``"COMMITKEY"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.envelope.errors import InvalidMessageError

KEY_LENGTH = 32
IV_LENGTH = 12
TAG_LENGTH = 16
MESSAGE_ID_LENGTH = 32
COMMITMENT_LENGTH = 32


@dataclass(frozen=True)
class Suite:
    suite_id: int
    name: str
    signed: bool

    def derive_keys(self, data_key: bytes, message_id: bytes) -> tuple[bytes, bytes]:
        """Return ``(encryption key, commitment key)`` for one message."""
        encryption_key = HKDF(
            algorithm=hashes.SHA512(),
            length=KEY_LENGTH,
            salt=message_id,
            info=self.suite_id.to_bytes(2, "big") + b"DERIVEKEY",
        ).derive(data_key)
        commitment_key = HKDF(
            algorithm=hashes.SHA512(),
            length=COMMITMENT_LENGTH,
            salt=message_id,
            info=b"COMMITKEY",
        ).derive(data_key)
        return encryption_key, commitment_key


UNSIGNED = Suite(0x0478, "AES_256_GCM_HKDF_SHA512_COMMIT_KEY", signed=False)
SIGNED = Suite(0x0578, "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384", signed=True)
SUITES = {suite.suite_id: suite for suite in (UNSIGNED, SIGNED)}
BY_SHORT_NAME = {"signed": SIGNED, "unsigned": UNSIGNED}


def suite_by_id(suite_id: int) -> Suite:
    try:
        return SUITES[suite_id]
    except KeyError:
        # Older, non-committing suites are refused, as the SDK's default commitment policy does.
        raise InvalidMessageError() from None
