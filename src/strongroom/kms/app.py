"""Composition root: settings -> storage, key store, caches, pipeline, audit, ASGI app.

This is the only module that knows how the parts fit together.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from strongroom.kmip.wiring import kmip_jobs
from strongroom.kms import allocator
from strongroom.kms.api import quotas
from strongroom.kms.api.asgi_app import AsgiApp
from strongroom.kms.api.console_site import web_console
from strongroom.kms.api.in_process import InProcessKms
from strongroom.kms.api.model import ServiceModel
from strongroom.kms.api.server import KmsApi
from strongroom.kms.api.sigv4 import SigV4Verifier
from strongroom.kms.api.sts import StsApi
from strongroom.kms.audit.digests import DigestPublisher
from strongroom.kms.audit.events import AuditSink, CommitWaiter
from strongroom.kms.audit.parameters import RequestParameters, extension_plans, operation_plans
from strongroom.kms.audit.policy import Durability, WhenUnavailable, WriterPolicy
from strongroom.kms.audit.trail import AuditTrail
from strongroom.kms.audit.writer import ChainedAuditLog
from strongroom.kms.config import ConfigError, Settings, load_settings
from strongroom.kms.domain.clock import Clock, SystemClock
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.domain.xks import XksCredential
from strongroom.kms.first_start import first_start
from strongroom.kms.keystores.software import SoftwareKeyStore, secret_aad
from strongroom.kms.objectstore_wiring import campaign_job, object_store, sweep_job
from strongroom.kms.observability import readiness, request_log, worker_metrics
from strongroom.kms.rootkey.fence import ServingLease
from strongroom.kms.rootkey.key_file import create_root_key_file
from strongroom.kms.rootkey.providers import RootKeyProvider
from strongroom.kms.rootkey.setup import open_root_key
from strongroom.kms.service.admin import Admin, IssuedAccessKey
from strongroom.kms.service.authorization import PolicyAuthorizer
from strongroom.kms.service.cache import KeyCache
from strongroom.kms.service.caller import Credential
from strongroom.kms.service.context import ServiceContext
from strongroom.kms.service.credentials import CredentialCache
from strongroom.kms.service.custom_store_connections import CustomKeyStoreConnections
from strongroom.kms.service.dev_credentials import DevCredentials
from strongroom.kms.service.hsm_clusters import HsmClusters
from strongroom.kms.service.in_process import InProcessCalls
from strongroom.kms.service.in_process_client import (
    InProcessAuditGate,
    InProcessAuthenticator,
)
from strongroom.kms.service.pipeline import Pipeline
from strongroom.kms.service.policy_cache import PolicyCache
from strongroom.kms.service.registry import EXTENSIONS, OPERATIONS
from strongroom.kms.service.scheduled_events import ScheduledEvents
from strongroom.kms.service.scheduler import LifecycleScheduler
from strongroom.kms.service.usage import UsageTracker
from strongroom.kms.service.xks_catalog import XksCatalog
from strongroom.kms.storage.custom_key_stores import CustomKeyStoreRepository
from strongroom.kms.storage.database import Database, DatabaseUnavailable
from strongroom.kms.storage.engine import checkpoint_in_background, sqlite_url
from strongroom.kms.storage.grants import GrantRepository
from strongroom.kms.storage.identity import IdentityRepository
from strongroom.kms.storage.keys import KeyRepository
from strongroom.kms.storage.migrate import SchemaError
from strongroom.kms.storage.store_secrets import FINGERPRINT_KEY, STORE_SECRET_PURPOSE, StoreSecrets
from strongroom.kms.storage.usage import UsageRepository
from strongroom.kms.storage.xks import XksRepository
from strongroom.objectstore.campaigns import Campaigns
from strongroom.objectstore.inventory import StoreInventory
from strongroom.objectstore.storage.campaigns import CampaignRecords
from strongroom.objectstore.storage.inventory import InventoryRecords
from strongroom.xks.api import SERVICE as XKS_SERVICE
from strongroom.xks.api import XksApi
from strongroom.xks.proxy import XksProxy

if TYPE_CHECKING:
    from strongroom.kms.governance.actions import GovernanceEnv

log = logging.getLogger(__name__)


def database_url(settings: Settings) -> str:
    return settings.database_url or sqlite_url(settings.data_dir)


def open_database(url: str) -> Database:
    """The database, migrated; what stops it is a ConfigError with a message (no password)."""
    try:
        return Database.open(url)
    except (SchemaError, DatabaseUnavailable, ValueError) as error:
        raise ConfigError(str(error)) from None


@dataclass(frozen=True, slots=True)
class DataDir:
    """An opened data directory: the database and the default key store."""

    settings: Settings
    db: Database
    store: SoftwareKeyStore
    clock: Clock

    @property
    def admin(self) -> Admin:
        return Admin(IdentityRepository(self.db), self.store, self.clock)

    @property
    def hsm_clusters(self) -> HsmClusters:
        return HsmClusters(CustomKeyStoreRepository(self.db), self.clock)

    def governance_env(self) -> GovernanceEnv:
        """What quorum-approved acts work with in this data directory."""
        from strongroom.kms.governance.actions import GovernanceEnv
        from strongroom.kms.governance.proposals import Realm
        from strongroom.kms.rootkey.rotation import RootKeyRotation

        with self.db.read() as tx:  # the first start's region, the deployment's identity
            home = tx.meta.get("region") or self.settings.region
        realm = Realm(self.store.store_id, home)
        return GovernanceEnv(
            self.db,
            KeyRepository(self.db),
            self.store,
            realm,
            clusters=self.hsm_clusters,
            root_keys=RootKeyRotation(self.settings, self.store, self.db),
        )


def initialize(
    settings: Settings, clock: Clock | None = None
) -> tuple[DataDir, IssuedAccessKey | None]:
    """Create what a first start needs, or finish a first start that was interrupted
    (first_start.py); return the admin key if the first start was finished now."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if settings.root_key == "file" and not settings.root_key_path.exists():
        create_root_key_file(settings.root_key_path)
    data_dir = open_data_dir(settings, clock, create_root_key=True)
    return data_dir, first_start(data_dir)


