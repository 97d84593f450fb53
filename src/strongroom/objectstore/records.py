"""The object store's values: buckets, objects, uploads and how their data keys are protected."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

SSE_S3 = "AES256"
SSE_KMS = "aws:kms"
SSE_C = "SSE-C"


@dataclass(frozen=True, slots=True)
class BucketEncryption:
    """A bucket's default encryption (PutBucketEncryption)."""

    algorithm: str  # AES256 | aws:kms
    kms_key_id: str | None = None
    bucket_key: bool = False


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    account_id: str
    created_at: datetime
    encryption: BucketEncryption | None
    region: str | None = None  # None: made before buckets had regions (the default region)

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"


@dataclass(frozen=True, slots=True)
class Protection:
    """How one object's data key is protected (no secret in here).

    The data of every blob is encrypted under a key derived from a *root*: the KMS data key in
    ``wrapped_key``, the bucket key ``bucket_key_id``, or the customer's SSE-C key, which is
    never stored (``ssec_fingerprint`` recognises it).
    """

    sse: str
    key_salt: bytes
    kms_key_arn: str | None = None
    wrapped_key: bytes | None = None
    context: dict[str, str] = field(default_factory=dict)
    bucket_key_id: str | None = None
    ssec_fingerprint: bytes | None = None
    # The KMS key version (KeyMaterialId) that wraps ``wrapped_key`` (for a bucket key's
    # objects: the bucket key's), for the inventory; None for SSE-C.
    key_material_id: str | None = None


@dataclass(frozen=True, slots=True)
class BlobRef:
    blob_id: str
    size: int  # plaintext bytes


@dataclass(frozen=True, slots=True)
class ObjectRecord:
    bucket: str
    key: str
    object_id: str
    size: int
    etag: str  # quoted
    last_modified: datetime
    content_type: str
    headers: dict[str, str]  # content headers and x-amz-meta-* as stored
    tags: tuple[tuple[str, str], ...]
    checksum_algorithm: str | None
    checksum_value: str | None
    blobs: tuple[BlobRef, ...]
    protection: Protection


@dataclass(frozen=True, slots=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: datetime
    initiator_arn: str
    content_type: str
    headers: dict[str, str]
    tags: tuple[tuple[str, str], ...]
    checksum_algorithm: str | None
    protection: Protection


@dataclass(frozen=True, slots=True)
class Part:
    part_number: int
    blob_id: str
    size: int
    etag: str
    checksum: str | None
    last_modified: datetime
