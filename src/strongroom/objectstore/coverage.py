"""Renders docs/s3-coverage.md from the route table and botocore's S3 service model.

Regenerate with ``python -m strongroom.objectstore.coverage > docs/s3-coverage.md``; a test
fails when the committed file differs from what the code says.
"""

from __future__ import annotations

from typing import Any

from botocore.loaders import Loader

from strongroom.objectstore.routing import COPY_VARIANTS, ROUTES

NOTES: dict[str, str] = {
    "CreateBucket": (
        "Names global across accounts (BucketAlreadyExists / BucketAlreadyOwnedByYou); "
        "LocationConstraint must be the region the request is signed for; the bucket records "
        "its region (GetBucketLocation, HeadBucket) and is used from any region. ACLs and "
        "Object Lock are not served."
    ),
    "PutObject": (
        "SSE-S3 (alias/aws/s3), SSE-KMS (key id, ARN or alias; encryption context), SSE-C, "
        "bucket keys; Content-MD5 and CRC32/CRC32C/CRC64NVME/SHA1/SHA256 checksums (header "
        "or aws-chunked trailer); tags (x-amz-tagging); user metadata up to 2 KB. "
        "If-Match/If-None-Match on writes are not served. SSE-C keys only over TLS or from "
        "this host (loopback); otherwise InvalidRequest (400), as S3 refuses them over HTTP."
    ),
    "GetObject": (
        "One Range, If-Match/If-None-Match/If-Modified-Since/If-Unmodified-Since, response-* "
        "overrides, x-amz-checksum-mode; partNumber (a multipart object's part, or part 1 of "
        "any object: 206 and x-amz-mp-parts-count); versionId=null (buckets are never "
        "versioned: every object is the null version; other ids are InvalidArgument)."
    ),
    "HeadObject": "As GetObject, without a body.",
    "CopyObject": (
        "Decrypts the source and encrypts the copy under the target's SSE choice (also onto "
        "itself, to re-encrypt under another key); metadata and tagging directives; "
        "x-amz-copy-source-if-* conditions."
    ),
    "UploadPartCopy": "x-amz-copy-source-range bytes=first-last.",
    "CompleteMultipartUpload": (
        "Parts stay separate encrypted blobs: nothing is copied. Composite checksums "
        "(<base64>-<parts>) for the upload's checksum algorithm."
    ),
    "ListObjectsV2": "prefix, delimiter, max-keys (up to 1000), continuation-token, start-after, "
    "encoding-type=url, fetch-owner.",
    "ListObjects": "prefix, delimiter, marker, max-keys, encoding-type=url.",
    "ListMultipartUploads": (
        "prefix, delimiter (CommonPrefixes), max-uploads, key-marker and upload-id-marker "
        "(NextKeyMarker, NextUploadIdMarker), encoding-type=url."
    ),
    "PutBucketEncryption": "One rule: AES256, or aws:kms with KMSMasterKeyID and BucketKeyEnabled.",
    "GetBucketEncryption": "AES256 when none is set, as S3 since January 2023.",
    "DeleteObjects": "Up to 1000 keys; each key's s3:DeleteObject is checked on its own.",
    "DeleteObject": (
        "versionId=null deletes the object (the null version); other ids: InvalidArgument."
    ),
}


def _model() -> dict[str, Any]:
    loaded: dict[str, Any] = Loader().load_service_model("s3", "service-2")
    return loaded


def render() -> str:
    operations = _model()["operations"]
    served = {route.operation for route in ROUTES} | set(COPY_VARIANTS)
    names = sorted(operations)
    lines = [
        "# S3 API coverage",
        "",
        "Generated from the object store's route table (`objectstore/routing.py`) and botocore's",
        "S3 service model by `python -m strongroom.objectstore.coverage`; do not edit by hand.",
        "",
        f"**{len(served & set(names))} of {len(names)} operations** of the service model are "
        "served. Requests to the others are answered with `NotImplemented` (501).",
        "",
        "| Operation | Served | HTTP | Notes |",
        "|---|---|---|---|",
    ]
    for name in names:
        http = operations[name]["http"]
        mark = "yes" if name in served else "no"
        note = NOTES.get(name, "")
        lines.append(f"| {name} | {mark} | `{http['method']} {http['requestUri']}` | {note} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
