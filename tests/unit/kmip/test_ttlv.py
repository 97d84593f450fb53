"""TTLV encoding against the KMIP 1.4 specification's examples (section 9.1.2), and refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from strongroom.kmip import ttlv
from strongroom.kmip.ttlv import Item, ItemType, TtlvError

# KMIP 1.4, 9.1.2: each example is one item with tag 0x420020.
T = 0x420020
SPEC_EXAMPLES = [
    (Item.integer(T, 8), "42002002000000040000000800000000"),
    (Item.long(T, 123456789000000000), "420020030000000801B69B4BA5749200"),
    (
        Item(T, ItemType.BIG_INTEGER, 1234567890000000000000000000),
        "42002004000000100000000003FD35EB6BC2DF4618080000",
    ),
    (Item.enum(T, 255), "4200200500000004000000FF00000000"),
    (Item.boolean(T, True), "42002006000000080000000000000001"),
    (Item.text(T, "Hello World"), "420020070000000B48656C6C6F20576F726C640000000000"),
    (Item.bytes_(T, b"\x01\x02\x03"), "42002008000000030102030000000000"),
    (
        Item.date(T, datetime(2008, 3, 14, 11, 56, 40, tzinfo=UTC)),
        "42002009000000080000000047DA67F8",
    ),
    (Item(T, ItemType.INTERVAL, 864000), "4200200A00000004000D2F0000000000"),
    (
        Item.struct(0x420020, [Item.enum(0x420004, 254), Item.integer(0x420005, 255)]),
        "42002001000000204200040500000004000000FE000000004200050200000004000000FF00000000",
    ),
]


@pytest.mark.parametrize(
    ("item", "hex_bytes"), SPEC_EXAMPLES, ids=[e[0].type.name for e in SPEC_EXAMPLES]
)
def test_the_specification_examples_encode_and_decode_exactly(item: Item, hex_bytes: str) -> None:
    assert ttlv.encode(item).hex().upper() == hex_bytes
    assert ttlv.decode(bytes.fromhex(hex_bytes)) == item


def test_negative_integers_and_big_integers_round_trip() -> None:
    item = Item.struct(
        0x420078,
        [Item.integer(T, -5), Item.long(T, -(2**40)), Item(T, ItemType.BIG_INTEGER, -(2**70))],
    )
    assert ttlv.decode(ttlv.encode(item)) == item


@pytest.mark.parametrize(
    ("hex_bytes", "phrase"),
    [
        ("420020020000000400000008", "runs past"),  # padding missing
        ("42002002000000050000000800000000", "must be 4 bytes"),
        ("42002002000000040000000800000001", "padding is not zero"),
        ("420020FF000000040000000800000000", "unknown item type"),
        ("43002002000000040000000800000000", "outside the KMIP"),
        ("42002006000000080000000000000002", "0 or 1"),
        ("42002007000000020000000000000000"[:-16] + "FFFE000000000000", "UTF-8"),
        ("4200200100000018" + "4200040500000004000000FE00000000", "runs past"),
        ("4200200100000008" + "4200040500000004", "runs past"),
        ("42002002000000040000000800000000" + "00", "bytes after"),
    ],
    ids=[
        "no-padding",
        "wrong-fixed-length",
        "dirty-padding",
        "unknown-type",
        "foreign-tag",
        "boolean-2",
        "not-utf8",
        "structure-too-long",
        "child-past-structure",
        "trailing-bytes",
    ],
)
def test_malformed_items_are_refused_whole(hex_bytes: str, phrase: str) -> None:
    with pytest.raises(TtlvError, match=phrase):
        ttlv.decode(bytes.fromhex(hex_bytes))


def test_nesting_is_bounded() -> None:
    item = Item.integer(T, 1)
    for _ in range(ttlv.MAX_DEPTH + 2):
        item = Item.struct(T, [item])
    with pytest.raises(TtlvError, match="nested too deeply"):
        ttlv.decode(ttlv.encode(item))


def test_message_length_reads_the_header_of_a_structure_only() -> None:
    assert ttlv.message_length(bytes.fromhex("4200780100000020")) == 40
    with pytest.raises(TtlvError):
        ttlv.message_length(bytes.fromhex("4200780200000004"))


def test_byte_strings_are_not_shown_in_reprs() -> None:
    assert "secret" not in repr(Item.bytes_(T, b"secret"))
