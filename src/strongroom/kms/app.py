"""Composition root: settings -> storage, key store, caches, pipeline, audit, ASGI app.

This is the only module that knows how the parts fit together.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from strongroom.kms.api.model import ServiceModel
from strongroom.kms.api.server import AsgiApp, KmsApi
from strongroom.kms.api.sigv4 import SigV4Verifier
from strongroom.kms.api.sts import StsApi
from strongroom.kms.audit.events import AuditSink
from strongroom.kms.audit.parameters import RequestParameters, extension_plans, operation_plans
from strongroom.kms.audit.store import ChainedAuditLog
from strongroom.kms.config import ConfigError, Settings, load_settings
from strongroom.kms.domain.clock import Clock, SystemClock
from strongroom.kms.domain.ids import UuidShapedIds
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.keystores.root_key_file import create_root_key_file
from strongroom.kms.keystores.root_keys import RootKeyProvider
from strongroom.kms.keystores.software import SoftwareKeyStore, secret_aad
from strongroom.kms.root_key_setup import open_root_key
from strongroom.kms.service.admin import (
    ADMINISTRATOR_POLICY,
    ADMINISTRATOR_POLICY_NAME,
    Admin,
    IssuedAccessKey,
)
from strongroom.kms.service.authorization import PolicyAuthorizer
from strongroom.kms.service.cache import KeyCache
from strongroom.kms.service.caller import Credential
from strongroom.kms.service.context import ServiceContext
from strongroom.kms.service.credentials import CredentialCache
from strongroom.kms.service.custom_store_connections import CustomKeyStoreConnections
from strongroom.kms.service.dev_credentials import DevCredentials
from strongroom.kms.service.hsm_clusters import HsmClusters
from strongroom.kms.service.in_process_client import (
    InProcessAuthenticator,
    InProcessIdentityPolicies,
    InProcessKmsClient,
)
from strongroom.kms.service.pipeline import Pipeline
from strongroom.kms.service.policy_cache import PolicyCache
from strongroom.kms.service.registry import EXTENSIONS, OPERATIONS
from strongroom.kms.service.scheduler import LifecycleScheduler
from strongroom.kms.service.usage import UsageTracker
from strongroom.kms.storage.custom_key_stores import CustomKeyStoreRepository
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.engine import sqlite_url
from strongroom.kms.storage.grants import GrantRepository
from strongroom.kms.storage.identity import IdentityRepository
from strongroom.kms.storage.keys import KeyRepository
from strongroom.kms.storage.schema import SCHEMA_VERSION
from strongroom.kms.storage.store_secrets import FINGERPRINT_KEY, STORE_SECRET_PURPOSE, StoreSecrets
from strongroom.kms.storage.usage import UsageRepository
from strongroom.objectstore.api import S3Api
from strongroom.objectstore.blobs import FileBlobStore
from strongroom.objectstore.campaigns import Campaigns
from strongroom.objectstore.context import StoreContext
from strongroom.objectstore.inventory import StoreInventory
from strongroom.objectstore.keyring import Keyring
from strongroom.objectstore.sigv2 import S3SigV2PresignVerifier
from strongroom.objectstore.sigv4 import S3SigV4Verifier
from strongroom.objectstore.storage.campaigns import CampaignRecords
from strongroom.objectstore.storage.inventory import InventoryRecords
from strongroom.objectstore.storage.metadata import Metadata

if TYPE_CHECKING:
    from strongroom.kms.governance.actions import GovernanceEnv

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT_NAME = "default"
ADMIN_USER = "admin"


def database_url(settings: Settings) -> str:
    return settings.database_url or sqlite_url(settings.data_dir)


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
        from strongroom.kms.root_key_rotation import RootKeyRotation

        realm = Realm(self.store.store_id, self.settings.region)
        return GovernanceEnv(
            self.db,
            KeyRepository(self.db),
            self.store,
            realm,
            clusters=self.hsm_clusters,
            root_keys=RootKeyRotation(self.settings, self.store),
        )


def initialize(
    settings: Settings, clock: Clock | None = None
) -> tuple[DataDir, IssuedAccessKey | None]:
    """Create what a first start needs (idempotent); return the admin key if one was made."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if settings.root_key == "file" and not settings.root_key_path.exists():
        create_root_key_file(settings.root_key_path)
    data_dir = open_data_dir(settings, clock, create_root_key=True)
    admin = data_dir.admin
    if admin.list_accounts():
        return data_dir, None
    account = admin.create_account(DEFAULT_ACCOUNT_NAME)
    admin.create_user(account.account_id, ADMIN_USER)
    admin.put_user_policy(
        account.account_id, ADMIN_USER, ADMINISTRATOR_POLICY_NAME, ADMINISTRATOR_POLICY
    )
    return data_dir, admin.create_access_key(account.account_id, ADMIN_USER)


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
    db = Database.open(database_url(settings))
    schema_version = db.init_meta("schema_version", str(SCHEMA_VERSION))
    if schema_version != str(SCHEMA_VERSION):
        raise ConfigError(
            f"the database has schema version {schema_version}; this Strongroom expects "
            f"{SCHEMA_VERSION}"
        )
    store_id = db.init_meta("default_store_id", secrets.token_hex(16))
    region = db.init_meta("region", settings.region)
    if region != settings.region:
        raise ConfigError(
            f"the data in {settings.data_dir} belongs to region {region}, not {settings.region}"
        )
    root = open_root_key(settings, db, create=create_root_key)
    store = SoftwareKeyStore(store_id, root, fingerprint_key=fingerprint_key(db, store_id, root))
    return DataDir(settings, db, store, clock or SystemClock())


