"""The hash chain and the signed-head message: the only definitions verify and write share."""

from __future__ import annotations

import hashlib

GENESIS_HASH = bytes(32)
HEAD_CONTEXT = "strongroom-audit-head/v1"


def link_hash(prev_hash: bytes, canonical: bytes) -> bytes:
    """``SHA-256(prev_hash || canonical_bytes(record))``."""
    return hashlib.sha256(prev_hash + canonical).digest()


def head_message(seq: int, hash_: bytes, signed_at: str) -> bytes:
    """What a chain head's signature covers: ``strongroom-audit-head/v1|seq|hash|time``."""
    return f"{HEAD_CONTEXT}|{seq}|{hash_.hex()}|{signed_at}".encode()
