"""Secrets of the default key store itself, sealed under its root key (``store_secrets``).

Today one: the key of imported-material fingerprints (BYOK material ids). It is random, not
derived from the root key, so a root key migration (which re-wraps this row like every sealed
column) keeps every material id as it was.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import insert, select

from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database

STORE_SECRET_PURPOSE = "store-secret"  # noqa: S105 - a label, not a secret
FINGERPRINT_KEY = "material-fingerprint-key"

T = schema.store_secrets.c


class StoreSecrets:
    def __init__(self, db: Database) -> None:
        self._db = db

    def sealed(self, name: str, seal_new: Callable[[], bytes]) -> bytes:
        """The sealed secret ``name``; made with ``seal_new`` (once, under the write lock)."""
        with self._db.read_connection() as conn:
            found = conn.execute(select(T.sealed_secret).where(T.name == name)).scalar()
        if found is not None:
            return bytes(found)
        with self._db.write_connection() as conn:
            found = conn.execute(select(T.sealed_secret).where(T.name == name)).scalar()
            if found is not None:
                return bytes(found)
            value = seal_new()
            conn.execute(insert(schema.store_secrets).values(name=name, sealed_secret=value))
            return value
