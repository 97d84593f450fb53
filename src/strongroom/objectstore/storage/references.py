"""Which blobs a dumped row of the object store's tables references (backups, docs/adr/0027).

Rows come as :mod:`strongroom.kms.storage.dump` gives them: a table name and the values in
column order. Objects list their blobs in ``blobs`` (JSON ``[[id, size], ...]``), uploaded
parts name one in ``blob_id``; no other table references blobs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from strongroom.objectstore.storage.tables import objects, parts

_OBJECT_BLOBS = list(objects.columns.keys()).index("blobs")
_PART_BLOB = list(parts.columns.keys()).index("blob_id")


def blob_ids(table: str, values: Sequence[Any]) -> list[str]:
    if table == objects.name:
        return [str(blob_id) for blob_id, _ in json.loads(values[_OBJECT_BLOBS])]
    if table == parts.name:
        return [str(values[_PART_BLOB])]
    return []
