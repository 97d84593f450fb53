"""The outer layer's encoding of double encryption (keystores/external/double_cipher.py)."""

from __future__ import annotations

import pytest

from strongroom.kms.errors import InvalidCiphertextException
from strongroom.kms.keystores.external.double_cipher import decode_outer, encode_outer
from strongroom.kms.keystores.external.proxy_client import Encrypted


@pytest.mark.parametrize(("iv", "metadata"), [(12, 0), (16, 0), (12, 20), (16, 5)])
def test_the_outer_layer_round_trips(iv: int, metadata: int) -> None:
    encrypted = Encrypted(b"i" * iv, b"c" * 40, b"t" * 16, b"m" * metadata)
    assert decode_outer(encode_outer(encrypted)) == encrypted


@pytest.mark.parametrize(
    "sealed",
    [
        b"",
        b"\x02\x0c" + b"i" * 12 + b"\x00" + b"c" * 17,  # unknown version
        b"\x01\x0d" + b"i" * 13 + b"\x00" + b"c" * 17,  # an IV of 13 bytes
        b"\x01\x0c" + b"i" * 12 + b"\x15" + b"m" * 21 + b"c" * 17,  # metadata over 20
        b"\x01\x0c" + b"i" * 12 + b"\x00" + b"t" * 16,  # no ciphertext at all
        b"\x01\x0c" + b"i" * 5,  # truncated IV
    ],
    ids=["empty", "version", "iv-size", "metadata-size", "no-ciphertext", "truncated"],
)
def test_malformed_outer_layers_are_invalid_ciphertext(sealed: bytes) -> None:
    with pytest.raises(InvalidCiphertextException):
        decode_outer(sealed)
