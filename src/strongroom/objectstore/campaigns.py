"""Re-encryption campaigns: move every object of a selection to another key, or to the newest
material of its key, by re-wrapping data keys through the KMS; the data is never rewritten.

A tenant starts a campaign through the KMS API (``StartReEncryptionCampaign``); the server's
background runner moves its objects in batches, each object with one ReEncrypt made for the
campaign's principal through the in-process KMS client (``kms:ViaService`` = s3, so the key
policies and grants decide as for any S3 request, and every call is in the tenant's trail),
then one conditional update (storage/campaigns.py). An object keeps its old wrapping until the
new one is committed, so it is readable at every moment; a crash resumes at the last object
done. Objects under an S3 Bucket Key move with their bucket key, once. SSE-C objects cannot be
moved (the key is the customer's) and are counted as skipped, as are objects overwritten or
deleted while the campaign ran.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from strongroom.client.campaigns import (
    RUNNING,
    Campaign,
    Destination,
    Selection,
)
from strongroom.client.inventory import SSE_C, SSE_KMS, SSE_S3, BucketInventory
from strongroom.client.kms import KmsCallError, KmsClient
from strongroom.client.principal import Principal
from strongroom.objectstore.inventory import StoreInventory
from strongroom.objectstore.storage.campaigns import CampaignRecords, CampaignRow, ObjectRow

LEASE_SECONDS = 10.0
BATCH = 100
ROUND_SECONDS = 2.0


def _campaign(row: CampaignRow) -> Campaign:
    position = None if row.position is None else f"{row.position[0]}/{row.position[1]}"
    return Campaign(
        row.campaign_id,
        row.account_id,
        row.principal_arn,
        Selection(row.bucket, row.source_key_arns),
        Destination(row.destination, row.destination_managed),
        row.state,
        row.created_at,
        row.updated_at,
        row.moved,
        row.skipped,
        row.failed,
        row.last_error,
        position,
    )


class Campaigns:
    """:class:`strongroom.client.campaigns.CampaignStore`; ``run`` needs the KMS client."""

    def __init__(
        self,
        records: CampaignRecords,
        inventory: StoreInventory,
        now: Callable[[], datetime],
        kms: KmsClient | None = None,
        monotonic: Callable[[], float] = time.time,
    ) -> None:
        self._records = records
        self._inventory = inventory
        self._now = now
        self._kms = kms
        self._clock = monotonic

    def with_kms(self, kms: KmsClient) -> Campaigns:
        return Campaigns(self._records, self._inventory, self._now, kms, self._clock)

    # --- CampaignStore ---------------------------------------------------------------------

    def buckets(self, account_id: str | None = None) -> Sequence[BucketInventory]:
        return self._inventory.buckets(account_id)

    def bucket_owner(self, bucket: str) -> str | None:
        return self._records.bucket_owner(bucket)

    def start(
        self, principal: Principal, selection: Selection, destination: Destination
    ) -> Campaign:
        now = self._now()
        row = CampaignRow(
            secrets.token_hex(16),
            principal.account_id,
            principal.arn,
            principal.access_key_id,
            selection.bucket,
            selection.source_key_arns,
            destination.key_arn,
            destination.aws_managed,
            RUNNING,
            now,
            now,
            None,
            0,
            0,
            0,
            None,
        )
        self._records.create(row)
        return _campaign(row)

    def campaigns(self, account_id: str, campaign_id: str | None = None) -> list[Campaign]:
        return [_campaign(r) for r in self._records.find(account_id, campaign_id)]

    # --- the runner ------------------------------------------------------------------------

    def run(self, batch: int = BATCH, seconds: float = ROUND_SECONDS) -> int:
        """Move objects of one running campaign, a batch at a time, for about ``seconds``;
        how many were handled."""
        records = self._records
        claimed = records.claim(self._clock(), LEASE_SECONDS)
        if claimed is None:
            return 0
        started, handled = self._clock(), 0
        try:
            while True:
                rows = records.next_objects(claimed, batch)
                for row in rows:
                    self._move(claimed, row)
                handled += len(rows)
                if len(rows) < batch:
                    records.finish(claimed.campaign_id, self._now())
                    return handled
                if self._clock() - started >= seconds:
                    return handled
                (claimed,) = records.find(None, claimed.campaign_id)  # the new position
                records.renew(claimed.campaign_id, self._clock() + LEASE_SECONDS)
        finally:
            records.release(claimed.campaign_id)

    def _move(self, campaign: CampaignRow, row: ObjectRow) -> None:
        assert self._kms is not None
        records, now, cid = self._records, self._now(), campaign.campaign_id
        if row.sse == SSE_C or (row.wrapped_key is None and row.bucket_key_id is None):
            records.done(cid, row, "skipped", now)
            return
        sse = row.sse
        if campaign.destination is not None:
            sse = SSE_S3 if campaign.destination_managed and row.sse == SSE_S3 else SSE_KMS
        try:
            if row.bucket_key_id is not None:
                if records.bucket_key_moved(cid, row.bucket_key_id):
                    records.done(cid, row, "moved", now)
                    return
                assert row.bucket_key_wrapped is not None and row.bucket_key_arn is not None
                context = {"aws:s3:arn": f"arn:aws:s3:::{row.bucket}"}
                moved = self._kms.re_encrypt(
                    _principal(campaign, row.bucket_key_arn),
                    row.bucket_key_wrapped,
                    context,
                    campaign.destination or row.bucket_key_arn,
                )
                records.move_bucket_key(
                    cid,
                    row,
                    {
                        "kms_key_arn": moved.key_arn,
                        "wrapped_key": moved.ciphertext,
                        "key_material_id": moved.key_material_id,
                    },
                    now,
                )
                return
            assert row.wrapped_key is not None and row.kms_key_arn is not None
            context = {**row.context, "aws:s3:arn": f"arn:aws:s3:::{row.bucket}/{row.key}"}
            moved = self._kms.re_encrypt(
                _principal(campaign, row.kms_key_arn),
                row.wrapped_key,
                context,
                campaign.destination or row.kms_key_arn,
            )
        except KmsCallError as error:
            records.done(cid, row, "failed", now, error=f"{error.code}: {error.message}")
            return
        records.move_object(
            cid,
            row,
            {
                "sse": sse,
                "kms_key_arn": moved.key_arn,
                "wrapped_key": moved.ciphertext,
                "key_material_id": moved.key_material_id,
            },
            now,
        )


def _principal(campaign: CampaignRow, source_key_arn: str) -> Principal:
    """The campaign's principal, calling in the region of the key the object is under (a KMS
    key answers only in its own region; the objects of a bucket are under keys of the region
    they were written in)."""
    region = source_key_arn.split(":")[3]
    return Principal(
        campaign.account_id, campaign.principal_arn, campaign.access_key_id, region=region
    )
