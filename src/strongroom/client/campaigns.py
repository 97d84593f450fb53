"""Re-encryption campaigns: the values and the interface the KMS's extension operations use.

A campaign moves every object of a selection (one bucket, or every object under some KMS keys)
to a destination key, or to the newest material of the key each object is under. The object
store implements :class:`CampaignStore` (``objectstore/campaigns.py``); the KMS's
``StartReEncryptionCampaign`` / ``DescribeReEncryptionCampaigns`` reach it only through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from strongroom.client.inventory import BucketInventory
from strongroom.client.principal import Principal

RUNNING = "RUNNING"
COMPLETED = "COMPLETED"


@dataclass(frozen=True, slots=True)
class Selection:
    """One bucket, or the objects under any of ``source_key_arns`` (in the account's buckets)."""

    bucket: str | None = None
    source_key_arns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Destination:
    """The key to move to (its ARN, and whether it is an AWS managed key); None: each
    object's own key, newest material."""

    key_arn: str | None = None
    aws_managed: bool = False


@dataclass(frozen=True, slots=True)
class Campaign:
    campaign_id: str
    account_id: str
    principal_arn: str
    selection: Selection
    destination: Destination
    state: str  # RUNNING | COMPLETED
    created_at: datetime
    updated_at: datetime
    moved: int  # objects now under the destination
    skipped: int  # SSE-C objects (their key is the customer's), or changed meanwhile
    failed: int  # the KMS refused (the last error says why); the object stays as it was
    last_error: str | None
    position: str | None  # the last object done, "bucket/key"

    def listing(self) -> dict[str, object]:
        """As DescribeReEncryptionCampaigns shows it."""
        entry: dict[str, object] = {
            "CampaignId": self.campaign_id,
            "State": self.state,
            "Principal": self.principal_arn,
            "CreationDate": self.created_at.timestamp(),
            "LastUpdatedDate": self.updated_at.timestamp(),
            "Moved": self.moved,
            "Skipped": self.skipped,
            "Failed": self.failed,
            "DestinationKeyId": self.destination.key_arn or "newest material of each key",
        }
        if self.selection.bucket is not None:
            entry["Bucket"] = self.selection.bucket
        else:
            entry["SourceKeyIds"] = list(self.selection.source_key_arns)
        if self.last_error is not None:
            entry["LastError"] = self.last_error
        if self.position is not None:
            entry["Position"] = self.position
        return entry


class CampaignStore(Protocol):
    def buckets(self, account_id: str | None = None) -> Sequence[BucketInventory]: ...

    def bucket_owner(self, bucket: str) -> str | None:
        """The account that owns ``bucket``, or None if there is no such bucket."""
        ...

    def start(
        self, principal: Principal, selection: Selection, destination: Destination
    ) -> Campaign: ...

    def campaigns(self, account_id: str, campaign_id: str | None = None) -> list[Campaign]: ...
