"""Named values of the deployment itself (table ``meta``): default store id, root key in force.

``tx.meta`` of a unit of work (unit_of_work.py).
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from strongroom.kms.storage import schema

M = schema.meta.c


class MetaRecords:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, name: str) -> str | None:
        found = self._conn.execute(select(M.value).where(M.name == name)).scalar_one_or_none()
        return None if found is None else str(found)

    def put(self, name: str, value: str) -> None:
        """Set ``name`` to ``value``, whether it was set before or not."""
        if self.get(name) is None:
            self._conn.execute(insert(schema.meta).values(name=name, value=value))
        else:
            self._conn.execute(update(schema.meta).where(M.name == name).values(value=value))
