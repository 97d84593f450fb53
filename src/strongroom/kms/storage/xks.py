"""Repository of the XKS proxy's external keys and credentials.

Every change records a change-feed row naming the custom key store, so each worker's XKS cache
(service/xks_catalog.py) drops what it holds for that store within one poll.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from strongroom.kms.domain.secrets import Secret
from strongroom.kms.domain.xks import MAX_CREDENTIALS_PER_STORE, XksCredential, XksKey
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database

K = schema.xks_keys.c
C = schema.xks_credentials.c

Unseal = Callable[[str, bytes], bytes]


class XksLimitExceeded(Exception):
    """The store has as many credentials as it may have."""


class XksRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- credentials --------------------------------------------------------------------

    def add_credential(self, credential: XksCredential, sealed_secret: bytes) -> None:
        with self._db.insertion(credential.access_key_id) as conn:
            count = conn.execute(
                select(func.count()).where(C.custom_key_store_id == credential.custom_key_store_id)
            ).scalar_one()
            if count >= MAX_CREDENTIALS_PER_STORE:
                raise XksLimitExceeded
            conn.execute(
                insert(schema.xks_credentials).values(
                    access_key_id=credential.access_key_id,
                    custom_key_store_id=credential.custom_key_store_id,
                    account_id=credential.account_id,
                    sealed_secret=sealed_secret,
                    created_at=credential.created_at,
                )
            )
            _changed(conn, credential.created_at, credential.custom_key_store_id)

    def credential(self, access_key_id: str, unseal: Unseal) -> XksCredential | None:
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(schema.xks_credentials).where(C.access_key_id == access_key_id)
            ).first()
        if row is None:
            return None
        return XksCredential(
            access_key_id=row.access_key_id,
            custom_key_store_id=row.custom_key_store_id,
            account_id=row.account_id,
            secret=Secret(unseal(row.access_key_id, bytes(row.sealed_secret))),
            created_at=row.created_at,
        )

    def credentials(self, custom_key_store_id: str) -> list[tuple[str, datetime]]:
        """(access key id, creation time) of a store's credentials; never the secrets."""
        with self._db.read_connection() as conn:
            rows = conn.execute(
                select(C.access_key_id, C.created_at)
                .where(C.custom_key_store_id == custom_key_store_id)
                .order_by(C.created_at, C.access_key_id)
            ).all()
        return [(row.access_key_id, row.created_at) for row in rows]

    def delete_credential(self, access_key_id: str, at: datetime) -> str | None:
        """Delete a credential; return its store, or None if there was none."""
        with self._db.write_connection() as conn:
            store_id = conn.execute(
                select(C.custom_key_store_id).where(C.access_key_id == access_key_id)
            ).scalar_one_or_none()
            if store_id is None:
                return None
            conn.execute(delete(schema.xks_credentials).where(C.access_key_id == access_key_id))
            _changed(conn, at, store_id)
            return str(store_id)

    # --- keys ---------------------------------------------------------------------------

    def add_key(self, key: XksKey) -> None:
        with self._db.insertion(key.xks_key_id) as conn:
            conn.execute(
                insert(schema.xks_keys).values(
                    custom_key_store_id=key.custom_key_store_id,
                    xks_key_id=key.xks_key_id,
                    account_id=key.account_id,
                    enabled=key.enabled,
                    tokens=json.dumps(list(key.tokens)),
                    created_at=key.created_at,
                )
            )
            _changed(conn, key.created_at, key.custom_key_store_id)

    def key(self, custom_key_store_id: str, xks_key_id: str) -> XksKey | None:
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(schema.xks_keys).where(
                    K.custom_key_store_id == custom_key_store_id, K.xks_key_id == xks_key_id
                )
            ).first()
        return None if row is None else _key(row)

    def keys(self, custom_key_store_id: str) -> list[XksKey]:
        with self._db.read_connection() as conn:
            rows = conn.execute(
                select(schema.xks_keys)
                .where(K.custom_key_store_id == custom_key_store_id)
                .order_by(K.xks_key_id)
            ).all()
        return [_key(row) for row in rows]

    def keys_of_account(self, account_id: str) -> list[tuple[XksKey, str]]:
        """Every external key of an account, with the HSM cluster its store uses."""
        stores = schema.custom_key_stores.c
        with self._db.read_connection() as conn:
            rows = conn.execute(
                select(schema.xks_keys, stores.cluster_id)
                .join(
                    schema.custom_key_stores,
                    stores.custom_key_store_id == K.custom_key_store_id,
                )
                .where(K.account_id == account_id)
                .order_by(K.custom_key_store_id, K.xks_key_id)
            ).all()
        return [(_key(row), row.cluster_id) for row in rows]

    def set_enabled(
        self, custom_key_store_id: str, xks_key_id: str, enabled: bool, at: datetime
    ) -> bool:
        """Enable or disable a key; False if there is no such key."""
        with self._db.write_connection() as conn:
            result = conn.execute(
                update(schema.xks_keys)
                .where(K.custom_key_store_id == custom_key_store_id, K.xks_key_id == xks_key_id)
                .values(enabled=enabled)
            )
            if result.rowcount == 0:
                return False
            _changed(conn, at, custom_key_store_id)
            return True

    def delete_key(self, custom_key_store_id: str, xks_key_id: str, at: datetime) -> None:
        with self._db.write_connection() as conn:
            conn.execute(
                delete(schema.xks_keys).where(
                    K.custom_key_store_id == custom_key_store_id, K.xks_key_id == xks_key_id
                )
            )
            _changed(conn, at, custom_key_store_id)


def _changed(conn: Connection, at: datetime, custom_key_store_id: str) -> None:
    Database.record_change(conn, at, custom_key_store_id=custom_key_store_id)


def _key(row: Any) -> XksKey:
    return XksKey(
        custom_key_store_id=row.custom_key_store_id,
        xks_key_id=row.xks_key_id,
        account_id=row.account_id,
        enabled=bool(row.enabled),
        tokens=tuple(json.loads(row.tokens)),
        created_at=row.created_at,
    )
