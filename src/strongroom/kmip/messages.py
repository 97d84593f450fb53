"""Request and response messages: the header, the batch items, and the versions spoken.

A request is parsed once into :class:`Request` (every batch item checked for its operation and
payload); a response is built from :class:`Result` values, one per batch item.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from strongroom.kmip.enums import BatchErrorContinuation, ResultReason, ResultStatus
from strongroom.kmip.tags import Tag
from strongroom.kmip.ttlv import Item, ItemType, TtlvError

Version = tuple[int, int]
# Newest first, as DiscoverVersions answers.
SUPPORTED: tuple[Version, ...] = ((2, 0), (1, 4), (1, 3), (1, 2), (1, 1), (1, 0))


@dataclass(frozen=True, slots=True)
class BatchItem:
    operation: int
    batch_id: bytes | None
    payload: Item | None


@dataclass(frozen=True, slots=True)
class Request:
    version: Version
    items: tuple[BatchItem, ...]
    stop_on_error: bool
    max_response_size: int | None


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of one batch item: a payload, or a reason and message."""

    operation: int | None
    batch_id: bytes | None
    payload: Item | None = None
    reason: ResultReason | None = None
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.reason is not None


def _child(parent: Item, tag: Tag, kind: ItemType) -> Item:
    found = parent.find(tag)
    if found is None:
        raise TtlvError(f"{tag.name} is missing")
    if found.type is not kind:
        raise TtlvError(f"{tag.name} must be a {kind.name}")
    return found


def version_of(item: Item) -> Version:
    major = _child(item, Tag.PROTOCOL_VERSION_MAJOR, ItemType.INTEGER).value
    minor = _child(item, Tag.PROTOCOL_VERSION_MINOR, ItemType.INTEGER).value
    assert isinstance(major, int) and isinstance(minor, int)
    return major, minor


def parse(message: Item) -> Request:
    """A request message; TtlvError when its frame is malformed (Invalid Message)."""
    if message.tag != Tag.REQUEST_MESSAGE or message.type is not ItemType.STRUCTURE:
        raise TtlvError("not a request message")
    header = _child(message, Tag.REQUEST_HEADER, ItemType.STRUCTURE)
    version = version_of(_child(header, Tag.PROTOCOL_VERSION, ItemType.STRUCTURE))
    count = _child(header, Tag.BATCH_COUNT, ItemType.INTEGER).value
    option = header.find(Tag.BATCH_ERROR_CONTINUATION_OPTION)
    limit = header.find(Tag.MAXIMUM_RESPONSE_SIZE)
    items: list[BatchItem] = []
    for raw in message.find_all(Tag.BATCH_ITEM):
        if raw.type is not ItemType.STRUCTURE:
            raise TtlvError("a batch item is a structure")
        operation = _child(raw, Tag.OPERATION, ItemType.ENUMERATION).value
        batch_id = raw.find(Tag.UNIQUE_BATCH_ITEM_ID)
        payload = raw.find(Tag.REQUEST_PAYLOAD)
        if payload is not None and payload.type is not ItemType.STRUCTURE:
            raise TtlvError("a request payload is a structure")
        assert isinstance(operation, int)
        items.append(
            BatchItem(
                operation,
                None if batch_id is None else _bytes(batch_id),
                payload,
            )
        )
    if not items or count != len(items):
        raise TtlvError("the batch count does not match the batch items")
    return Request(
        version,
        tuple(items),
        stop_on_error=option is not None and option.value == BatchErrorContinuation.STOP,
        max_response_size=None if limit is None else int(limit.value),  # type: ignore[call-overload]
    )


def _bytes(item: Item) -> bytes:
    if item.type is not ItemType.BYTE_STRING:
        raise TtlvError("a unique batch item id is a byte string")
    assert isinstance(item.value, bytes)
    return item.value


def answer_version(asked: Version) -> Version:
    """The version to answer in: the one asked when supported, else the newest below it."""
    for version in SUPPORTED:
        if version <= asked:
            return version
    return SUPPORTED[-1]


def version_item(version: Version) -> Item:
    return Item.struct(
        Tag.PROTOCOL_VERSION,
        [
            Item.integer(Tag.PROTOCOL_VERSION_MAJOR, version[0]),
            Item.integer(Tag.PROTOCOL_VERSION_MINOR, version[1]),
        ],
    )


def response(version: Version, now: datetime, results: list[Result]) -> Item:
    header = Item.struct(
        Tag.RESPONSE_HEADER,
        [
            version_item(version),
            Item.date(Tag.TIME_STAMP, now),
            Item.integer(Tag.BATCH_COUNT, len(results)),
        ],
    )
    return Item.struct(Tag.RESPONSE_MESSAGE, [header, *(_batch_item(r) for r in results)])


def _batch_item(result: Result) -> Item:
    children: list[Item] = []
    if result.operation is not None:
        children.append(Item.enum(Tag.OPERATION, result.operation))
    if result.batch_id is not None:
        children.append(Item.bytes_(Tag.UNIQUE_BATCH_ITEM_ID, result.batch_id))
    if result.reason is None:
        children.append(Item.enum(Tag.RESULT_STATUS, ResultStatus.SUCCESS))
        if result.payload is not None:
            children.append(result.payload)
    else:
        children += [
            Item.enum(Tag.RESULT_STATUS, ResultStatus.OPERATION_FAILED),
            Item.enum(Tag.RESULT_REASON, result.reason),
            Item.text(Tag.RESULT_MESSAGE, result.message),
        ]
    return Item.struct(Tag.BATCH_ITEM, children)
