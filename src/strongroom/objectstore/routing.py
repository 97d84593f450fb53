"""Which S3 operation a request is: bucket and key from the path or the Host, then a table.

Path style: ``/<bucket>/<key>``. Virtual-host style: ``<bucket>.<suffix>`` in the Host header,
where ``suffix`` is configurable (``s3_virtual_host_suffix``), and the key is the whole path.
Sub-resources in the query (``?uploads``, ``?tagging``, ...) pick among operations on the same
method and level; the first matching row of :data:`ROUTES` wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Target:
    bucket: str | None
    key: str | None
    virtual: bool = False  # the bucket came from the Host header


def target(path: str, host: str, suffix: str) -> Target:
    """Bucket and key of a request; ``path`` is already percent-decoded."""
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if suffix and hostname.endswith("." + suffix):
        bucket = hostname[: -len(suffix) - 1]
        key = path[1:] if path.startswith("/") else path
        return Target(bucket, key or None, virtual=True)
    trimmed = path[1:] if path.startswith("/") else path
    if not trimmed:
        return Target(None, None)
    bucket, _, key = trimmed.partition("/")
    return Target(bucket, key or None)


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    level: str  # "service" | "bucket" | "object"
    needs: tuple[str, ...]  # query parameters that must be present
    operation: str


ROUTES: tuple[Route, ...] = (
    Route("GET", "service", (), "ListBuckets"),
    Route("PUT", "bucket", ("encryption",), "PutBucketEncryption"),
    Route("GET", "bucket", ("encryption",), "GetBucketEncryption"),
    Route("DELETE", "bucket", ("encryption",), "DeleteBucketEncryption"),
    Route("GET", "bucket", ("location",), "GetBucketLocation"),
    Route("GET", "bucket", ("uploads",), "ListMultipartUploads"),
    Route("POST", "bucket", ("delete",), "DeleteObjects"),
    Route("GET", "bucket", ("list-type",), "ListObjectsV2"),
    Route("PUT", "bucket", (), "CreateBucket"),
    Route("DELETE", "bucket", (), "DeleteBucket"),
    Route("HEAD", "bucket", (), "HeadBucket"),
    Route("GET", "bucket", (), "ListObjects"),
    Route("PUT", "object", ("tagging",), "PutObjectTagging"),
    Route("GET", "object", ("tagging",), "GetObjectTagging"),
    Route("DELETE", "object", ("tagging",), "DeleteObjectTagging"),
    Route("PUT", "object", ("partNumber", "uploadId"), "UploadPart"),
    Route("GET", "object", ("uploadId",), "ListParts"),
    Route("DELETE", "object", ("uploadId",), "AbortMultipartUpload"),
    Route("POST", "object", ("uploads",), "CreateMultipartUpload"),
    Route("POST", "object", ("uploadId",), "CompleteMultipartUpload"),
    Route("PUT", "object", (), "PutObject"),
    Route("GET", "object", (), "GetObject"),
    Route("HEAD", "object", (), "HeadObject"),
    Route("DELETE", "object", (), "DeleteObject"),
)

# Operations that share a route with another and are told apart by the x-amz-copy-source
# header, inside the route's handler.
COPY_VARIANTS = {"CopyObject": "PutObject", "UploadPartCopy": "UploadPart"}

# Sub-resources of S3 that this store does not serve: answered NotImplemented, not routed to
# the plain operation of the same method (a GET ?versioning must not list objects).
UNSUPPORTED = frozenset(
    (
        "acl",
        "analytics",
        "accelerate",
        "cors",
        "intelligent-tiering",
        "inventory",
        "lifecycle",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "ownershipControls",
        "policy",
        "policyStatus",
        "publicAccessBlock",
        "replication",
        "requestPayment",
        "restore",
        "retention",
        "legal-hold",
        "select",
        "torrent",
        "versioning",
        "versions",
        "website",
        "attributes",
        "renameObject",
    )
)


def operation(method: str, found: Target, query: Mapping[str, str]) -> str | None:
    level = "service" if found.bucket is None else "bucket" if found.key is None else "object"
    if any(name in UNSUPPORTED for name in query):
        return None
    for route in ROUTES:
        if route.method == method and route.level == level and all(n in query for n in route.needs):
            return route.operation
    return None
