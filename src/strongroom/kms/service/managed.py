"""AWS managed keys come into being on first use, once per account, however many ask at once.

Managed keys are per account and region. The pipeline calls :func:`ensure` when a request
names a predefined ``alias/aws/<service>`` of the caller's own account that has no key yet in
the request's region (DescribeKey, GenerateDataKey, Encrypt...), as
AWS does; a service of Strongroom (the object store's first SSE-S3 object) gets its key the
same way, through its in-process KMS calls. The key and its alias are written in one
transaction and the alias's primary key decides a race: when two workers or nodes create the
same managed key at once, one insert wins, the other rolls back entirely (no orphan key) and
reads the winner's key.

The key is made like any default-store key (random material wrapped under the root key), with
``KeyManager: AWS``, AWS's description and key policy, and automatic rotation every 365 days,
which the lifecycle scheduler performs like any other due rotation.
"""

from __future__ import annotations

from collections.abc import Callable

from strongroom.kms.domain.enums import KeyManager, KeyState
from strongroom.kms.domain.ids import new_key_id, new_material_id
from strongroom.kms.domain.key import AliasRecord, KeyRecord
from strongroom.kms.domain.managed import ROTATION_PERIOD_DAYS, ManagedService
from strongroom.kms.domain.rotation import next_rotation
from strongroom.kms.service.context import ServiceContext
from strongroom.kms.storage.database import CommitHook, commit_hook

AuditHook = Callable[[KeyRecord], CommitHook]


def ensure(
    ctx: ServiceContext,
    account_id: str,
    region: str,
    service: ManagedService,
    audit: AuditHook | None = None,
) -> KeyRecord:
    """The account's managed key of ``service`` in ``region``, created now if it has none.

    ``audit``, when given, makes the hook (the event that records the new key) that commits
    with the creation; nothing is written when another worker created the key first.
    """
    existing = _existing(ctx, account_id, region, service)
    if existing is not None:
        return existing
    now = ctx.clock.now()
    record = KeyRecord(
        key_id=new_key_id(),
        account_id=account_id,
        region=region,
        created_at=now,
        state=KeyState.ENABLED,
        description=service.description,
        key_manager=KeyManager.AWS,
        current_material_id=new_material_id(),
        policy=service.policy(account_id, region),
        rotation_period_days=ROTATION_PERIOD_DAYS,
        next_rotation_date=next_rotation(now, ROTATION_PERIOD_DAYS),
    )
    assert record.current_material_id is not None
    wrapped = ctx.store.new_material(record.material_binding, record.current_material_id)
    alias = AliasRecord(account_id, region, service.alias_name, record.key_id, now, now)
    if audit is None:
        created = ctx.keys.create_key_with_alias(record, ctx.store.store_id, wrapped, alias)
    else:
        with commit_hook(audit(record)):
            created = ctx.keys.create_key_with_alias(record, ctx.store.store_id, wrapped, alias)
    if created:
        ctx.cache.put_key(record)
        ctx.cache.refresh_alias(account_id, region, service.alias_name)
        return record
    winner = _existing(ctx, account_id, region, service)
    if winner is None:
        raise RuntimeError(f"managed key {service.alias_name} of {account_id} vanished")
    return winner


def _existing(
    ctx: ServiceContext, account_id: str, region: str, service: ManagedService
) -> KeyRecord | None:
    """The key the alias names now, read from the database (this worker's cache may lag)."""
    key_id = ctx.cache.refresh_alias(account_id, region, service.alias_name)
    return None if key_id is None else ctx.cache.refresh_key(region, key_id)
