"""The parts every operation may use, built once by the composition root (``kms/app.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from strongroom.client.campaigns import CampaignStore
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
    """Shared by every region the server serves: a call's region is its caller's
    (``Caller.region``), never this context's."""

    # The region of in-process calls whose outer request names none (tools, background jobs).
    default_region: str
    # The regions served (ReplicateKey and UpdatePrimaryRegion name one of them).
    regions: frozenset[str]
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
    # The object store's inventory and campaigns (client/campaigns.py): the exposure report,
    # GetObjectInventory and the re-encryption campaign operations use it.
    objects: CampaignStore | None = None
