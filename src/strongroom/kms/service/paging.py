"""Limit/Marker paging as the KMS List* operations do it, with opaque markers."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import TypeVar

from strongroom.kms.errors import InvalidMarkerException

T = TypeVar("T")


def decode_marker(marker: str | None) -> str | None:
    if marker is None:
        return None
    try:
        return base64.urlsafe_b64decode(marker.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidMarkerException() from None


def page(
    fetch: Callable[[str | None, int], Sequence[T]],
    sort_key: Callable[[T], str],
    limit: int,
    marker: str | None,
) -> tuple[Sequence[T], dict[str, object]]:
    """Fetch one page; return its items and the ``Truncated``/``NextMarker`` members."""
    items = fetch(decode_marker(marker), limit + 1)
    if len(items) <= limit:
        return items, {"Truncated": False}
    items = items[:limit]
    next_marker = base64.urlsafe_b64encode(sort_key(items[-1]).encode()).decode("ascii")
    return items, {"Truncated": True, "NextMarker": next_marker}
