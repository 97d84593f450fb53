"""TTLV, KMIP's binary encoding: Tag (3 bytes), Type (1), Length (4), Value padded to 8 bytes.

:func:`decode` is strict: a length that runs past its parent, a wrong fixed length, padding
that is not zero, an unknown type or an invalid UTF-8 text is a :class:`TtlvError` (which the
server answers with the result reason Invalid Message), never a partial item.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

HEADER = 8
MAX_DEPTH = 32


class TtlvError(ValueError):
    """The bytes are not a well-formed TTLV item."""


class ItemType(IntEnum):
    STRUCTURE = 0x01
    INTEGER = 0x02
    LONG_INTEGER = 0x03
    BIG_INTEGER = 0x04
    ENUMERATION = 0x05
    BOOLEAN = 0x06
    TEXT_STRING = 0x07
    BYTE_STRING = 0x08
    DATE_TIME = 0x09
    INTERVAL = 0x0A
    DATE_TIME_EXTENDED = 0x0B


_FIXED = {
    ItemType.INTEGER: 4,
    ItemType.LONG_INTEGER: 8,
    ItemType.ENUMERATION: 4,
    ItemType.BOOLEAN: 8,
    ItemType.DATE_TIME: 8,
    ItemType.INTERVAL: 4,
    ItemType.DATE_TIME_EXTENDED: 8,
}


@dataclass(frozen=True, slots=True)
class Item:
    """One TTLV item. ``value``: a list of items (Structure), int (Integer, Long Integer,
    Big Integer, Enumeration, Interval, Date-Time Extended in microseconds), bool, str, bytes
    or an aware datetime (Date-Time)."""

    tag: int
    type: ItemType
    value: object

    # --- building -----------------------------------------------------------------------

    @staticmethod
    def struct(tag: int, children: Sequence[Item]) -> Item:
        return Item(tag, ItemType.STRUCTURE, list(children))

    @staticmethod
    def integer(tag: int, value: int) -> Item:
        return Item(tag, ItemType.INTEGER, value)

    @staticmethod
    def long(tag: int, value: int) -> Item:
        return Item(tag, ItemType.LONG_INTEGER, value)

    @staticmethod
    def enum(tag: int, value: int) -> Item:
        return Item(tag, ItemType.ENUMERATION, int(value))

    @staticmethod
    def boolean(tag: int, value: bool) -> Item:
        return Item(tag, ItemType.BOOLEAN, value)

    @staticmethod
    def text(tag: int, value: str) -> Item:
        return Item(tag, ItemType.TEXT_STRING, value)

    @staticmethod
    def bytes_(tag: int, value: bytes) -> Item:
        return Item(tag, ItemType.BYTE_STRING, value)

    @staticmethod
    def date(tag: int, value: datetime) -> Item:
        return Item(tag, ItemType.DATE_TIME, value)

    # --- reading ------------------------------------------------------------------------

    @property
    def children(self) -> list[Item]:
        if self.type is not ItemType.STRUCTURE:
            raise TtlvError(f"item {self.tag:#08x} is not a structure")
        assert isinstance(self.value, list)
        return self.value

    @property
    def number(self) -> int:
        """The value of an Integer, Long Integer, Big Integer, Enumeration or Interval."""
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            from strongroom.kmip.errors import KmipInvalidField

            raise KmipInvalidField(f"Item {self.tag:#08x} must be a number.")
        return self.value

    @property
    def string(self) -> str:
        if not isinstance(self.value, str):
            from strongroom.kmip.errors import KmipInvalidField

            raise KmipInvalidField(f"Item {self.tag:#08x} must be a text string.")
        return self.value

    @property
    def data(self) -> bytes:
        if not isinstance(self.value, bytes):
            from strongroom.kmip.errors import KmipInvalidField

            raise KmipInvalidField(f"Item {self.tag:#08x} must be a byte string.")
        return self.value

    def find(self, tag: int) -> Item | None:
        for child in self.children:
            if child.tag == tag:
                return child
        return None

    def find_all(self, tag: int) -> list[Item]:
        return [child for child in self.children if child.tag == tag]

    def __repr__(self) -> str:
        if self.type is ItemType.BYTE_STRING:
            return f"Item({self.tag:#08x}, BYTE_STRING, <{len(self.value)} bytes>)"  # type: ignore[arg-type]
        return f"Item({self.tag:#08x}, {self.type.name}, {self.value!r})"


# --- encoding -------------------------------------------------------------------------------


def encode(item: Item) -> bytes:
    out = bytearray()
    _encode_into(item, out)
    return bytes(out)


def _encode_into(item: Item, out: bytearray) -> None:
    kind = item.type
    value = item.value
    if kind is ItemType.STRUCTURE:
        body = bytearray()
        for child in item.children:
            _encode_into(child, body)
        raw = bytes(body)
    elif kind in (ItemType.INTEGER, ItemType.ENUMERATION, ItemType.INTERVAL):
        fmt = ">i" if kind is ItemType.INTEGER else ">I"
        raw = struct.pack(fmt, _int(value))
    elif kind in (ItemType.LONG_INTEGER, ItemType.DATE_TIME_EXTENDED):
        raw = struct.pack(">q", _int(value))
    elif kind is ItemType.BOOLEAN:
        raw = struct.pack(">Q", 1 if value else 0)
    elif kind is ItemType.DATE_TIME:
        assert isinstance(value, datetime)
        raw = struct.pack(">q", int(value.timestamp()))
    elif kind is ItemType.TEXT_STRING:
        assert isinstance(value, str)
        raw = value.encode("utf-8")
    elif kind is ItemType.BYTE_STRING:
        assert isinstance(value, bytes)
        raw = value
    else:  # BIG_INTEGER: two's complement, a multiple of 8 bytes
        number = _int(value)
        size = max(8, ((number.bit_length() + 8) // 64 + 1) * 8)
        raw = number.to_bytes(size, "big", signed=True)
    out += item.tag.to_bytes(3, "big") + bytes([kind]) + struct.pack(">I", len(raw)) + raw
    out += bytes(-len(raw) % 8)


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


# --- decoding -------------------------------------------------------------------------------


def message_length(header: bytes) -> int:
    """The total length of a message whose first 8 bytes are ``header``."""
    if len(header) != HEADER:
        raise TtlvError("short header")
    if header[3] != ItemType.STRUCTURE:
        raise TtlvError("a message is a structure")
    return HEADER + int.from_bytes(header[4:8], "big")


_TYPES = frozenset(int(t) for t in ItemType)


def decode(data: bytes) -> Item:
    """One item that fills ``data`` exactly."""
    item, end = _decode_at(memoryview(data), 0, len(data), 0)
    if end != len(data):
        raise TtlvError("bytes after the item")
    return item


def _decode_at(data: memoryview, start: int, limit: int, depth: int) -> tuple[Item, int]:
    if depth > MAX_DEPTH:
        raise TtlvError("structures nested too deeply")
    if limit - start < HEADER:
        raise TtlvError("truncated item header")
    tag = int.from_bytes(data[start : start + 3], "big")
    if tag >> 16 not in (0x42, 0x54):
        raise TtlvError(f"tag {tag:#08x} is outside the KMIP and extension ranges")
    if data[start + 3] not in _TYPES:
        raise TtlvError(f"unknown item type {data[start + 3]:#04x}")
    kind = ItemType(data[start + 3])
    (length,) = struct.unpack(">I", data[start + 4 : start + 8])
    begin = start + HEADER
    padded = length + (-length % 8) if kind is not ItemType.STRUCTURE else length
    end = begin + padded
    if end > limit:
        raise TtlvError(f"item {tag:#08x} runs past its container")
    fixed = _FIXED.get(kind)
    if fixed is not None and length != fixed:
        raise TtlvError(f"item {tag:#08x}: {kind.name} must be {fixed} bytes")
    if any(data[begin + length : end]):
        raise TtlvError(f"item {tag:#08x}: padding is not zero")
    if kind is ItemType.STRUCTURE:
        if length % 8:
            raise TtlvError(f"structure {tag:#08x} is not a multiple of 8 bytes")
        children: list[Item] = []
        position = begin
        while position < end:
            child, position = _decode_at(data, position, end, depth + 1)
            children.append(child)
        return Item(tag, kind, children), end
    return Item(tag, kind, _value(kind, data[begin : begin + length], tag)), end


def _value(kind: ItemType, raw: memoryview, tag: int) -> object:
    if kind is ItemType.INTEGER:
        return struct.unpack(">i", raw)[0]
    if kind in (ItemType.ENUMERATION, ItemType.INTERVAL):
        return struct.unpack(">I", raw)[0]
    if kind in (ItemType.LONG_INTEGER, ItemType.DATE_TIME_EXTENDED):
        return struct.unpack(">q", raw)[0]
    if kind is ItemType.BOOLEAN:
        number = struct.unpack(">Q", raw)[0]
        if number not in (0, 1):
            raise TtlvError(f"item {tag:#08x}: a boolean is 0 or 1")
        return number == 1
    if kind is ItemType.DATE_TIME:
        seconds = struct.unpack(">q", raw)[0]
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise TtlvError(f"item {tag:#08x}: date out of range") from None
    if kind is ItemType.TEXT_STRING:
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise TtlvError(f"item {tag:#08x}: text is not UTF-8") from None
    if kind is ItemType.BYTE_STRING:
        return bytes(raw)
    # BIG_INTEGER
    if len(raw) % 8:
        raise TtlvError(f"item {tag:#08x}: a big integer is a multiple of 8 bytes")
    return int.from_bytes(raw, "big", signed=True)
