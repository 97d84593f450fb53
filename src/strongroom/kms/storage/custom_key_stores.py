"""Repository of HSM clusters and custom key stores.

Checks that must hold across concurrent requests (one store per cluster, names unique per
account, at most N stores per account, no deletion while keys remain) are made inside the write
transaction that makes the change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from strongroom.kms.domain.custom_key_stores import (
    ConnectionErrorCode,
    ConnectionState,
    CustomKeyStore,
    HsmCluster,
)
from strongroom.kms.domain.external_key_stores import (
    CustomKeyStoreType,
    XksProxyConnectivity,
    XksProxySettings,
)
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database

C = schema.hsm_clusters.c
S = schema.custom_key_stores.c


class StoreConflict(Enum):
    NAME_IN_USE = "name in use"
    CLUSTER_IN_USE = "cluster in use"
    LIMIT = "limit exceeded"
    HAS_KEYS = "store has keys"
    NOT_FOUND = "not found"
    XKS_URI_IN_USE = "proxy URI in use"


class CustomKeyStoreConflict(Exception):
    def __init__(self, reason: StoreConflict) -> None:
        super().__init__(reason.value)
        self.reason = reason


class CustomKeyStoreRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- clusters (registered by the provider's operator) ------------------------------

    def register_cluster(self, cluster: HsmCluster) -> None:
        with self._db.insertion(cluster.cluster_id) as conn:
            conn.execute(
                insert(schema.hsm_clusters).values(
                    cluster_id=cluster.cluster_id,
                    module_path=cluster.module_path,
                    token_labels=json.dumps(list(cluster.token_labels)),
                    trust_anchor=cluster.trust_anchor,
                    created_at=cluster.created_at,
                )
            )

    def get_cluster(self, cluster_id: str) -> HsmCluster | None:
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(schema.hsm_clusters).where(C.cluster_id == cluster_id)
            ).first()
        return None if row is None else _cluster(row)

    def list_clusters(self) -> list[HsmCluster]:
        with self._db.read_connection() as conn:
            rows = conn.execute(select(schema.hsm_clusters).order_by(C.cluster_id)).all()
        return [_cluster(row) for row in rows]

    # --- stores -------------------------------------------------------------------------

    def create_store(
        self, store: CustomKeyStore, sealed_password: bytes, *, max_per_account: int
    ) -> None:
        with self._db.write_connection() as conn:
            self._check_name_free(conn, store.account_id, store.name)
            if (
                store.cluster_id is not None
                and conn.execute(
                    select(S.custom_key_store_id).where(S.cluster_id == store.cluster_id)
                ).first()
            ):
                raise CustomKeyStoreConflict(StoreConflict.CLUSTER_IN_USE)
            self._check_uri_free(conn, store)
            count = conn.execute(
                select(func.count()).where(S.account_id == store.account_id)
            ).scalar_one()
            if count >= max_per_account:
                raise CustomKeyStoreConflict(StoreConflict.LIMIT)
            conn.execute(
                insert(schema.custom_key_stores).values(
                    **_store_columns(store), sealed_password=sealed_password
                )
            )
            self._db.record_change(
                conn, store.created_at, custom_key_store_id=store.custom_key_store_id
            )

    def get_store(self, store_id: str) -> CustomKeyStore | None:
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(schema.custom_key_stores).where(S.custom_key_store_id == store_id)
            ).first()
        return None if row is None else _store(row)

    def find_by_name(self, account_id: str, name: str) -> CustomKeyStore | None:
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(schema.custom_key_stores).where(S.account_id == account_id, S.name == name)
            ).first()
        return None if row is None else _store(row)

    def list_stores(self, account_id: str, after: str | None, limit: int) -> list[CustomKeyStore]:
        query = select(schema.custom_key_stores).where(S.account_id == account_id)
        if after is not None:
            query = query.where(S.custom_key_store_id > after)
        with self._db.read_connection() as conn:
            rows = conn.execute(query.order_by(S.custom_key_store_id).limit(limit)).all()
        return [_store(row) for row in rows]

    def sealed_password(self, store_id: str) -> bytes | None:
        with self._db.read_connection() as conn:
            value = conn.execute(
                select(S.sealed_password).where(S.custom_key_store_id == store_id)
            ).scalar_one_or_none()
        return None if value is None else bytes(value)

    def update_store(
        self,
        store_id: str,
        at: datetime,
        mutate: Callable[[CustomKeyStore], CustomKeyStore],
        *,
        sealed_password: bytes | None = None,
    ) -> CustomKeyStore:
        """Read-modify-write one store under the write lock; ``mutate`` may raise to refuse."""
        with self._db.write_connection() as conn:
            current = _existing(conn, store_id)
            changed = mutate(current)
            if changed.name != current.name:
                self._check_name_free(conn, changed.account_id, changed.name)
            if changed.xks is not None and (
                current.xks is None or changed.xks.uri != current.xks.uri
            ):
                self._check_uri_free(conn, changed)
            values: dict[str, Any] = _store_columns(changed)
            if sealed_password is not None:
                values["sealed_password"] = sealed_password
            conn.execute(
                update(schema.custom_key_stores)
                .where(S.custom_key_store_id == store_id)
                .values(**values)
            )
            self._db.record_change(conn, at, custom_key_store_id=store_id)
            return changed

    def delete_store(
        self, store_id: str, at: datetime, check: Callable[[CustomKeyStore], None]
    ) -> None:
        """Delete a store that ``check`` accepts and that no key (in any state, KMS or external)
        uses."""
        with self._db.write_connection() as conn:
            check(_existing(conn, store_id))
            keys = conn.execute(
                select(func.count()).where(schema.keys.c.custom_key_store_id == store_id)
            ).scalar_one()
            external = conn.execute(
                select(func.count()).where(schema.xks_keys.c.custom_key_store_id == store_id)
            ).scalar_one()
            if keys or external:
                raise CustomKeyStoreConflict(StoreConflict.HAS_KEYS)
            # The store's XKS proxy credentials go with it.
            conn.execute(
                delete(schema.xks_credentials).where(
                    schema.xks_credentials.c.custom_key_store_id == store_id
                )
            )
            conn.execute(delete(schema.custom_key_stores).where(S.custom_key_store_id == store_id))
            self._db.record_change(conn, at, custom_key_store_id=store_id)

    @staticmethod
    def _check_uri_free(conn: Connection, store: CustomKeyStore) -> None:
        """The proxy's endpoint and path together name one external key store of an account
        (AWS: in the account and Region; one Strongroom serves one Region per store)."""
        if store.xks is None:
            return
        taken = conn.execute(
            select(S.custom_key_store_id).where(
                S.account_id == store.account_id,
                S.xks_uri_endpoint == store.xks.uri_endpoint,
                S.xks_uri_path == store.xks.uri_path,
                S.custom_key_store_id != store.custom_key_store_id,
            )
        ).first()
        if taken is not None:
            raise CustomKeyStoreConflict(StoreConflict.XKS_URI_IN_USE)

    @staticmethod
    def _check_name_free(conn: Connection, account_id: str, name: str) -> None:
        taken = conn.execute(
            select(S.custom_key_store_id).where(S.account_id == account_id, S.name == name)
        ).first()
        if taken is not None:
            raise CustomKeyStoreConflict(StoreConflict.NAME_IN_USE)


def _existing(conn: Connection, store_id: str) -> CustomKeyStore:
    """The store as it is inside the caller's (write) transaction."""
    row = conn.execute(
        select(schema.custom_key_stores).where(S.custom_key_store_id == store_id)
    ).first()
    if row is None:
        raise CustomKeyStoreConflict(StoreConflict.NOT_FOUND)
    return _store(row)


