"""Which version and which bytes of an object a request selects: ``versionId``, ``partNumber``
and ``Range``, answered as S3 answers them for a bucket that was never versioned.

Strongroom does not serve versioning, so every object is S3's *null version*: ``versionId=null``
selects it (and the answer then says ``x-amz-version-id: null``, as S3's does), an empty id and
any other id are refused with S3's ``InvalidArgument``. ``partNumber`` reads one part of a
multipart object (its blobs are its parts) or, for an object stored by one PUT, part 1 is the
whole object; both answer 206 with a Content-Range, as a Range does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from strongroom.objectstore import conditions
from strongroom.objectstore.errors import InvalidArgument, InvalidPartNumber, InvalidRequest
from strongroom.objectstore.records import ObjectRecord

NULL_VERSION = "null"
MAX_PART_NUMBER = 10_000


def version(query: Mapping[str, str]) -> str | None:
    """``"null"`` when the request names the null version, None when it names none."""
    if "versionId" not in query:
        return None
    return checked_version_id(query["versionId"])


def checked_version_id(value: str) -> str:
    if value == "":
        raise InvalidArgument(
            "Version id cannot be the empty string", ArgumentName="versionId", ArgumentValue=""
        )
    if value != NULL_VERSION:
        raise InvalidArgument(
            "Invalid version id specified", ArgumentName="versionId", ArgumentValue=value
        )
    return value


def is_multipart(record: ObjectRecord) -> bool:
    return "-" in record.etag


@dataclass(frozen=True, slots=True)
class Span:
    """Bytes ``first`` to ``last`` inclusive; ``partial``: answer 206 with a Content-Range."""

    first: int
    last: int
    partial: bool
    parts_count: int | None = None


def span(query: Mapping[str, str], headers: Mapping[str, str], record: ObjectRecord) -> Span:
    raw_part = query.get("partNumber")
    if raw_part is None:
        found = conditions.byte_range(headers.get("range"), record.size)
        if found is None:
            return Span(0, record.size - 1, False)
        return Span(found[0], found[1], True)
    if not raw_part.isdigit() or not 1 <= int(raw_part) <= MAX_PART_NUMBER:
        raise InvalidArgument(
            f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=raw_part,
        )
    if "range" in headers:
        raise InvalidRequest("Cannot specify both Range header and partNumber query parameter")
    number = int(raw_part)
    parts = record.blobs if is_multipart(record) else ()
    count = len(parts) if parts else 1
    if number > count:
        raise InvalidPartNumber(PartNumberRequested=str(number), ActualPartCount=str(count))
    if not parts:
        return Span(0, record.size - 1, record.size > 0)
    first = sum(ref.size for ref in parts[: number - 1])
    size = parts[number - 1].size
    return Span(first, first + size - 1, size > 0, count)
