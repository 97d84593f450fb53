"""What every S3 handler works with, and the checks they share (ownership, IAM, limits)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from strongroom.client.identity import Decision, IdentityPolicies
from strongroom.objectstore.blobs import BlobStore
from strongroom.objectstore.errors import AccessDenied, NoSuchBucket
from strongroom.objectstore.http import S3Request
from strongroom.objectstore.keyring import Keyring
from strongroom.objectstore.records import Bucket
from strongroom.objectstore.storage.metadata import Metadata

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True, slots=True)
class Limits:
    max_object_size: int = 5 * GiB  # one PutObject
    max_part_size: int = 5 * GiB
    min_part_size: int = 5 * MiB  # every part but the last
    max_parts: int = 10_000
    max_xml_bytes: int = 1 * MiB  # request documents (CompleteMultipartUpload, DeleteObjects)


@dataclass(frozen=True, slots=True)
class StoreContext:
    region: str
    metadata: Metadata
    blobs: BlobStore
    keyring: Keyring
    policies: IdentityPolicies
    now: Callable[[], datetime]
    limits: Limits = Limits()

    def authorize(self, request: S3Request, action: str, resource: str) -> None:
        """IAM identity policies must allow ``action`` (bucket policies are not supported)."""
        if self.policies.decide(request.principal, action, resource) is not Decision.ALLOW:
            raise AccessDenied()

    def owned_bucket(self, request: S3Request) -> Bucket:
        """The request's bucket, which the caller's account must own."""
        assert request.bucket is not None
        bucket = self.metadata.bucket(request.bucket)
        if bucket is None:
            raise NoSuchBucket(BucketName=request.bucket)
        if bucket.account_id != request.principal.account_id:
            raise AccessDenied()
        return bucket

    def bucket(self, request: S3Request, action: str, resource: str | None = None) -> Bucket:
        """:meth:`owned_bucket`, with ``action`` allowed on ``resource`` (default: the
        bucket's ARN)."""
        bucket = self.owned_bucket(request)
        self.authorize(request, action, resource or bucket.arn)
        return bucket

    def object_arn(self, request: S3Request) -> str:
        return f"arn:aws:s3:::{request.bucket}/{request.key}"
