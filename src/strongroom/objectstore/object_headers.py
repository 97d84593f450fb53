"""The headers that describe an object: stored from a request, written into responses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import parse_qsl, quote

from strongroom.objectstore.errors import InvalidArgument, InvalidTag
from strongroom.objectstore.records import SSE_C, SSE_KMS, ObjectRecord, Protection
from strongroom.objectstore.sse import CustomerKey

STORED = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")
META_PREFIX = "x-amz-meta-"
MAX_METADATA_BYTES = 2048
DEFAULT_CONTENT_TYPE = "binary/octet-stream"


def http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC).replace(microsecond=0), usegmt=True)


def parse_http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Content headers and user metadata to keep with a new object."""
    kept = {name: headers[name] for name in STORED if name in headers}
    meta = {n: v for n, v in headers.items() if n.startswith(META_PREFIX)}
    if sum(len(n) - len(META_PREFIX) + len(v) for n, v in meta.items()) > MAX_METADATA_BYTES:
        raise InvalidArgument("Your metadata headers exceed the maximum allowed metadata size.")
    if "content-encoding" in kept:
        # aws-chunked is transfer framing, not the object's encoding.
        encodings = [e.strip() for e in kept["content-encoding"].split(",")]
        remaining = [e for e in encodings if e and e != "aws-chunked"]
        if remaining:
            kept["content-encoding"] = ",".join(remaining)
        else:
            del kept["content-encoding"]
    return {**kept, **meta}


def parse_tags(raw: str | None) -> tuple[tuple[str, str], ...]:
    """The ``x-amz-tagging`` header (a URL query string) as tags."""
    if not raw:
        return ()
    tags = tuple(parse_qsl(raw, keep_blank_values=True))
    check_tags(tags)
    return tags


def check_tags(tags: tuple[tuple[str, str], ...]) -> None:
    if len(tags) > 10:
        raise InvalidTag("Object tags cannot be greater than 10")
    if len({k for k, _ in tags}) != len(tags):
        raise InvalidTag("Cannot provide multiple Tags with the same key")
    for key, value in tags:
        if not 1 <= len(key) <= 128 or len(value) > 256 or key.startswith("aws:"):
            raise InvalidTag("The TagKey you have provided is invalid")


def encryption_headers(
    protection: Protection, customer: CustomerKey | None = None
) -> list[tuple[str, str]]:
    if protection.sse == SSE_C:
        out = [("x-amz-server-side-encryption-customer-algorithm", "AES256")]
        if customer is not None:
            out.append(("x-amz-server-side-encryption-customer-key-MD5", customer.md5))
        return out
    out = [("x-amz-server-side-encryption", protection.sse)]
    if protection.sse == SSE_KMS and protection.kms_key_arn:
        out.append(("x-amz-server-side-encryption-aws-kms-key-id", protection.kms_key_arn))
    if protection.bucket_key_id is not None:
        out.append(("x-amz-server-side-encryption-bucket-key-enabled", "true"))
    return out


def object_headers(
    record: ObjectRecord, customer: CustomerKey | None, *, with_checksum: bool
) -> list[tuple[str, str]]:
    """GetObject/HeadObject headers, without Content-Length and Content-Range."""
    out = [
        ("Content-Type", record.content_type),
        ("ETag", record.etag),
        ("Last-Modified", http_date(record.last_modified)),
        ("Accept-Ranges", "bytes"),
    ]
    out += [(name, value) for name, value in record.headers.items()]
    out += encryption_headers(record.protection, customer)
    if record.tags:
        out.append(("x-amz-tagging-count", str(len(record.tags))))
    if with_checksum and record.checksum_algorithm and record.checksum_value:
        out.append((f"x-amz-checksum-{record.checksum_algorithm.lower()}", record.checksum_value))
    return out


def url_encode(value: str, encode: bool) -> str:
    return quote(value, safe="/") if encode else value