def open_data_dir(
    settings: Settings, clock: Clock | None = None, *, create_root_key: bool = False
) -> DataDir:
    """Open the database and the default store; ``create_root_key`` is for a first start."""
    marker = settings.root_key_path if settings.root_key == "file" else settings.data_dir
    if not marker.exists():
        raise ConfigError(
            f"{settings.data_dir} is not a Strongroom data directory (no root.key); "
            "`strongroom serve --data-dir` creates one"
        )
    db = open_database(database_url(settings))
    store_id = db.init_meta("default_store_id", secrets.token_hex(16))
    db.init_meta("region", settings.region)  # the first start's: migration 0006 uses it
    root = open_root_key(settings, db, create=create_root_key)
    store = SoftwareKeyStore(store_id, root, fingerprint_key=fingerprint_key(db, store_id, root))
    return DataDir(settings, db, store, clock or SystemClock())


def fingerprint_key(db: Database, store_id: str, root: RootKeyProvider) -> Secret:
    """The store's key of imported-material fingerprints, made on first use (store_secrets)."""
    return store_secret(db, store_id, root, FINGERPRINT_KEY)


def store_secret(db: Database, store_id: str, root: RootKeyProvider, name: str) -> Secret:
    """A random 256-bit secret of the store, sealed under the root key, made on first use."""
    aad = secret_aad(store_id, STORE_SECRET_PURPOSE, name)
    sealed = StoreSecrets(db).sealed(name, lambda: root.wrap(secrets.token_bytes(32), aad))
    return Secret(root.unwrap(sealed, aad))


