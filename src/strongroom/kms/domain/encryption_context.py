"""The one canonical encoding of an encryption context, used as AES-GCM additional data.

Pairs are sorted by the UTF-8 bytes of their keys; the count, every key and every value are
length-prefixed, so no two different contexts encode to the same bytes (unlike simple
concatenation, where {"ab": "c"} and {"a": "bc"} collide).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

_U16 = struct.Struct(">H")


def encode_context(context: Mapping[str, str] | None) -> bytes:
    if not context:
        return b"\x00\x00"
    items = sorted((k.encode(), v.encode()) for k, v in context.items())
    out = bytearray(_U16.pack(len(items)))
    for key, value in items:
        out += _U16.pack(len(key))
        out += key
        out += _U16.pack(len(value))
        out += value
    return bytes(out)
