"""Request framing: versions answered, batch counts, and what makes a message invalid."""

from __future__ import annotations

import pytest

from strongroom.kmip import messages, ttlv
from strongroom.kmip.tags import Tag
from strongroom.kmip.ttlv import Item, TtlvError


def _request(version: tuple[int, int], count: int, items: int) -> Item:
    header = Item.struct(
        Tag.REQUEST_HEADER,
        [messages.version_item(version), Item.integer(Tag.BATCH_COUNT, count)],
    )
    batch = [
        Item.struct(
            Tag.BATCH_ITEM,
            [Item.enum(Tag.OPERATION, 0x18), Item.struct(Tag.REQUEST_PAYLOAD, [])],
        )
        for _ in range(items)
    ]
    return Item.struct(Tag.REQUEST_MESSAGE, [header, *batch])


def test_a_request_is_parsed_with_its_version_and_items() -> None:
    parsed = messages.parse(ttlv.decode(ttlv.encode(_request((1, 4), 2, 2))))
    assert parsed.version == (1, 4)
    assert [item.operation for item in parsed.items] == [0x18, 0x18]
    assert not parsed.stop_on_error


def test_a_batch_count_that_does_not_match_is_invalid() -> None:
    with pytest.raises(TtlvError, match="batch count"):
        messages.parse(_request((1, 4), 3, 2))


def test_a_missing_header_is_invalid() -> None:
    with pytest.raises(TtlvError, match="REQUEST_HEADER"):
        messages.parse(Item.struct(Tag.REQUEST_MESSAGE, []))


@pytest.mark.parametrize(
    ("asked", "answered"),
    [((1, 4), (1, 4)), ((2, 0), (2, 0)), ((2, 1), (2, 0)), ((1, 9), (1, 4)), ((0, 9), (1, 0))],
    ids=["1.4", "2.0", "2.1", "1.9", "0.9"],
)
def test_the_answer_is_in_the_newest_supported_version_not_above_the_request(
    asked: tuple[int, int], answered: tuple[int, int]
) -> None:
    assert messages.answer_version(asked) == answered
