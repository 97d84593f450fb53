from __future__ import annotations

from strongroom.kms.domain.encryption_context import encode_context


def test_order_does_not_matter() -> None:
    assert encode_context({"a": "1", "b": "2"}) == encode_context({"b": "2", "a": "1"})


def test_empty_and_missing_are_the_same() -> None:
    assert encode_context({}) == encode_context(None) == b"\x00\x00"


def test_no_collisions_between_different_splits() -> None:
    assert encode_context({"ab": "c"}) != encode_context({"a": "bc"})
    assert encode_context({"a": "b", "c": "d"}) != encode_context({"a": "bcd"})
    assert encode_context({"a": ""}) != encode_context({})


def test_exact_layout() -> None:
    assert encode_context({"k": "vv"}) == b"\x00\x01" + b"\x00\x01k" + b"\x00\x02vv"
    assert encode_context({"é": "x"}) == b"\x00\x01\x00\x02\xc3\xa9\x00\x01x"