def _store_columns(store: CustomKeyStore) -> dict[str, Any]:
    xks = store.xks
    return {
        "store_type": store.store_type.value,
        "xks_uri_endpoint": None if xks is None else xks.uri_endpoint,
        "xks_uri_path": None if xks is None else xks.uri_path,
        "xks_connectivity": None if xks is None else xks.connectivity.value,
        "xks_access_key_id": None if xks is None else xks.access_key_id,
        "custom_key_store_id": store.custom_key_store_id,
        "account_id": store.account_id,
        "name": store.name,
        "cluster_id": store.cluster_id,
        "trust_anchor": store.trust_anchor,
        "connection_state": store.connection_state.value,
        "connection_error_code": (
            None if store.connection_error_code is None else store.connection_error_code.value
        ),
        "created_at": store.created_at,
    }


def _store(row: Any) -> CustomKeyStore:
    return CustomKeyStore(
        custom_key_store_id=row.custom_key_store_id,
        account_id=row.account_id,
        name=row.name,
        cluster_id=row.cluster_id,
        trust_anchor=row.trust_anchor,
        connection_state=ConnectionState(row.connection_state),
        connection_error_code=(
            None
            if row.connection_error_code is None
            else ConnectionErrorCode(row.connection_error_code)
        ),
        created_at=row.created_at,
        store_type=CustomKeyStoreType(row.store_type),
        xks=(
            None
            if row.xks_uri_endpoint is None
            else XksProxySettings(
                uri_endpoint=row.xks_uri_endpoint,
                uri_path=row.xks_uri_path,
                connectivity=XksProxyConnectivity(row.xks_connectivity),
                access_key_id=row.xks_access_key_id,
            )
        ),
    )


def _cluster(row: Any) -> HsmCluster:
    return HsmCluster(
        cluster_id=row.cluster_id,
        module_path=row.module_path,
        token_labels=tuple(json.loads(row.token_labels)),
        trust_anchor=row.trust_anchor,
        created_at=row.created_at,
    )


class ClusterRecords:
    """``tx.clusters`` of a unit of work: what a quorum-approved act does to the register."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def remove_cluster(self, cluster_id: str) -> None:
        """Forget a cluster; refused while a custom key store is tied to it."""
        if self._conn.execute(
            select(S.custom_key_store_id).where(S.cluster_id == cluster_id)
        ).first():
            raise CustomKeyStoreConflict(StoreConflict.CLUSTER_IN_USE)
        removed = self._conn.execute(delete(schema.hsm_clusters).where(C.cluster_id == cluster_id))
        if removed.rowcount == 0:
            raise CustomKeyStoreConflict(StoreConflict.NOT_FOUND)
