"""Format details checked against the SDK's own code, and the data key cache bounds."""

from __future__ import annotations

import io
import os

import pytest

from strongroom.envelope import SIGNED, UNSIGNED, CacheLimits, DataKeyCache
from strongroom.envelope.cache import EncryptionMaterials
from strongroom.envelope.format import (
    EncryptedDataKey,
    Header,
    StreamReader,
    frame_aad,
    frame_iv,
    parse_context,
    read_header,
    serialize_context,
    serialize_header,
)

sdk_keys = pytest.importorskip("aws_encryption_sdk.internal.crypto.data_keys")
from aws_encryption_sdk.identifiers import Algorithm  # type: ignore[import-untyped]  # noqa: E402
from aws_encryption_sdk.internal.formatting.encryption_context import (  # type: ignore[import-untyped]  # noqa: E402
    serialize_encryption_context,
)


@pytest.mark.parametrize(
    ("suite", "algorithm"),
    [
        (SIGNED, Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384),
        (UNSIGNED, Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY),
    ],
)
def test_key_derivation_matches_the_sdk(suite: object, algorithm: object) -> None:
    data_key, message_id = os.urandom(32), os.urandom(32)
    encryption_key, commitment = suite.derive_keys(data_key, message_id)  # type: ignore[attr-defined]
    assert encryption_key == sdk_keys.derive_data_encryption_key(data_key, algorithm, message_id)
    assert commitment == sdk_keys.calculate_commitment_key(data_key, algorithm, message_id)
    assert encryption_key != commitment


def test_context_serialization_matches_the_sdk() -> None:
    context = {"zeta": "1", "alpha": "ü", "Beta": "", "é": "x"}
    assert serialize_context(context) == serialize_encryption_context(context)
    assert parse_context(serialize_context(context)) == context
    assert serialize_context({}) == b""


def test_header_round_trip_and_frame_fields() -> None:
    header = Header(
        0x0578,
        bytes(range(32)),
        {"a": "b"},
        (EncryptedDataKey("aws-kms", "arn:aws:kms:r:1:key/k", b"\x01\x02"),),
        4096,
        bytes(32),
    )
    raw = serialize_header(header)
    assert raw[:3] == b"\x02\x05\x78"
    parsed, parsed_raw = read_header(StreamReader(io.BytesIO(raw)), 10)
    assert (parsed, parsed_raw) == (header, raw)
    assert frame_iv(1) == bytes(11) + b"\x01"
    assert frame_aad(bytes(32), 2, 5, final=True) == (
        bytes(32) + b"AWSKMSEncryptionClient Final Frame" + b"\x00\x00\x00\x02" + bytes(7) + b"\x05"
    )


def materials(n: int) -> EncryptionMaterials:
    return EncryptionMaterials(0x0478, bytes([n]) * 32, (), {}, None)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cache_bounded_by_messages_bytes_and_age() -> None:
    clock = Clock()
    cache = DataKeyCache(CacheLimits(max_age_seconds=10, max_messages=3, max_bytes=100), clock)
    key = b"k"
    assert cache.take_encryption(key, 10) is None
    cache.put_encryption(key, materials(1), 10)  # message 1
    assert cache.take_encryption(key, 10) == materials(1)  # 2
    assert cache.take_encryption(key, 10) == materials(1)  # 3
    assert cache.take_encryption(key, 10) is None  # a 4th message would exceed max_messages

    cache.put_encryption(key, materials(2), 60)
    assert cache.take_encryption(key, 41) is None  # 60 + 41 > max_bytes
    cache.put_encryption(key, materials(3), 60)
    assert cache.take_encryption(key, 40) == materials(3)  # exactly 100 bytes is allowed

    cache.put_encryption(key, materials(4), 1)
    clock.now = 9.9
    assert cache.take_encryption(key, 1) == materials(4)
    clock.now = 10.0
    assert cache.take_encryption(key, 1) is None  # too old

    cache.put_decryption(b"d", b"data key")
    assert cache.get_decryption(b"d") == b"data key"
    clock.now = 20.0
    assert cache.get_decryption(b"d") is None
    assert "data_key=<redacted>" in repr(materials(5))


def test_cache_capacity_evicts_least_recently_used() -> None:
    cache = DataKeyCache(CacheLimits(capacity=2))
    for n in range(3):
        cache.put_encryption(bytes([n]), materials(n), 1)
    assert cache.take_encryption(b"\x00", 1) is None
    assert cache.take_encryption(b"\x02", 1) == materials(2)
