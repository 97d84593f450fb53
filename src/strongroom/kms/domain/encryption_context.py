"""The one canonical encoding of an encryption context, used as AES-GCM additional data.

Pairs are sorted by the UTF-8 bytes of their keys; the count, every key and every value are
length-prefixed, so no two different contexts encode to the same bytes (unlike simple
concatenation, where {"ab": "c"} and {"a": "bc"} collide).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from strongroom.kms.errors import ValidationException

_U16 = struct.Struct(">H")
# AWS documents no limit; external key store proxies must accept 8 KiB of additional data,
# which is the bound we hold every encryption context to.
MAX_ENCODED_BYTES = 8192


EMPTY = b"\x00\x00"  # the encoding of no context (or an empty one)


def encode_context(context: Mapping[str, str] | None) -> bytes:
    if not context:
        return EMPTY
    items = sorted((k.encode(), v.encode()) for k, v in context.items())
    size = 2 + sum(4 + len(k) + len(v) for k, v in items)
    if size > MAX_ENCODED_BYTES:
        raise ValidationException(
            f"The encryption context is too large: {size} bytes encoded, at most "
            f"{MAX_ENCODED_BYTES} are allowed."
        )
    out = bytearray(_U16.pack(len(items)))
    for key, value in items:
        out += _U16.pack(len(key))
        out += key
        out += _U16.pack(len(value))
        out += value
    return bytes(out)
