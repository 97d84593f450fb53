"""The service parts behind the lifecycle scheduler, built the way ``kms/app.py`` builds them.

Used by the scheduler tests to stand up several independent "workers" (each with its own
engine on one SQLite file), in threads or in spawned processes (whose target is here, so a
spawned interpreter can import it).
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from strongroom.kms.app import fingerprint_key
from strongroom.kms.domain.clock import Clock
from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.ids import key_arn, new_key_id, new_material_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.keystores.software import SoftwareKeyStore
from strongroom.kms.rootkey.providers import FileRootKey
from strongroom.kms.service.cache import KeyCache
from strongroom.kms.service.context import ServiceContext
from strongroom.kms.service.policy_cache import PolicyCache
from strongroom.kms.service.scheduler import LifecycleScheduler
from strongroom.kms.service.usage import UsageTracker
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.grants import GrantRepository
from strongroom.kms.storage.identity import IdentityRepository
from strongroom.kms.storage.keys import KeyRepository
from strongroom.kms.storage.usage import UsageRepository

REGION = "us-east-1"


class SettableClock:
    """A clock that stands still at a time the test sets (thread-safe)."""

    def __init__(self, at: datetime) -> None:
        self._at = at
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = at


@dataclass(frozen=True, slots=True)
class Parts:
    """What one worker needs: its own engine, repositories, key store and cache."""

    ctx: ServiceContext
    scheduler: LifecycleScheduler

    @property
    def db(self) -> Database:
        return self.ctx.db

    @property
    def keys(self) -> KeyRepository:
        return self.ctx.keys

    def close(self) -> None:
        self.ctx.db.engine.dispose()


def build_parts(url: str, store_id: str, root_key: bytes, clock: Clock) -> Parts:
    """One worker's parts, as ``create_app`` builds them (keep the two in step)."""
    db = Database.open(url)
    keys = KeyRepository(db)
    identity = IdentityRepository(db)
    root = FileRootKey(Secret(root_key))
    store = SoftwareKeyStore(store_id, root, fingerprint_key=fingerprint_key(db, store_id, root))
    cache = KeyCache(db, keys, store)
    usage = UsageTracker(UsageRepository(db), clock.now())
    policies = PolicyCache(identity, GrantRepository(db))
    ctx = ServiceContext(
        default_region=REGION,
        regions=frozenset({REGION, "eu-west-1"}),
        clock=clock,
        db=db,
        keys=keys,
        identity=identity,
        store=store,
        cache=cache,
        usage=usage,
        policies=policies,
    )
    return Parts(ctx, LifecycleScheduler(ctx))


def create_key(parts: Parts, account_id: str, created_at: datetime, **changes: Any) -> KeyRecord:
    """Store a key with real first material (wrapped by the parts' store) and return it."""
    key_id = new_key_id()
    material_id = new_material_id()
    values: dict[str, Any] = {
        "key_id": key_id,
        "account_id": account_id,
        "region": REGION,
        "created_at": created_at,
        "state": KeyState.ENABLED,
        "current_material_id": material_id,
    }
    values.update(changes)
    key = KeyRecord(**values)
    wrapped = parts.ctx.store.new_material(key_arn(REGION, account_id, key_id), material_id)
    parts.keys.create_key(key, parts.ctx.store.store_id, wrapped, {})
    return key


def run_due_in_process(
    url: str,
    store_id: str,
    root_key: bytes,
    at: datetime,
    *,
    barrier: Any,
    results: Any,
) -> None:
    """Target of a spawned process: build its own parts, wait for the others, run due work.

    Puts ``("ok", deleted, rotated)`` or ``("error", traceback)`` on ``results``.
    """
    try:
        parts = build_parts(url, store_id, root_key, SettableClock(at))
    except BaseException:
        barrier.abort()  # the others need not wait for this one
        results.put(("error", traceback.format_exc()))
        return
    try:
        barrier.wait(timeout=30)
        done = parts.scheduler.run_due()
        results.put(("ok", done.deleted, done.rotated))
    except BaseException:
        results.put(("error", traceback.format_exc()))
    finally:
        parts.close()
