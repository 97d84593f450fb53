"""Multipart uploads. Each part is its own encrypted blob; completing an upload writes only
metadata (the object lists its parts' blobs), so no data is copied however large it is."""

from __future__ import annotations

import hashlib
import re
import secrets

from strongroom.objectstore import checksums, sse, xml
from strongroom.objectstore.context import StoreContext
from strongroom.objectstore.copying import source_of
from strongroom.objectstore.errors import (
    EntityTooLarge,
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    InvalidRange,
    MalformedXML,
    NoSuchUpload,
)
from strongroom.objectstore.http import S3Request, S3Response
from strongroom.objectstore.object_headers import (
    DEFAULT_CONTENT_TYPE,
    encryption_headers,
    parse_tags,
    stored_headers,
    url_encode,
)
from strongroom.objectstore.objects import new_object_id
from strongroom.objectstore.records import BlobRef, ObjectRecord, Part, Upload
from strongroom.objectstore.upload_listing import upload_page
from strongroom.objectstore.writing import WrittenBlob, write_blob

_COPY_RANGE = re.compile(r"bytes=(\d+)-(\d+)")


def _part_number(request: S3Request, limit: int) -> int:
    raw = request.query.get("partNumber", "")
    if not raw.isdigit() or not 1 <= int(raw) <= limit:
        raise InvalidArgument(
            f"Part number must be an integer between 1 and {limit}, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=raw,
        )
    return int(raw)


def _multipart_etag(parts: list[Part]) -> str:
    digest = hashlib.md5()  # noqa: S324 - S3's ETag, not a security function
    for part in parts:
        digest.update(bytes.fromhex(part.etag.strip('"')))
    return f'"{digest.hexdigest()}-{len(parts)}"'


