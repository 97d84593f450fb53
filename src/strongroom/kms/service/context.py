"""The parts every operation may use, built once by the composition root (``kms/app.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from strongroom.client.inventory import ObjectInventory
from strongroom.kms.domain.clock import Clock
from strongroom.kms.keystores.base import KeyStore
from strongroom.kms.service.cache import KeyCache

if TYPE_CHECKING:
    from strongroom.kms.service.custom_store_connections import CustomKeyStoreConnections
    from strongroom.kms.service.policy_cache import PolicyCache
    from strongroom.kms.service.usage import UsageTracker
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.identity import IdentityRepository
from strongroom.kms.storage.keys import KeyRepository


@dataclass(frozen=True, slots=True)
class ServiceContext:
    region: str
    clock: Clock
    db: Database
    keys: KeyRepository
    identity: IdentityRepository
    store: KeyStore
    cache: KeyCache
    usage: UsageTracker
    policies: PolicyCache
    # Custom key stores (None where a caller builds a context without them, e.g. tools).
    custom_stores: CustomKeyStoreConnections | None = None
    # USD per key and per HSM and month, for the exposure report's cost estimate.
    cost_rates: tuple[float, float] = (1.0, 1000.0)
    # The object store's inventory (what it holds under which key), for the exposure report.
    objects: ObjectInventory | None = None
