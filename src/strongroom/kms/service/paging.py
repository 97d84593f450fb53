"""Limit/Marker paging as the KMS List* operations do it, with opaque markers.

Every List operation pages by keyset: a marker holds the sort position of the last item
returned, and the next page is what sorts after it. So a page never depends on the marker's
item still existing (a grant revoked between two pages, say). A marker is that position in
canonical, padded base64url; this module is the one parser of markers, and it is strict: a
marker this server could not have issued is ``InvalidMarkerException``, whatever it decodes to.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, Generic, TypeVar

from strongroom.kms.errors import InvalidMarkerException

T = TypeVar("T")
P = TypeVar("P")

_BASE64URL: Final = re.compile(r"(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?")
_SEQUENCE: Final = re.compile(r"[1-9][0-9]{0,18}")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MAX_SEQUENCE: Final = 2**63 - 1
"""The largest sequence number a database stores (a signed 64-bit integer)."""


def encode_marker(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode("utf-8")).decode("ascii")


def decode_marker(marker: str) -> str:
    """The position text of a marker; only the exact text :func:`encode_marker` makes passes."""
    if _BASE64URL.fullmatch(marker) is None:
        raise InvalidMarkerException()
    try:
        text = base64.urlsafe_b64decode(marker.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidMarkerException() from None
    if encode_marker(text) != marker:  # non-canonical padding bits
        raise InvalidMarkerException()
    return text


class MarkerCodec(Generic[P]):
    """How one List operation writes its sort position into a marker and reads it back."""

    def __init__(self, encode: Callable[[P], str], decode: Callable[[str], P]) -> None:
        self._encode = encode
        self._decode = decode

    def encode(self, position: P) -> str:
        return encode_marker(self._encode(position))

    def decode(self, marker: str | None) -> P | None:
        if marker is None:
            return None
        text = decode_marker(marker)
        try:
            return self._decode(text)
        except (ValueError, TypeError, OverflowError):
            raise InvalidMarkerException() from None


def _sequence(text: str) -> int:
    """A positive decimal integer, digits only, as ``str(int)`` writes it, within 64 bits."""
    if _SEQUENCE.fullmatch(text) is None or int(text) > MAX_SEQUENCE:
        raise ValueError(text)
    return int(text)


def _time_and_id(text: str) -> tuple[datetime, str]:
    stamp, item_id = json.loads(text)
    if type(stamp) is not int or type(item_id) is not str or not item_id:
        raise ValueError(text)
    return _EPOCH + timedelta(microseconds=stamp), item_id


def _micros(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1)


TEXT: Final = MarkerCodec[str](lambda text: text, lambda text: text)
"""A position that is the item's unique sort key itself (key id, alias name, ...)."""
SEQUENCE: Final = MarkerCodec[int](str, _sequence)
"""A position in a sequence of positive 64-bit integers (audit sequence numbers)."""
TIME_AND_ID: Final = MarkerCodec[tuple[datetime, str]](
    lambda position: json.dumps([_micros(position[0]), position[1]]), _time_and_id
)
"""Items in creation order, ties broken by their unique id (grants)."""


def page(
    fetch: Callable[[P | None, int], Sequence[T]],
    position: Callable[[T], P],
    limit: int,
    marker: str | None,
    codec: MarkerCodec[P] = TEXT,  # type: ignore[assignment]  # P is str for the default
) -> tuple[Sequence[T], dict[str, object]]:
    """Fetch one page of the items after the marker's position; return the items and the
    ``Truncated``/``NextMarker`` members. ``fetch(after, n)`` returns up to ``n`` items that
    sort after ``after`` (all from the start when it is ``None``)."""
    items = fetch(codec.decode(marker), limit + 1)
    if len(items) <= limit:
        return items, {"Truncated": False}
    items = items[:limit]
    return items, {"Truncated": True, "NextMarker": codec.encode(position(items[-1]))}
