"""ListObjectsV2 and ListObjects: prefix, delimiter, paging, URL encoding of keys."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from strongroom.objectstore import xml
from strongroom.objectstore.context import StoreContext
from strongroom.objectstore.errors import InvalidArgument
from strongroom.objectstore.http import S3Request, S3Response
from strongroom.objectstore.object_headers import url_encode
from strongroom.objectstore.records import ObjectRecord

_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Page:
    objects: list[ObjectRecord]
    prefixes: list[str]
    truncated: bool
    last: str | None  # the last key or common prefix listed
    last_is_prefix: bool


def list_page(
    ctx: StoreContext,
    *,
    bucket: str,
    prefix: str,
    delimiter: str,
    after: str,
    skip: str | None,
    limit: int,
) -> Page:
    """Up to ``limit`` entries after ``after``; keys under the common prefix ``skip`` are passed
    over (the listing stopped on that prefix last time)."""
    objects: list[ObjectRecord] = []
    prefixes: list[str] = []
    last: str | None = None
    last_is_prefix = False
    cursor = after
    while limit > 0:
        batch = ctx.metadata.list_objects(bucket, prefix, cursor, _BATCH)
        for record in batch:
            if skip is not None and record.key.startswith(skip):
                continue
            if len(objects) + len(prefixes) >= limit:
                return Page(objects, prefixes, True, last, last_is_prefix)
            rest = record.key[len(prefix) :]
            cut = rest.find(delimiter) if delimiter else -1
            if cut >= 0:
                common = prefix + rest[: cut + len(delimiter)]
                prefixes.append(common)
                skip, last, last_is_prefix = common, common, True
            else:
                objects.append(record)
                last, last_is_prefix = record.key, False
        if len(batch) < _BATCH:
            break
        cursor = batch[-1].key
    return Page(objects, prefixes, False, last, last_is_prefix)


def _token(page: Page) -> str:
    raw = json.dumps([page.last, page.last_is_prefix]).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _from_token(token: str) -> tuple[str, bool]:
    try:
        last, is_prefix = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        return str(last), bool(is_prefix)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidArgument("The continuation token provided is incorrect") from None


def _max_keys(request: S3Request) -> int:
    raw = request.query.get("max-keys", "1000")
    if not raw.lstrip("-").isdigit() or int(raw) < 0:
        raise InvalidArgument("Provided max-keys not an integer or within integer range")
    return min(int(raw), 1000)


def _contents(record: ObjectRecord, encode: bool, owner: str | None) -> xml.Node:
    children: list[xml.Node] = [
        ("Key", url_encode(record.key, encode)),
        ("LastModified", record.last_modified),
        ("ETag", record.etag),
        ("Size", record.size),
        ("StorageClass", "STANDARD"),
    ]
    if record.checksum_algorithm:
        children.append(("ChecksumAlgorithm", record.checksum_algorithm))
    if owner is not None:
        children.append(("Owner", (("ID", owner),)))
    return ("Contents", children)


class Listing:
    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    async def list_v2(self, request: S3Request) -> S3Response:
        bucket = self._ctx.bucket(request, "s3:ListBucket")
        query = request.query
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        encode = query.get("encoding-type") == "url"
        limit = _max_keys(request)
        token = query.get("continuation-token")
        start_after = query.get("start-after", "")
        skip = None
        after = start_after
        if token is not None:
            after, is_prefix = _from_token(token)
            skip = after if is_prefix else None
        page = list_page(
            self._ctx,
            bucket=bucket.name,
            prefix=prefix,
            delimiter=delimiter,
            after=after,
            skip=skip,
            limit=limit,
        )
        owner = bucket.account_id if query.get("fetch-owner") == "true" else None
        children: list[xml.Node] = [
            ("Name", bucket.name),
            ("Prefix", url_encode(prefix, encode)),
            ("KeyCount", len(page.objects) + len(page.prefixes)),
            ("MaxKeys", limit),
        ]
        if delimiter:
            children.append(("Delimiter", url_encode(delimiter, encode)))
        children.append(("IsTruncated", page.truncated))
        if encode:
            children.append(("EncodingType", "url"))
        if token is not None:
            children.append(("ContinuationToken", token))
        if start_after:
            children.append(("StartAfter", url_encode(start_after, encode)))
        if page.truncated:
            children.append(("NextContinuationToken", _token(page)))
        children += [_contents(r, encode, owner) for r in page.objects]
        children += [
            ("CommonPrefixes", (("Prefix", url_encode(p, encode)),)) for p in page.prefixes
        ]
        return S3Response(body=xml.document("ListBucketResult", children))

    async def list_v1(self, request: S3Request) -> S3Response:
        bucket = self._ctx.bucket(request, "s3:ListBucket")
        query = request.query
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        encode = query.get("encoding-type") == "url"
        limit = _max_keys(request)
        marker = query.get("marker", "")
        skip = marker if delimiter and marker.endswith(delimiter) else None
        page = list_page(
            self._ctx,
            bucket=bucket.name,
            prefix=prefix,
            delimiter=delimiter,
            after=marker,
            skip=skip,
            limit=limit,
        )
        children: list[xml.Node] = [
            ("Name", bucket.name),
            ("Prefix", url_encode(prefix, encode)),
            ("Marker", url_encode(marker, encode)),
            ("MaxKeys", limit),
        ]
        if delimiter:
            children.append(("Delimiter", url_encode(delimiter, encode)))
        children.append(("IsTruncated", page.truncated))
        if page.truncated and delimiter and page.last is not None:
            children.append(("NextMarker", url_encode(page.last, encode)))
        if encode:
            children.append(("EncodingType", "url"))
        children += [_contents(r, encode, bucket.account_id) for r in page.objects]
        children += [
            ("CommonPrefixes", (("Prefix", url_encode(p, encode)),)) for p in page.prefixes
        ]
        return S3Response(body=xml.document("ListBucketResult", children))
