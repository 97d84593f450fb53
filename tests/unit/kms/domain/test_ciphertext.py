from __future__ import annotations

import pytest

from strongroom.kms.domain import ciphertext
from strongroom.kms.domain.ids import new_key_id, new_material_id
from strongroom.kms.errors import InvalidCiphertextException


def _blob(key_id: str, material_id: str) -> bytes:
    header = ciphertext.header_for(key_id, material_id)
    return header + b"N" * ciphertext.NONCE_BYTES + b"C" * 5 + b"T" * ciphertext.TAG_BYTES


def test_parse_round_trip_keeps_full_ids() -> None:
    key_id, material_id = new_key_id(), new_material_id()
    parsed = ciphertext.parse(_blob(key_id, material_id))
    assert parsed.key_id == key_id
    assert parsed.material_id == material_id
    assert parsed.nonce == b"N" * 12
    assert parsed.sealed == b"C" * 5 + b"T" * 16
    assert parsed.to_bytes() == _blob(key_id, material_id)
    assert parsed.header == ciphertext.header_for(key_id, material_id)


def test_multi_region_ids_are_not_truncated() -> None:
    key_id = "mrk-" + "ab" * 16
    assert ciphertext.parse(_blob(key_id, new_material_id())).key_id == key_id


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b"",
        lambda b: b[:1],
        lambda b: b"\x02" + b[1:],
        lambda b: b[:1] + bytes([200]) + b[2:],
        lambda b: b[:1] + bytes([10]) + b[2:],
        lambda b: b[:2] + b"\xff" + b[3:],
        lambda b: b[:-20],
    ],
)
def test_malformed_blobs_are_invalid_ciphertext(mangle: object) -> None:
    blob = _blob(new_key_id(), new_material_id())
    with pytest.raises(InvalidCiphertextException) as info:
        ciphertext.parse(mangle(blob))  # type: ignore[operator]
    assert info.value.message == ""
