"""The object store's inventory: which objects, and how many bytes, sit under which key.

Implements :class:`strongroom.client.inventory.ObjectInventory` for the KMS's exposure report
and for ``GetObjectInventory``; the counts come from the metadata tables in one query.
"""

from __future__ import annotations

import json

from strongroom.client.inventory import SSE_S3, BucketInventory, ProtectionCount
from strongroom.objectstore.storage.inventory import InventoryRecords


class StoreInventory:
    def __init__(self, records: InventoryRecords) -> None:
        self._records = records

    def buckets(self, account_id: str | None = None) -> list[BucketInventory]:
        counts: dict[str, list[ProtectionCount]] = {}
        for row in self._records.counts(account_id):
            counts.setdefault(row.bucket, []).append(
                ProtectionCount(
                    row.sse,
                    row.kms_key_arn,
                    row.key_material_id,
                    row.bucket_key,
                    row.objects,
                    row.bytes,
                )
            )
        found = []
        for bucket in self._records.buckets(account_id):
            default = json.loads(bucket.encryption) if bucket.encryption else {}
            found.append(
                BucketInventory(
                    bucket.name,
                    bucket.account_id,
                    default.get("algorithm", SSE_S3),
                    default.get("kms_key_id"),
                    tuple(counts.get(bucket.name, ())),
                )
            )
        return found
