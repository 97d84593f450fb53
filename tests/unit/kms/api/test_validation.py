"""Blob members: pybase64 decodes first, binascii's strict mode decides what it refuses.

The pair must answer exactly as strict mode alone did: the same bytes for what it accepts, and
the same SerializationException (the same wording) for what it refuses.
"""

from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strongroom.kms.api.validation import SCALARS, fast_b64decode
from strongroom.kms.errors import SerializationException

_BLOB = SCALARS["blob"]({"type": "blob", "min": 1, "max": 4096}).decoder
_CHARACTERS = st.sampled_from([*"AQgw09+/=", "\n", " ", "\t", "-", "_", "é", "\x00", "\r"])


def _strict(value: str) -> object:
    """What the decoder answered before pybase64: binascii's strict mode alone."""
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except ValueError:
        return "refused"


def _answer(value: str) -> object:
    try:
        return _BLOB(value, "plaintext", [])
    except SerializationException as error:
        return error.message


def _strict_answer(value: str) -> object:
    decoded = _strict(value)
    if decoded != "refused":
        return decoded
    if len(value) % 4:
        reason = f"Base64 encoded length is expected a multiple of 4 bytes but found: {len(value)}"
    else:
        reason = "Invalid Base64 character"
    return f"Value at 'plaintext' can not be converted to a Blob: {reason}"


def _mangled() -> st.SearchStrategy[str]:
    """Valid Base64 of up to 300 bytes (long enough for the SIMD loops), then a few edits."""
    edit = st.tuples(st.integers(0, 500), st.sampled_from(["insert", "delete", "swap"]))
    return st.tuples(st.binary(max_size=300), st.lists(edit, max_size=3), _CHARACTERS).map(_apply)


def _apply(spec: tuple[bytes, list[tuple[int, str]], str]) -> str:
    data, edits, character = spec
    text = list(base64.b64encode(data).decode())
    for position, kind in edits:
        at = position % (len(text) + 1)
        if kind == "insert":
            text.insert(at, character)
        elif text:
            at = min(at, len(text) - 1)
            if kind == "delete":
                del text[at]
            else:
                text[at] = character
    return "".join(text)


@given(st.one_of(st.text(_CHARACTERS, max_size=16), _mangled()))
def test_blobs_are_answered_as_strict_mode_answered(value: str) -> None:
    assert _answer(value) == _strict_answer(value)


@given(st.one_of(st.text(_CHARACTERS, max_size=16), _mangled()))
def test_pybase64_accepts_only_what_strict_mode_accepts(value: str) -> None:
    try:
        decoded = fast_b64decode(value)
    except ValueError:
        return
    assert decoded == _strict(value)


@pytest.mark.parametrize("value", ["z+QA=", "QQ==", "QUJD" * 100])
def test_what_strict_mode_alone_accepts_is_still_accepted(value: str) -> None:
    assert _answer(value) == binascii.a2b_base64(value, strict_mode=True)