def fingerprint_key(db: Database, store_id: str, root: RootKeyProvider) -> Secret:
    """The store's key of imported-material fingerprints, made on first use (store_secrets)."""
    aad = secret_aad(store_id, STORE_SECRET_PURPOSE, FINGERPRINT_KEY)
    sealed = StoreSecrets(db).sealed(
        FINGERPRINT_KEY, lambda: root.wrap(secrets.token_bytes(32), aad)
    )
    return Secret(root.unwrap(sealed, aad))


def create_app(
    settings: Settings, clock: Clock | None = None, audit: AuditSink | None = None
) -> AsgiApp:
    data_dir = open_data_dir(settings, clock)
    db, store, clock = data_dir.db, data_dir.store, data_dir.clock
    keys = KeyRepository(db)
    identity = IdentityRepository(db)
    custom_stores = CustomKeyStoreConnections(CustomKeyStoreRepository(db), store)
    cache = KeyCache(db, keys, store, custom_stores=custom_stores)
    tracking_start = datetime.fromisoformat(
        db.init_meta("usage_tracking_start", clock.now().isoformat())
    )
    usage = UsageTracker(UsageRepository(db), tracking_start)
    grants = GrantRepository(db)
    policies = PolicyCache(identity, grants)
    ctx = ServiceContext(
        settings.region,
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
            CampaignRecords(db.engine), StoreInventory(InventoryRecords(db.engine)), clock.now
        ),
    )
    chained = ChainedAuditLog(db, store, settings.region, clock.now) if audit is None else None
    audit_sink = audit or chained
    assert audit_sink is not None
    # Control-plane changes append their events in their own transaction (docs/adr/0006).
    durable = None if chained is None else chained.chain
    # Extension operations' events show their (non-secret) parameters too.
    parameters = RequestParameters(
        {
            **operation_plans(),
            **extension_plans({name: members for name, (_, members) in EXTENSIONS.items()}),
        }
    )
    pipeline = Pipeline(ctx, PolicyAuthorizer(policies, grants), audit_sink, durable, parameters)
    known = CredentialCache(identity, store)
    credentials = (
        DevCredentials(known, identity, Admin(identity, store, clock))
        if settings.dev_credentials
        else known
    )
    verifier: SigV4Verifier[Credential] = SigV4Verifier(
        region=settings.region,
        service="kms",
        lookup=credentials.lookup,
        max_skew_seconds=settings.max_clock_skew_seconds,
        check_signatures=not settings.dev_credentials,
        presigned_signed_headers=(b"x-amz-target",),
    )
    sts_verifier: SigV4Verifier[Credential] = SigV4Verifier(
        region=settings.region,
        service="sts",
        lookup=credentials.lookup,
        max_skew_seconds=settings.max_clock_skew_seconds,
        check_signatures=not settings.dev_credentials,
    )
    api = KmsApi(
        pipeline,
        verifier,
        ServiceModel.load(),
        OPERATIONS,
        settings.max_body_bytes,
        sts=StsApi(sts_verifier, audit_sink, clock.now),
        extensions=EXTENSIONS,
    )
    scheduler = LifecycleScheduler(ctx)
    s3 = object_store(settings, data_dir, pipeline, credentials)
    assert isinstance(ctx.objects, Campaigns)
    campaigns = ctx.objects.with_kms(
        InProcessKmsClient(pipeline, OPERATIONS, f"s3.{settings.region}.amazonaws.com")
    )

    # Background jobs do their database and file work in a thread, so a slow query or a busy
    # database never stalls requests; cache evictions are applied on the event loop.
    async def poll_changes() -> None:
        changes = await asyncio.to_thread(db.changes_since, cache.last_seq)
        cache.apply(changes)
        credentials.apply(changes)
        policies.apply(changes)
        custom_stores.apply(changes)

    async def flush_audit_and_usage() -> None:
        try:
            await asyncio.to_thread(audit_sink.flush)
        finally:  # a failed audit flush is retried next time; usage is still written
            await asyncio.to_thread(usage.flush)

    async def run_campaigns() -> None:
        await asyncio.to_thread(campaigns.run)

    async def housekeeping() -> None:
        done = await asyncio.to_thread(scheduler.run_due)
        for key_id in done.key_ids:
            cache.forget_key(key_id)
        await asyncio.to_thread(db.prune_changes, clock.now())

    def shutdown() -> None:
        custom_stores.close()
        audit_sink.flush()
        usage.flush()
        db.engine.dispose()

    background = [
        (poll_changes, settings.cache_poll_seconds),
        (flush_audit_and_usage, 1.0),
        (housekeeping, settings.scheduler_seconds),
        (run_campaigns, min(1.0, settings.scheduler_seconds)),
    ]
    return AsgiApp(api, background, shutdown, side=s3)


