"""CopyObject (and the source side of UploadPartCopy): decrypt, then encrypt under the target's
protection. A copy onto itself that changes the encryption re-encrypts an object in place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import unquote

from strongroom.objectstore import conditions, reading, selection, sse, xml
from strongroom.objectstore.context import StoreContext
from strongroom.objectstore.errors import InvalidArgument, InvalidRequest, NoSuchKey
from strongroom.objectstore.http import S3Request, S3Response
from strongroom.objectstore.object_headers import encryption_headers, parse_tags, stored_headers
from strongroom.objectstore.objects import Objects, new_object_id
from strongroom.objectstore.records import BlobRef, ObjectRecord
from strongroom.objectstore.writing import write_blob

_SELF_COPY = (
    "This copy request is illegal because it is trying to copy an object to itself without "
    "changing the object's metadata, storage class, website redirect location or encryption "
    "attributes."
)


@dataclass(frozen=True, slots=True)
class Source:
    record: ObjectRecord
    root: bytes

    def stream(self, ctx: StoreContext, first: int, last: int) -> AsyncIterator[bytes]:
        salt = self.record.protection.key_salt
        return reading.plaintext(
            ctx.blobs, self.record.blobs, self.root, salt, start=first, end=last
        )


def source_of(ctx: StoreContext, request: S3Request) -> Source:
    """The readable source object of a copy, checked (IAM, SSE-C key, conditions)."""
    raw, marker, version_id = unquote(request.headers["x-amz-copy-source"]).partition("?versionId=")
    if marker:
        selection.checked_version_id(version_id)
    bucket_name, _, key = raw.lstrip("/").partition("/")
    if not bucket_name or not key:
        raise InvalidArgument("Invalid copy source object key", ArgumentName="x-amz-copy-source")
    source_request = S3Request(
        "GET", bucket_name, key, {}, request.headers, request.principal, request.request_id
    )
    ctx.bucket(source_request, "s3:GetObject", f"arn:aws:s3:::{bucket_name}/{key}")
    record = ctx.metadata.object(bucket_name, key)
    if record is None:
        raise NoSuchKey(Key=key)
    conditions.check(request.headers, record, prefix="x-amz-copy-source-if-")
    customer = sse.customer_key(request.headers, sse.COPY_SOURCE_CUSTOMER)
    root = ctx.keyring.open(request.principal, bucket_name, key, record.protection, customer)
    return Source(record, root)


class Copying:
    def __init__(self, ctx: StoreContext, objects: Objects) -> None:
        self._ctx = ctx
        self._objects = objects

    async def put_or_copy(self, request: S3Request) -> S3Response:
        if "x-amz-copy-source" not in request.headers:
            return await self._objects.put(request, request.content_length or 0)
        return await self.copy(request)

    async def copy(self, request: S3Request) -> S3Response:
        ctx = self._ctx
        headers = request.headers
        assert request.key is not None
        bucket = ctx.bucket(request, "s3:PutObject", ctx.object_arn(request))
        source = source_of(ctx, request)
        replace_metadata = headers.get("x-amz-metadata-directive", "COPY").upper() == "REPLACE"
        replace_tags = headers.get("x-amz-tagging-directive", "COPY").upper() == "REPLACE"
        choice = sse.choose(headers, bucket)
        same = (source.record.bucket, source.record.key) == (bucket.name, request.key)
        changes_encryption = any(h.startswith("x-amz-server-side-encryption") for h in headers)
        if same and not (replace_metadata or changes_encryption):
            raise InvalidRequest(_SELF_COPY)
        record = source.record
        protection, root = ctx.keyring.new(request.principal, bucket, request.key, choice)
        written = await write_blob(
            ctx.blobs,
            source.stream(ctx, 0, record.size - 1),
            root,
            protection.key_salt,
            headers={},
            trailer={},
            max_size=ctx.limits.max_object_size,
            default_checksum=headers.get("x-amz-checksum-algorithm") or record.checksum_algorithm,
            defer=True,
        )
        new = ObjectRecord(
            bucket.name,
            request.key,
            new_object_id(),
            written.size,
            f'"{written.md5_hex}"',
            ctx.now(),
            headers.get("content-type", record.content_type)
            if replace_metadata
            else record.content_type,
            stored_headers(headers) if replace_metadata else record.headers,
            parse_tags(headers.get("x-amz-tagging")) if replace_tags else record.tags,
            written.checksum_algorithm,
            written.checksum_value,
            (BlobRef(written.blob_id, written.size),),
            protection,
        )
        await self._objects.commit(new, written.uncommitted)
        result: list[xml.Node] = [("LastModified", new.last_modified), ("ETag", new.etag)]
        if new.checksum_algorithm and new.checksum_value:
            result.append((f"Checksum{new.checksum_algorithm}", new.checksum_value))
        return S3Response(
            headers=encryption_headers(protection, choice.customer),
            body=xml.document("CopyObjectResult", result),
        )
