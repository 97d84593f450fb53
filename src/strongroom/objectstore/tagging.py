"""Object tags: PutObjectTagging, GetObjectTagging, DeleteObjectTagging."""

from __future__ import annotations

from strongroom.objectstore import selection, xml
from strongroom.objectstore.context import StoreContext
from strongroom.objectstore.errors import MalformedXML, NoSuchKey
from strongroom.objectstore.http import S3Request, S3Response
from strongroom.objectstore.object_headers import check_tags


class Tagging:
    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    async def put(self, request: S3Request) -> S3Response:
        ctx = self._ctx
        selection.version(request.query)  # only the null version exists
        bucket = ctx.bucket(request, "s3:PutObjectTagging", ctx.object_arn(request))
        document = xml.parse(await request.read_all(ctx.limits.max_xml_bytes), "Tagging")
        tag_set = document.find("TagSet")
        if tag_set is None:
            raise MalformedXML()
        tags = []
        for tag in tag_set.findall("Tag"):
            key, value = xml.text(tag, "Key"), xml.text(tag, "Value")
            if key is None or value is None:
                raise MalformedXML()
            tags.append((key, value))
        check_tags(tuple(tags))
        assert request.key is not None
        if not ctx.metadata.set_tags(bucket.name, request.key, tags):
            raise NoSuchKey(Key=request.key)
        return S3Response()

    async def get(self, request: S3Request) -> S3Response:
        ctx = self._ctx
        selection.version(request.query)  # only the null version exists
        bucket = ctx.bucket(request, "s3:GetObjectTagging", ctx.object_arn(request))
        assert request.key is not None
        record = ctx.metadata.object(bucket.name, request.key)
        if record is None:
            raise NoSuchKey(Key=request.key)
        tag_set = [("Tag", (("Key", k), ("Value", v))) for k, v in record.tags]
        return S3Response(body=xml.document("Tagging", (("TagSet", tag_set),)))

    async def delete(self, request: S3Request) -> S3Response:
        ctx = self._ctx
        selection.version(request.query)  # only the null version exists
        bucket = ctx.bucket(request, "s3:DeleteObjectTagging", ctx.object_arn(request))
        assert request.key is not None
        if not ctx.metadata.set_tags(bucket.name, request.key, ()):
            raise NoSuchKey(Key=request.key)
        return S3Response(status=204)
