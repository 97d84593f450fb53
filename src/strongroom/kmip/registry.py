"""The one registry of KMIP operations: KMIP operation code -> :class:`KmipOperation`.

Each module lists its operations explicitly; nothing is found by name. Each entry holds the
KMS pipeline :class:`~strongroom.kms.service.pipeline.Operation` it runs (docs/adr/0023).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from strongroom.kmip.operation import KmipOperation
from strongroom.kmip.operations import server_info

_MODULES = (server_info,)


def _build() -> Mapping[int, KmipOperation]:
    table: dict[int, KmipOperation] = {}
    for module in _MODULES:
        for operation in module.OPERATIONS:
            if operation.code in table:
                raise RuntimeError(f"KMIP operation {operation.code.name} registered twice")
            table[int(operation.code)] = operation
    return MappingProxyType(table)


KMIP_OPERATIONS: Mapping[int, KmipOperation] = _build()