def create_app(
    settings: Settings, clock: Clock | None = None, audit: AuditSink | None = None
) -> AsgiApp:
    data_dir = open_data_dir(settings, clock)
    db, store, clock = data_dir.db, data_dir.store, data_dir.clock
    keys = KeyRepository(db)
    identity = IdentityRepository(db)
    custom_stores = CustomKeyStoreConnections(CustomKeyStoreRepository(db), store, settings.xks)
    cache = KeyCache(db, keys, store, custom_stores=custom_stores)
    tracking_start = datetime.fromisoformat(
        db.init_meta("usage_tracking_start", clock.now().isoformat())
    )
    usage = UsageTracker(UsageRepository(db), tracking_start)
    grants = GrantRepository(db)
    policies = PolicyCache(identity, grants)
    ctx = ServiceContext(
        settings.region,
        settings.served_regions,
        clock,
        db,
        keys,
        identity,
        store,
        cache,
        usage,
        policies,
        custom_stores=custom_stores,
        cost_rates=(settings.key_usd_month, settings.hsm_usd_month),
        objects=Campaigns(
            CampaignRecords(db.engine),
            StoreInventory(InventoryRecords(db.engine, db.read_engine())),
            clock.now,
        ),
    )
    trail, chained, audit_sink = _audit_sinks(settings, db, store, clock, audit)
    # Extension operations' events show their (non-secret) parameters too.
    parameters = RequestParameters(
        {
            **operation_plans(),
            **extension_plans({name: members for name, (_, members) in EXTENSIONS.items()}),
        }
    )
    # Control-plane changes append their events in their own transaction (docs/adr/0006).
    durable = None if chained is None else chained.chain
    pipeline = Pipeline(ctx, PolicyAuthorizer(policies, grants), audit_sink, durable, parameters)
    known = CredentialCache(identity, store)
    credentials = (
        DevCredentials(known, identity, Admin(identity, store, clock))
        if settings.dev_credentials
        else known
    )
    verifier, sts_verifier = _verifiers(settings, credentials.lookup)
    metrics = worker_metrics(settings, cache, audit_sink, policies)
    model = ServiceModel.load()
    request_quotas, calls = _quotas_and_calls(settings, pipeline)
    api = KmsApi(
        pipeline,
        verifier,
        model,
        OPERATIONS,
        settings.max_body_bytes,
        sts=StsApi(sts_verifier, audit_sink, clock.now),
        extensions=EXTENSIONS,
        metrics=metrics,
        ready=readiness(db, store),
        request_log=request_log(settings),
        quotas=request_quotas,
        commits=chained if chained is not None and chained.policy.waits else None,
    )
    scheduler = LifecycleScheduler(ctx, ScheduledEvents(audit_sink, durable))
    xks_catalog = XksCatalog(XksRepository(db), custom_stores, store)
    xks = xks_api(settings, xks_catalog, audit_sink, clock, api.commits)
    # Held while this worker runs: root key changes are refused meanwhile (kms/rootkey/fence.py).
    serving = ServingLease.claimed(db)

    async def poll_changes() -> None:
        changes = await asyncio.to_thread(db.changes_since, cache.last_seq)
        cache.trust_until(time.monotonic() + settings.cache_outage_grace_seconds)
        cache.apply(changes)
        credentials.apply(changes)
        policies.apply(changes)
        custom_stores.apply(changes)
        xks_catalog.apply(changes)

    async def housekeeping() -> None:
        await asyncio.to_thread(serving.claim)
        done = await asyncio.to_thread(scheduler.run_due)
        for key_id in done.key_ids:
            cache.forget_key(key_id)
        await asyncio.to_thread(db.prune_changes, clock.now())

    def shutdown() -> None:
        custom_stores.close()
        if trail is not None:
            trail.stop()
        else:
            audit_sink.flush()
        usage.flush()
        metrics.publish()
        serving.release()
        db.engine.dispose()

    background = [
        (poll_changes, settings.cache_poll_seconds),
        (_in_thread(usage.flush), 1.0),
        (_in_thread(metrics.publish), 1.0),  # this worker's part of the node's /metrics
        (housekeeping, settings.scheduler_seconds),
        (campaign_job(settings, ctx, pipeline), min(1.0, settings.scheduler_seconds)),
        (sweep_job(settings, db), settings.s3_sweep_seconds),
        *([] if trail is None else [(trail.publish_digest, min(settings.audit_digest_seconds, 5))]),
        *kmip_jobs(settings, pipeline, db, clock, api.commits, record=api.record),
        *_checkpoint_job(db),
    ]
    # The audit writer thread starts in the serving process, at start-up.
    return AsgiApp(
        api,
        background,
        shutdown,
        on_startup=None if trail is None else trail.start,
        xks=xks,
        side=object_store(
            settings, data_dir, pipeline, calls, credentials=credentials, commits=api.commits
        ),
        console=web_console(
            data_dir,
            InProcessAuthenticator(known),
            InProcessKms(calls, model, EXTENSIONS),
            InProcessAuditGate(api.commits),
        ),
    )


