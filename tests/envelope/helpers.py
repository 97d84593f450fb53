"""Small helpers shared by the envelope tests."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping

from strongroom.envelope import SIGNED, KmsKeyring, Suite, decrypt_stream, encrypt_stream


def encrypt(
    keyring: KmsKeyring,
    data: bytes,
    *,
    suite: Suite = SIGNED,
    frame_length: int = 64,
    context: Mapping[str, str] | None = None,
) -> bytes:
    out = io.BytesIO()
    encrypt_stream(
        io.BytesIO(data), out, keyring, context=context, suite=suite, frame_length=frame_length
    )
    return out.getvalue()


def decrypt(
    keyring: KmsKeyring, message: bytes, required_context: Mapping[str, str] | None = None
) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(message), out, keyring, required_context=required_context)
    return out.getvalue()


def random_bytes(size: int) -> bytes:
    return os.urandom(size)
