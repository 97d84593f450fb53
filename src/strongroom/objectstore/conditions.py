"""Conditional requests (If-Match and friends) and byte ranges, as S3 evaluates them."""

from __future__ import annotations

import re
from collections.abc import Mapping

from strongroom.objectstore.errors import InvalidRange, NotModified, PreconditionFailed
from strongroom.objectstore.object_headers import parse_http_date
from strongroom.objectstore.records import ObjectRecord

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _etag_matches(header: str, etag: str) -> bool:
    wanted = [t.strip() for t in header.split(",")]
    return "*" in wanted or etag in wanted or etag.strip('"') in [t.strip('"') for t in wanted]


def check(headers: Mapping[str, str], record: ObjectRecord, prefix: str = "if-") -> None:
    """Raise PreconditionFailed (412) or NotModified (304) as S3 does.

    If-Match wins over If-Unmodified-Since, If-None-Match over If-Modified-Since (RFC 7232).
    ``prefix`` is ``x-amz-copy-source-if-`` for CopyObject's source, where both answers are 412.
    """
    modified = record.last_modified.replace(microsecond=0)
    if_match = headers.get(prefix + "match")
    if if_match is not None:
        if not _etag_matches(if_match, record.etag):
            raise PreconditionFailed(Condition="If-Match")
    else:
        raw = headers.get(prefix + "unmodified-since")
        since = parse_http_date(raw) if raw else None
        if since is not None and modified > since:
            raise PreconditionFailed(Condition="If-Unmodified-Since")
    not_modified = PreconditionFailed if prefix != "if-" else NotModified
    if_none_match = headers.get(prefix + "none-match")
    if if_none_match is not None:
        if _etag_matches(if_none_match, record.etag):
            raise not_modified()
    else:
        raw = headers.get(prefix + "modified-since")
        since = parse_http_date(raw) if raw else None
        if since is not None and modified <= since:
            raise not_modified()


def byte_range(raw: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive, or None for the whole object (absent or unparseable Range)."""
    if raw is None:
        return None
    match = _RANGE.fullmatch(raw.strip())
    if match is None or match.groups() == ("", ""):
        return None
    first_text, last_text = match.groups()
    if first_text == "":
        length = int(last_text)
        if length == 0:
            raise InvalidRange(ActualObjectSize=str(size), RangeRequested=raw)
        return max(0, size - length), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last < first:
        return None
    if first >= size:
        raise InvalidRange(ActualObjectSize=str(size), RangeRequested=raw)
    return first, min(last, size - 1)