def _quotas_and_calls(
    settings: Settings, pipeline: Pipeline
) -> tuple[quotas.RequestQuotas | None, InProcessCalls]:
    """The worker's request quotas, and the one in-process path to the KMS (the console's and
    the object store's) that counts against them."""
    request_quotas = quotas.from_settings(settings)
    calls = InProcessCalls(
        pipeline,
        {**OPERATIONS, **{name: op for name, (op, _) in EXTENSIONS.items()}},
        None if request_quotas is None else request_quotas.admit,
    )
    if request_quotas is not None:  # Encrypt, Sign, ...: the quota of the key's type
        pipeline.admit_by_key = request_quotas.admit_by_key
    return request_quotas, calls


def _checkpoint_job(db: Database) -> list[tuple[Callable[[], Awaitable[None]], float]]:
    """SQLite: the WAL is checkpointed by this job, every second, not inside a commit."""
    checkpoint = checkpoint_in_background(db.engine)
    return [] if checkpoint is None else [(_in_thread(checkpoint), 1.0)]


def _in_thread(work: Callable[[], object]) -> Callable[[], Awaitable[None]]:
    """A background job that runs ``work`` in a thread (it touches the database)."""

    async def job() -> None:
        await asyncio.to_thread(work)

    return job


def _audit_sinks(
    settings: Settings,
    db: Database,
    store: SoftwareKeyStore,
    clock: Clock,
    audit: AuditSink | None,
) -> tuple[AuditTrail | None, ChainedAuditLog | None, AuditSink]:
    """The trail (unless the caller gives its own sink), its writer, and the sink to use."""
    trail = None if audit is not None else audit_trail(settings, db, store, clock)
    chained = None if trail is None else trail.writer
    sink = audit or chained
    assert sink is not None
    return trail, chained, sink


def _verifiers(
    settings: Settings, lookup: Callable[[str], Credential | None]
) -> tuple[SigV4Verifier[Credential], SigV4Verifier[Credential]]:
    """SigV4 for the KMS and for STS, on the same credentials."""
    kms = SigV4Verifier(
        regions=settings.served_regions,
        service="kms",
        lookup=lookup,
        max_skew_seconds=settings.max_clock_skew_seconds,
        check_signatures=not settings.dev_credentials,
        presigned_signed_headers=(b"x-amz-target",),
    )
    sts = SigV4Verifier(
        regions=settings.served_regions,
        service="sts",
        lookup=lookup,
        max_skew_seconds=settings.max_clock_skew_seconds,
        check_signatures=not settings.dev_credentials,
    )
    return kms, sts


def audit_trail(
    settings: Settings, db: Database, store: SoftwareKeyStore, clock: Clock
) -> AuditTrail:
    writer = ChainedAuditLog(db, store, settings.region, clock.now, policy=writer_policy(settings))
    digests = DigestPublisher(
        db,
        writer.chain,
        settings.audit_digest_path,
        settings.region,
        interval_seconds=settings.audit_digest_seconds,
        now=clock.now,
    )
    return AuditTrail(writer, digests)


def writer_policy(settings: Settings) -> WriterPolicy:
    return WriterPolicy(
        durability=Durability(settings.audit_durability),
        flush_seconds=settings.audit_flush_seconds,
        max_pending=settings.audit_max_pending,
        when_unavailable=WhenUnavailable(settings.audit_when_unavailable),
    )


def xks_api(
    settings: Settings,
    catalog: XksCatalog,
    audit: AuditSink,
    clock: Clock,
    commits: CommitWaiter | None = None,
) -> XksApi:
    """The XKS proxy on the KMS port (docs/xks.md): its own credentials, any region."""
    verifier: SigV4Verifier[XksCredential] = SigV4Verifier(
        regions=None,
        service=XKS_SERVICE,
        lookup=catalog.credential,
        max_skew_seconds=settings.max_clock_skew_seconds,
    )
    return XksApi(XksProxy(catalog, audit, settings.region, clock.now), verifier, commits)


def app_from_env() -> AsgiApp:
    """Factory for server worker processes: settings come from STRONGROOM_* variables."""
    settings = load_settings(Path(os.environ["STRONGROOM_DATA_DIR"]))
    logging.basicConfig(level=settings.log_level.upper())
    allocator.tune()  # object data in 1 MiB buffers: reuse them (kms/allocator.py)
    return create_app(settings)
