"""Bucket operations: create, delete, head, list, location and default encryption."""

from __future__ import annotations

import re

from strongroom.objectstore import xml
from strongroom.objectstore.context import StoreContext
from strongroom.objectstore.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    IllegalLocationConstraintException,
    InvalidBucketName,
    InvalidLocationConstraint,
    InvalidRequest,
    MalformedXML,
    ServerSideEncryptionConfigurationNotFoundError,
)
from strongroom.objectstore.http import S3Request, S3Response
from strongroom.objectstore.records import SSE_KMS, SSE_S3, Bucket, BucketEncryption
from strongroom.objectstore.storage.metadata import DuplicateBucket

_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP = re.compile(r"\d+\.\d+\.\d+\.\d+")
OWNER_DISPLAY = "strongroom"


def valid_bucket_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name)) and not _IP.fullmatch(name) and ".." not in name


class Buckets:
    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    async def create(self, request: S3Request) -> S3Response:
        assert request.bucket is not None
        name = request.bucket
        ctx = self._ctx
        ctx.authorize(request, "s3:CreateBucket", f"arn:aws:s3:::{name}")
        if not valid_bucket_name(name):
            raise InvalidBucketName(BucketName=name)
        body = await request.read_all(ctx.limits.max_xml_bytes)
        region = _bucket_region(request, ctx.region, body)
        account = request.principal.account_id
        try:
            ctx.metadata.create_bucket(Bucket(name, account, ctx.now(), None, region))
        except DuplicateBucket:
            existing = ctx.metadata.bucket(name)
            if existing is not None and existing.account_id == account:
                raise BucketAlreadyOwnedByYou(BucketName=name) from None
            raise BucketAlreadyExists(BucketName=name) from None
        return S3Response(headers=[("Location", f"/{name}")])

    async def delete(self, request: S3Request) -> S3Response:
        bucket = self._ctx.bucket(request, "s3:DeleteBucket")
        if not self._ctx.metadata.delete_bucket(bucket.name):
            raise BucketNotEmpty(BucketName=bucket.name)
        return S3Response(status=204)

    async def head(self, request: S3Request) -> S3Response:
        bucket = self._ctx.bucket(request, "s3:ListBucket")
        return S3Response(headers=[("x-amz-bucket-region", bucket.region or self._ctx.region)])

    async def location(self, request: S3Request) -> S3Response:
        bucket = self._ctx.bucket(request, "s3:GetBucketLocation")
        region = bucket.region or self._ctx.region
        region = "" if region == "us-east-1" else region
        body = xml.document("LocationConstraint", ())
        if region:
            body = body.replace(
                b"></LocationConstraint>", f">{region}</LocationConstraint>".encode()
            )
        return S3Response(body=body)

    async def list_all(self, request: S3Request) -> S3Response:
        self._ctx.authorize(request, "s3:ListAllMyBuckets", "arn:aws:s3:::*")
        owned = self._ctx.metadata.list_buckets(request.principal.account_id)
        body = xml.document(
            "ListAllMyBucketsResult",
            (
                ("Owner", (("ID", request.principal.account_id), ("DisplayName", OWNER_DISPLAY))),
                (
                    "Buckets",
                    [("Bucket", (("Name", b.name), ("CreationDate", b.created_at))) for b in owned],
                ),
            ),
        )
        return S3Response(body=body)

    async def put_encryption(self, request: S3Request) -> S3Response:
        bucket = self._ctx.bucket(request, "s3:PutEncryptionConfiguration")
        body = await request.read_all(self._ctx.limits.max_xml_bytes)
        config = xml.parse(body, "ServerSideEncryptionConfiguration")
        rules = config.findall("Rule")
        if len(rules) != 1:
            raise MalformedXML()
        default = rules[0].find("ApplyServerSideEncryptionByDefault")
        if default is None:
            raise MalformedXML()
        algorithm = xml.text(default, "SSEAlgorithm")
        key_id = xml.text(default, "KMSMasterKeyID") or None
        bucket_key = (xml.text(rules[0], "BucketKeyEnabled") or "false").strip() == "true"
        if algorithm not in (SSE_S3, SSE_KMS):
            raise MalformedXML()
        if algorithm == SSE_S3 and key_id is not None:
            raise InvalidRequest(
                "KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms"
            )
        encryption = BucketEncryption(algorithm, key_id, bucket_key and algorithm == SSE_KMS)
        self._ctx.metadata.set_encryption(bucket.name, encryption)
        return S3Response()

    async def get_encryption(self, request: S3Request) -> S3Response:
        bucket = self._ctx.bucket(request, "s3:GetEncryptionConfiguration")
        encryption = bucket.encryption or BucketEncryption(SSE_S3)
        default = [("SSEAlgorithm", encryption.algorithm)]
        if encryption.kms_key_id:
            default.append(("KMSMasterKeyID", encryption.kms_key_id))
        rule = (
            ("ApplyServerSideEncryptionByDefault", default),
            ("BucketKeyEnabled", encryption.bucket_key),
        )
        body = xml.document("ServerSideEncryptionConfiguration", (("Rule", rule),))
        return S3Response(body=body)

    async def delete_encryption(self, request: S3Request) -> S3Response:
        bucket = self._ctx.bucket(request, "s3:PutEncryptionConfiguration")
        self._ctx.metadata.set_encryption(bucket.name, None)
        return S3Response(status=204)


__all__ = ["Buckets", "ServerSideEncryptionConfigurationNotFoundError", "valid_bucket_name"]


def _bucket_region(request: S3Request, default: str, body: bytes) -> str:
    """The region a new bucket lives in: its LocationConstraint, which must be the region the
    request was signed for (S3's regional endpoints), else that region.

    More lenient than S3 in one case: a request signed for a region other than us-east-1 with no
    LocationConstraint makes the bucket in that region (S3 refuses it); code written for
    other local emulators does this.
    """
    signed_for = request.principal.region or default
    location = ""
    if body.strip():
        config = xml.parse(body, "CreateBucketConfiguration")
        location = xml.text(config, "LocationConstraint") or ""
    if not location:
        return signed_for
    if location == "us-east-1" and signed_for == "us-east-1":
        raise InvalidLocationConstraint("The specified location-constraint is not valid")
    if location != signed_for:
        raise IllegalLocationConstraintException(
            f"The {location} location constraint is incompatible for the region specific "
            "endpoint this request was sent to."
        )
    return location