class Multipart:
    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    def _upload(self, request: S3Request, action: str) -> Upload:
        ctx = self._ctx
        ctx.bucket(request, action, ctx.object_arn(request))
        upload = ctx.metadata.upload(request.query.get("uploadId", ""))
        if upload is None or (upload.bucket, upload.key) != (request.bucket, request.key):
            raise NoSuchUpload(UploadId=request.query.get("uploadId", ""))
        return upload

    async def create(self, request: S3Request) -> S3Response:
        ctx = self._ctx
        assert request.key is not None
        bucket = ctx.bucket(request, "s3:PutObject", ctx.object_arn(request))
        headers = request.headers
        choice = sse.choose(headers, bucket)
        algorithm = headers.get("x-amz-checksum-algorithm")
        if algorithm is not None and algorithm.upper() not in checksums.ALGORITHMS:
            raise InvalidArgument("Checksum algorithm provided is unsupported.")
        protection, _ = ctx.keyring.new(request.principal, bucket, request.key, choice)
        upload = Upload(
            secrets.token_urlsafe(36),
            bucket.name,
            request.key,
            ctx.now(),
            request.principal.arn,
            headers.get("content-type") or DEFAULT_CONTENT_TYPE,
            stored_headers(headers),
            parse_tags(headers.get("x-amz-tagging")),
            algorithm.upper() if algorithm else None,
            protection,
        )
        ctx.metadata.create_upload(upload)
        out = encryption_headers(protection, choice.customer)
        if upload.checksum_algorithm:
            out.append(("x-amz-checksum-algorithm", upload.checksum_algorithm))
        body = xml.document(
            "InitiateMultipartUploadResult",
            (("Bucket", bucket.name), ("Key", request.key), ("UploadId", upload.upload_id)),
        )
        return S3Response(headers=out, body=body)

    async def upload_part_or_copy(self, request: S3Request) -> S3Response:
        ctx = self._ctx
        number = _part_number(request, ctx.limits.max_parts)
        upload = self._upload(request, "s3:PutObject")
        copy = "x-amz-copy-source" in request.headers
        if not copy and (request.content_length or 0) > ctx.limits.max_part_size:
            raise EntityTooLarge(MaxSizeAllowed=str(ctx.limits.max_part_size))
        customer = sse.customer_key(request.headers)
        assert request.bucket is not None and request.key is not None
        root = ctx.keyring.open(
            request.principal, request.bucket, request.key, upload.protection, customer
        )
        salt = upload.protection.key_salt
        if copy:
            source = source_of(ctx, request)
            first, last = self._copy_range(request, source.record.size)
            body = source.stream(ctx, first, last)
            written = await write_blob(
                ctx.blobs,
                body,
                root,
                salt,
                headers={},
                trailer={},
                max_size=ctx.limits.max_part_size,
                default_checksum=upload.checksum_algorithm,
            )
        else:
            written = await write_blob(
                ctx.blobs,
                request.body,
                root,
                salt,
                headers=request.headers,
                trailer=request.trailer,
                max_size=ctx.limits.max_part_size,
                default_checksum=upload.checksum_algorithm,
            )
        part = Part(
            number,
            written.blob_id,
            written.size,
            f'"{written.md5_hex}"',
            written.checksum_value,
            ctx.now(),
        )
        replaced = self._store_part(upload, part, written)
        ctx.blobs.delete(replaced)
        out = encryption_headers(upload.protection, customer)
        if written.checksum_algorithm and written.checksum_value:
            out.append(
                (f"x-amz-checksum-{written.checksum_algorithm.lower()}", written.checksum_value)
            )
        if copy:
            result = (("LastModified", part.last_modified), ("ETag", part.etag))
            return S3Response(headers=out, body=xml.document("CopyPartResult", result))
        return S3Response(headers=[("ETag", part.etag), *out])

    def _copy_range(self, request: S3Request, size: int) -> tuple[int, int]:
        raw = request.headers.get("x-amz-copy-source-range")
        if raw is None:
            return 0, size - 1
        match = _COPY_RANGE.fullmatch(raw.strip())
        if match is None:
            raise InvalidArgument(
                "The x-amz-copy-source-range value must be of the form bytes=first-last where "
                "first and last are the zero-based offsets of the first and last bytes to copy",
                ArgumentName="x-amz-copy-source-range",
            )
        first, last = int(match[1]), int(match[2])
        if first > last or last >= size:
            raise InvalidRange(ActualObjectSize=str(size), RangeRequested=raw)
        return first, last

    def _store_part(self, upload: Upload, part: Part, written: WrittenBlob) -> list[str]:
        try:
            replaced = self._ctx.metadata.put_part(upload.upload_id, part)
        except BaseException:
            self._ctx.blobs.delete([written.blob_id])
            raise
        if replaced is None:
            self._ctx.blobs.delete([written.blob_id])
            raise NoSuchUpload(UploadId=upload.upload_id)
        return replaced

    async def complete(self, request: S3Request) -> S3Response:
        ctx = self._ctx
        upload = self._upload(request, "s3:PutObject")
        document = xml.parse(
            await request.read_all(ctx.limits.max_xml_bytes), "CompleteMultipartUpload"
        )
        asked: list[tuple[int, str]] = []
        for element in document.findall("Part"):
            number_text, etag_text = xml.text(element, "PartNumber"), xml.text(element, "ETag")
            if number_text is None or not number_text.strip().isdigit() or etag_text is None:
                raise MalformedXML()
            asked.append((int(number_text), etag_text.strip().strip('"')))
        if not asked:
            raise MalformedXML()
        numbers = [n for n, _ in asked]
        if numbers != sorted(set(numbers)) or len(set(numbers)) != len(numbers):
            raise InvalidPartOrder()
        stored = {p.part_number: p for p in ctx.metadata.parts(upload.upload_id)}
        chosen: list[Part] = []
        for number, etag in asked:
            part = stored.get(number)
            if part is None or part.etag.strip('"') != etag:
                raise InvalidPart(PartNumber=str(number), ETag=etag)
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < ctx.limits.min_part_size:
                raise EntityTooSmall(
                    ProposedSize=str(part.size), MinSizeAllowed=str(ctx.limits.min_part_size)
                )
        checksum = None
        if upload.checksum_algorithm and all(p.checksum for p in chosen):
            checksum = checksums.composite(
                upload.checksum_algorithm, [p.checksum or "" for p in chosen]
            )
        record = ObjectRecord(
            upload.bucket,
            upload.key,
            new_object_id(),
            sum(p.size for p in chosen),
            _multipart_etag(chosen),
            ctx.now(),
            upload.content_type,
            upload.headers,
            upload.tags,
            upload.checksum_algorithm if checksum else None,
            checksum,
            tuple(BlobRef(p.blob_id, p.size) for p in chosen),
            upload.protection,
        )
        garbage = ctx.metadata.finish_upload(upload.upload_id, record)
        if garbage is None:
            raise NoSuchUpload(UploadId=upload.upload_id)
        ctx.blobs.delete(garbage)
        result: list[xml.Node] = [
            ("Location", f"/{upload.bucket}/{upload.key}"),
            ("Bucket", upload.bucket),
            ("Key", upload.key),
            ("ETag", record.etag),
        ]
        if checksum and upload.checksum_algorithm:
            result.append((f"Checksum{upload.checksum_algorithm}", checksum))
        body = xml.document("CompleteMultipartUploadResult", result)
        return S3Response(headers=encryption_headers(upload.protection), body=body)

    async def abort(self, request: S3Request) -> S3Response:
        upload = self._upload(request, "s3:AbortMultipartUpload")
        garbage = self._ctx.metadata.finish_upload(upload.upload_id, None)
        if garbage is None:
            raise NoSuchUpload(UploadId=upload.upload_id)
        self._ctx.blobs.delete(garbage)
        return S3Response(status=204)

    async def list_parts(self, request: S3Request) -> S3Response:
        upload = self._upload(request, "s3:ListMultipartUploadParts")
        query = request.query
        marker = int(query.get("part-number-marker", "0") or 0)
        limit = min(int(query.get("max-parts", "1000") or 1000), 1000)
        remaining = [
            p for p in self._ctx.metadata.parts(upload.upload_id) if p.part_number > marker
        ]
        page, truncated = remaining[:limit], len(remaining) > limit
        children: list[xml.Node] = [
            ("Bucket", upload.bucket),
            ("Key", upload.key),
            ("UploadId", upload.upload_id),
            ("PartNumberMarker", marker),
            ("NextPartNumberMarker", page[-1].part_number if page else marker),
            ("MaxParts", limit),
            ("IsTruncated", truncated),
            ("Initiator", (("ID", upload.initiator_arn),)),
            ("Owner", (("ID", request.principal.account_id),)),
            ("StorageClass", "STANDARD"),
        ]
        if upload.checksum_algorithm:
            children.append(("ChecksumAlgorithm", upload.checksum_algorithm))
        for part in page:
            fields: list[xml.Node] = [
                ("PartNumber", part.part_number),
                ("LastModified", part.last_modified),
                ("ETag", part.etag),
                ("Size", part.size),
            ]
            if part.checksum and upload.checksum_algorithm:
                fields.append((f"Checksum{upload.checksum_algorithm}", part.checksum))
            children.append(("Part", fields))
        return S3Response(body=xml.document("ListPartsResult", children))

    async def list_uploads(self, request: S3Request) -> S3Response:
        bucket = self._ctx.bucket(request, "s3:ListBucketMultipartUploads")
        query = request.query
        prefix = query.get("prefix", "")
        key_marker = query.get("key-marker", "")
        # S3 ignores the upload id marker without a key marker.
        upload_id_marker = query.get("upload-id-marker", "") if key_marker else ""
        raw = query.get("max-uploads", "1000")
        if not raw.isdigit():
            raise InvalidArgument(
                "Provided max-uploads not an integer or within integer range",
                ArgumentName="max-uploads",
                ArgumentValue=raw,
            )
        limit = min(int(raw), 1000)
        encode = query.get("encoding-type") == "url"
        delimiter = query.get("delimiter", "")
        page = upload_page(
            self._ctx.metadata,
            bucket.name,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            limit=limit,
        )
        children: list[xml.Node] = [
            ("Bucket", bucket.name),
            ("KeyMarker", url_encode(key_marker, encode)),
            ("UploadIdMarker", upload_id_marker),
        ]
        if page.truncated:
            children.append(("NextKeyMarker", url_encode(page.next_key, encode)))
            children.append(("NextUploadIdMarker", page.next_upload_id))
        if delimiter:
            children.append(("Delimiter", url_encode(delimiter, encode)))
        if encode:
            children.append(("EncodingType", "url"))
        children += [
            ("Prefix", url_encode(prefix, encode)),
            ("MaxUploads", limit),
            ("IsTruncated", page.truncated),
        ]
        for upload in page.uploads:
            children.append(
                (
                    "Upload",
                    (
                        ("Key", url_encode(upload.key, encode)),
                        ("UploadId", upload.upload_id),
                        ("Initiator", (("ID", upload.initiator_arn),)),
                        ("Owner", (("ID", bucket.account_id),)),
                        ("StorageClass", "STANDARD"),
                        ("Initiated", upload.initiated),
                    ),
                )
            )
        children += [
            ("CommonPrefixes", (("Prefix", url_encode(p, encode)),)) for p in page.prefixes
        ]
        return S3Response(body=xml.document("ListMultipartUploadsResult", children))
