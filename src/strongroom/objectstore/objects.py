"""Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

from strongroom.objectstore import conditions, reading, selection, sse, xml
from strongroom.objectstore.blobs import BlobWriter
from strongroom.objectstore.context import StoreContext
from strongroom.objectstore.errors import (
    AccessDenied,
    EntityTooLarge,
    MalformedXML,
    NoSuchKey,
    S3Error,
)
from strongroom.objectstore.group_commit import GroupCommit
from strongroom.objectstore.http import S3Request, S3Response
from strongroom.objectstore.object_headers import (
    DEFAULT_CONTENT_TYPE,
    encryption_headers,
    object_headers,
    parse_tags,
    stored_headers,
)
from strongroom.objectstore.records import BlobRef, ObjectRecord
from strongroom.objectstore.writing import write_blob

_RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def new_object_id() -> str:
    return secrets.token_hex(16)


class Objects:
    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx
        self._commits = GroupCommit(ctx.metadata, ctx.blobs)

    async def commit(self, record: ObjectRecord, blob: BlobWriter | None = None) -> None:
        """Make ``record`` the object under its key, committed with whatever other new objects
        are waiting (group_commit.py); its blobs are deleted if that fails. ``blob``: its
        blob if not yet committed (committed first, in the same thread job)."""
        await self._commits.put(record, blob)

    async def put(self, request: S3Request, content_length: int) -> S3Response:
        ctx = self._ctx
        assert request.key is not None
        bucket = ctx.bucket(request, "s3:PutObject", ctx.object_arn(request))
        if content_length > ctx.limits.max_object_size:
            raise EntityTooLarge(MaxSizeAllowed=str(ctx.limits.max_object_size))
        headers = request.headers
        choice = sse.choose(headers, bucket)
        tags = parse_tags(headers.get("x-amz-tagging"))
        kept = stored_headers(headers)
        protection, root = ctx.keyring.new(request.principal, bucket, request.key, choice)
        written = await write_blob(
            ctx.blobs,
            request.body,
            root,
            protection.key_salt,
            headers=headers,
            trailer=request.trailer,
            max_size=ctx.limits.max_object_size,
            defer=True,
        )
        record = ObjectRecord(
            bucket.name,
            request.key,
            new_object_id(),
            written.size,
            f'"{written.md5_hex}"',
            ctx.now(),
            headers.get("content-type") or DEFAULT_CONTENT_TYPE,
            kept,
            tags,
            written.checksum_algorithm,
            written.checksum_value,
            (BlobRef(written.blob_id, written.size),),
            protection,
        )
        await self.commit(record, written.uncommitted)
        out = [("ETag", record.etag), *encryption_headers(protection, choice.customer)]
        if written.checksum_algorithm and written.checksum_value:
            out.append(
                (f"x-amz-checksum-{written.checksum_algorithm.lower()}", written.checksum_value)
            )
        return S3Response(headers=out)

    def _readable(self, request: S3Request) -> ObjectRecord:
        ctx = self._ctx
        assert request.bucket is not None and request.key is not None
        ctx.bucket(request, "s3:GetObject", ctx.object_arn(request))
        record = ctx.metadata.object(request.bucket, request.key)
        if record is None:
            raise NoSuchKey(Key=request.key)
        return record

    async def get(self, request: S3Request, *, head: bool = False) -> S3Response:
        ctx = self._ctx
        version = selection.version(request.query)
        record = self._readable(request)
        headers = request.headers
        customer = sse.customer_key(headers)
        conditions.check(headers, record)
        span = selection.span(request.query, headers, record)
        assert request.key is not None
        root = ctx.keyring.open(
            request.principal, record.bucket, request.key, record.protection, customer
        )
        first, last = span.first, span.last
        checksum = headers.get("x-amz-checksum-mode", "").upper() == "ENABLED" and not span.partial
        out = object_headers(record, customer, with_checksum=checksum)
        for parameter, name in _RESPONSE_OVERRIDES.items():
            if parameter in request.query:
                out = [(n, v) for n, v in out if n.lower() != name.lower()]
                out.append((name, request.query[parameter]))
        out.append(("Content-Length", str(last - first + 1)))
        if version is not None:
            out.append(("x-amz-version-id", version))
        if span.parts_count is not None:
            out.append(("x-amz-mp-parts-count", str(span.parts_count)))
        status = 200
        if span.partial:
            status = 206
            out.append(("Content-Range", f"bytes {first}-{last}/{record.size}"))
        if head:
            return S3Response(status=status, headers=out)

        def stream() -> AsyncIterator[bytes]:
            return reading.plaintext(
                ctx.blobs, record.blobs, root, record.protection.key_salt, start=first, end=last
            )

        return S3Response(status=status, headers=out, stream=stream)

    async def delete(self, request: S3Request) -> S3Response:
        ctx = self._ctx
        assert request.bucket is not None and request.key is not None
        version = selection.version(request.query)
        ctx.bucket(request, "s3:DeleteObject", ctx.object_arn(request))
        ctx.blobs.delete(ctx.metadata.delete_object(request.bucket, request.key))
        return S3Response(
            status=204, headers=[("x-amz-version-id", version)] if version is not None else []
        )

    async def delete_many(self, request: S3Request) -> S3Response:
        ctx = self._ctx
        bucket = ctx.owned_bucket(request)  # each key's s3:DeleteObject is checked below
        body = await request.read_all(ctx.limits.max_xml_bytes)
        document = xml.parse(body, "Delete")
        quiet = (xml.text(document, "Quiet") or "false").strip().lower() == "true"
        keys = [xml.text(o, "Key") for o in document.findall("Object")]
        if not keys or len(keys) > 1000 or any(k is None or k == "" for k in keys):
            raise MalformedXML()
        results: list[xml.Node] = []
        for key in keys:
            assert key is not None
            try:
                ctx.authorize(request, "s3:DeleteObject", f"{bucket.arn}/{key}")
                ctx.blobs.delete(ctx.metadata.delete_object(bucket.name, key))
            except S3Error as error:
                code = "AccessDenied" if isinstance(error, AccessDenied) else error.code
                results.append(
                    ("Error", (("Key", key), ("Code", code), ("Message", error.message)))
                )
                continue
            if not quiet:
                results.append(("Deleted", (("Key", key),)))
        return S3Response(body=xml.document("DeleteResult", results))

    async def head(self, request: S3Request) -> S3Response:
        return await self.get(request, head=True)