def object_store(
    settings: Settings, data_dir: DataDir, pipeline: Pipeline, credentials: CredentialCache
) -> S3Api:
    """The S3 API: a client of the KMS through ``strongroom.client``, calls made in process
    through the same pipeline as HTTP requests, as the service ``s3.<region>.amazonaws.com``."""
    via_service = f"s3.{settings.region}.amazonaws.com"
    kms = InProcessKmsClient(pipeline, OPERATIONS, via_service)
    metadata = Metadata(data_dir.db.engine)
    clock = data_dir.clock
    ctx = StoreContext(
        settings.region,
        metadata,
        FileBlobStore(settings.data_dir / "objects"),
        Keyring(kms, metadata, settings.s3_bucket_key_seconds, clock.now),
        InProcessIdentityPolicies(pipeline),
        clock.now,
    )
    authenticator = InProcessAuthenticator(credentials)
    verifier = S3SigV4Verifier(
        settings.region, authenticator, max_skew_seconds=settings.max_clock_skew_seconds
    )
    return S3Api(
        ctx,
        verifier,
        S3SigV2PresignVerifier(authenticator),
        settings.s3_virtual_host_suffix,
        UuidShapedIds().next,
    )


def app_from_env() -> AsgiApp:
    """Factory for server worker processes: settings come from STRONGROOM_* variables."""
    settings = load_settings(Path(os.environ["STRONGROOM_DATA_DIR"]))
    logging.basicConfig(level=settings.log_level.upper())
    return create_app(settings)
