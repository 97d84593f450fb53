"""KeyMetadata as DescribeKey, CreateKey and ReplicateKey return it: the record's, with what
other records add (imported material's expiry, a multi-Region key's configuration)."""

from __future__ import annotations

from strongroom.kms.domain import multi_region
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.service import importing
from strongroom.kms.service.context import ServiceContext
from strongroom.kms.storage.multi_region import MultiRegionKeys


def multi_region_members(ctx: ServiceContext, key: KeyRecord) -> list[KeyRecord]:
    """Every member of ``key``'s multi-Region set (none for a single-Region key)."""
    if key.primary_region is None:
        return []
    return MultiRegionKeys(ctx.db).members(key.account_id, key.key_id)


def is_primary(key: KeyRecord) -> bool:
    return multi_region.key_type(key) == multi_region.PRIMARY


def key_metadata(ctx: ServiceContext, key: KeyRecord) -> dict[str, object]:
    meta = importing.key_metadata(ctx, key)
    if key.primary_region is not None:
        members = multi_region_members(ctx, key)
        meta["MultiRegionConfiguration"] = multi_region.configuration(key, members)
    return meta
