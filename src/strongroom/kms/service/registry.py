"""The one registry of operations: wire name -> :class:`Operation`.

Every entry is listed explicitly by the module that implements it; nothing is found by name
at run time. ``tests/unit/kms/service/test_registry.py`` checks the registry against the service
model.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from strongroom.kms.service import (
    aliases,
    audit_events,
    campaign_ops,
    crypto_ops,
    custom_key_stores,
    datakey_pairs,
    datakeys,
    encapsulation,
    exposure_report,
    grants,
    importing,
    key_agreement,
    key_policies,
    keys,
    lineage,
    macs,
    multi_region,
    protection,
    provider_accesses,
    rotation,
    signing,
    tags,
    usage,
    xks_keys,
)
from strongroom.kms.service.pipeline import Operation

_MODULES = (
    keys,
    key_policies,
    aliases,
    tags,
    crypto_ops,
    datakeys,
    datakey_pairs,
    signing,
    macs,
    key_agreement,
    encapsulation,
    rotation,
    usage,
    grants,
    custom_key_stores,
    importing,
    multi_region,
)


def _build() -> Mapping[str, Operation]:
    table: dict[str, Operation] = {}
    for module in _MODULES:
        for operation in module.OPERATIONS:
            if operation.name in table:
                raise RuntimeError(f"operation {operation.name} registered twice")
            table[operation.name] = operation
    return MappingProxyType(table)


OPERATIONS: Mapping[str, Operation] = _build()

# Strongroom's own operations, which AWS's model does not have: name -> (operation, input
# members by the model shapes that validate them). Kept apart so OPERATIONS stays a subset
# of the model.
EXTENSIONS: Mapping[str, tuple[Operation, Mapping[str, str]]] = MappingProxyType(
    {op.name: (op, provider_accesses.INPUT_MEMBERS) for op in provider_accesses.EXTENSIONS}
    | {op.name: (op, lineage.INPUT_MEMBERS) for op in lineage.EXTENSIONS}
    | {op.name: (op, exposure_report.INPUT_MEMBERS) for op in exposure_report.EXTENSIONS}
    | {op.name: (op, protection.INPUT_MEMBERS[op.name]) for op in protection.EXTENSIONS}
    | {op.name: (op, audit_events.INPUT_MEMBERS) for op in audit_events.EXTENSIONS}
    | {op.name: (op, campaign_ops.INPUT_MEMBERS[op.name]) for op in campaign_ops.EXTENSIONS}
    | {op.name: (op, xks_keys.INPUT_MEMBERS[op.name]) for op in xks_keys.EXTENSIONS}
)
