"""How the object store is put together with the KMS (part of the composition root, app.py):
the S3 API as a client of the KMS in process, and its background jobs (re-encryption
campaigns, the orphan blob sweep)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from strongroom.kms.audit.events import CommitWaiter
from strongroom.kms.config import Settings
from strongroom.kms.domain.ids import UuidShapedIds
from strongroom.kms.rootkey.fence import holder_name
from strongroom.kms.service.context import ServiceContext
from strongroom.kms.service.in_process import InProcessCalls
from strongroom.kms.service.in_process_client import (
    CredentialLookup,
    InProcessAuditGate,
    InProcessAuthenticator,
    InProcessIdentityPolicies,
    InProcessKmsClient,
)
from strongroom.kms.service.pipeline import Pipeline
from strongroom.kms.service.registry import OPERATIONS
from strongroom.kms.storage.database import Database
from strongroom.objectstore.api import S3Api
from strongroom.objectstore.blobs import FileBlobStore
from strongroom.objectstore.campaigns import Campaigns
from strongroom.objectstore.context import StoreContext
from strongroom.objectstore.keyring import Keyring
from strongroom.objectstore.sigv2 import S3SigV2PresignVerifier
from strongroom.objectstore.sigv4 import S3SigV4Verifier
from strongroom.objectstore.storage.metadata import Metadata
from strongroom.objectstore.sweep import SweepResult, sweep

if TYPE_CHECKING:
    from strongroom.kms.app import DataDir

log = logging.getLogger(__name__)
SWEEP_LEASE = "s3-blob-sweep"


def campaign_job(
    settings: Settings, ctx: ServiceContext, pipeline: Pipeline
) -> Callable[[], Awaitable[None]]:
    """The background job that runs re-encryption campaigns (objectstore/campaigns.py), each
    ReEncrypt through the in-process KMS client as the service s3, for the campaign's owner.
    A background job is no request: it is not counted by the request quotas."""
    assert isinstance(ctx.objects, Campaigns)
    calls = InProcessCalls(pipeline, OPERATIONS)
    runner = ctx.objects.with_kms(InProcessKmsClient(calls, "s3"))

    async def run() -> None:
        await asyncio.to_thread(runner.run)

    return run


def object_store(
    settings: Settings,
    data_dir: DataDir,
    pipeline: Pipeline,
    calls: InProcessCalls,
    *,
    credentials: CredentialLookup,
    commits: CommitWaiter | None,
) -> S3Api:
    """The S3 API: a client of the KMS through ``strongroom.client``, its calls made by the
    worker's in-process calls (request quotas, pipeline) as the service
    ``s3.<region>.amazonaws.com`` of the S3 request's region."""
    kms = InProcessKmsClient(calls, "s3")
    metadata = Metadata(data_dir.db.engine, data_dir.db.read_engine())
    clock = data_dir.clock
    ctx = StoreContext(
        settings.region,
        metadata,
        FileBlobStore(settings.s3_data_path),
        Keyring(kms, metadata, settings.s3_bucket_key_seconds, clock.now),
        InProcessIdentityPolicies(pipeline),
        clock.now,
    )
    authenticator = InProcessAuthenticator(credentials)
    verifier = S3SigV4Verifier(
        settings.region,
        authenticator,
        max_skew_seconds=settings.max_clock_skew_seconds,
        regions=settings.served_regions,
        check_signatures=not settings.dev_credentials,
    )
    return S3Api(
        ctx,
        verifier,
        S3SigV2PresignVerifier(authenticator),
        virtual_host_suffix=settings.s3_virtual_host_suffix,
        request_ids=UuidShapedIds().next,
        audit=InProcessAuditGate(commits),
    )


def sweep_blobs(settings: Settings, db: Database, grace_seconds: float) -> SweepResult:
    """One sweep of the object data directory (objectstore/sweep.py), now."""
    blobs = FileBlobStore(settings.s3_data_path)
    metadata = Metadata(db.engine, db.read_engine())
    return sweep(blobs, metadata.referenced_blobs, time.time(), grace_seconds)


def sweep_job(settings: Settings, db: Database) -> Callable[[], Awaitable[None]]:
    """The orphan blob sweep, at most once per ``s3_sweep_seconds`` across every worker and
    node: the worker that claims the ``s3-blob-sweep`` lease for the period sweeps."""
    holder = holder_name()
    period = timedelta(seconds=settings.s3_sweep_seconds)

    def once() -> None:
        now = datetime.now(UTC)  # leases use the system clock (rootkey/fence.py)
        with db.transaction() as tx:
            if tx.leases.claim(SWEEP_LEASE, holder, now, now + period) is not None:
                return
        result = sweep_blobs(settings, db, settings.s3_sweep_grace_seconds)
        if result.removed_blobs or result.removed_temporaries:
            log.info(
                "blob sweep removed %d orphan blobs and %d temporary files (%d bytes)",
                result.removed_blobs,
                result.removed_temporaries,
                result.removed_bytes,
            )

    async def run() -> None:
        await asyncio.to_thread(once)

    return run
