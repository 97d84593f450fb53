"""The one registry of KMIP operations: KMIP operation code -> :class:`KmipOperation`.

Each module lists its operations explicitly; nothing is found by name. Each entry holds the
KMS pipeline :class:`~strongroom.kms.service.pipeline.Operation` it runs (docs/adr/0023).
The handlers share the worker's :class:`KmipObjects`, so the table is built per worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from strongroom.kmip.objects import KmipObjects
from strongroom.kmip.operation import KmipOperation
from strongroom.kmip.operations.attribute_ops import AttributeChanges
from strongroom.kmip.operations.crypto import Cryptography
from strongroom.kmip.operations.key_pairs import KeyMaking
from strongroom.kmip.operations.lifecycle import Lifecycle
from strongroom.kmip.operations.retrieval import Retrieval
from strongroom.kmip.operations.server_info import ServerInfo


def kmip_operations(objects: KmipObjects) -> Mapping[int, KmipOperation]:
    table: dict[int, KmipOperation] = {}
    groups = (
        ServerInfo(lambda: list(table)).operations(),
        Lifecycle(objects).operations(),
        KeyMaking(objects).operations(),
        Retrieval(objects).operations(),
        AttributeChanges(objects).operations(),
        Cryptography(objects).operations(),
    )
    for group in groups:
        for operation in group:
            if operation.code in table:
                raise RuntimeError(f"KMIP operation {operation.code.name} registered twice")
            table[int(operation.code)] = operation
    return MappingProxyType(table)
