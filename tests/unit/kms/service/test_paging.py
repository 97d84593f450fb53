"""The one marker parser: what it accepts is exactly what the codecs write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.kms.errors import InvalidMarkerException
from strongroom.kms.service.paging import (
    MAX_SEQUENCE,
    SEQUENCE,
    TEXT,
    TIME_AND_ID,
    decode_marker,
    encode_marker,
    page,
)


@settings(max_examples=50, derandomize=True)
@given(st.text(min_size=1))
def test_text_round_trips(text: str) -> None:
    assert TEXT.decode(TEXT.encode(text)) == text


@settings(max_examples=50, derandomize=True)
@given(st.integers(min_value=1, max_value=MAX_SEQUENCE))
def test_sequence_round_trips(seq: int) -> None:
    assert SEQUENCE.decode(SEQUENCE.encode(seq)) == seq


@settings(max_examples=50, derandomize=True)
@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC)
    ),
    st.text(min_size=1, max_size=64),
)
def test_time_and_id_round_trips_to_the_microsecond(when: datetime, item_id: str) -> None:
    assert TIME_AND_ID.decode(TIME_AND_ID.encode((when, item_id))) == (when, item_id)


@settings(max_examples=200, derandomize=True)
@given(st.text(max_size=40))
def test_only_canonical_markers_decode(marker: str) -> None:
    try:
        text = decode_marker(marker)
    except InvalidMarkerException:
        return
    assert encode_marker(text) == marker


@pytest.mark.parametrize(
    "position", ["0", "-5", "05", "+5", " 5", "5 ", "1_0", "٣", str(MAX_SEQUENCE + 1), ""]
)
def test_sequences_are_positive_plain_decimals_within_64_bits(position: str) -> None:
    with pytest.raises(InvalidMarkerException):
        SEQUENCE.decode(encode_marker(position))


@pytest.mark.parametrize("position", ['["x", "id"]', "[1]", '[1, ""]', '[1e400, "a"]', "{}"])
def test_time_and_id_markers_are_checked(position: str) -> None:
    with pytest.raises(InvalidMarkerException):
        TIME_AND_ID.decode(encode_marker(position))


def test_page_asks_for_one_more_and_marks_the_last_item() -> None:
    items = [str(n) for n in range(10, 20)]

    def fetch(after: str | None, limit: int) -> list[str]:
        return [i for i in items if after is None or i > after][:limit]

    first, paging = page(fetch, lambda i: i, 4, None)
    assert list(first) == items[:4]
    assert paging == {"Truncated": True, "NextMarker": encode_marker("13")}
    rest, paging = page(fetch, lambda i: i, 6, encode_marker("13"))
    assert list(rest) == items[4:]
    assert paging == {"Truncated": False}
