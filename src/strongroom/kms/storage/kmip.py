"""Repository of the KMIP server's client certificates and KMIP-made keys.

A KMIP object is written with its KMS key in one transaction (create), changed with the key's
state in one transaction (update), and removed with the key, its material, aliases and tags in
one transaction (destroy). Every write records a change-feed row for the key, so each worker's
caches drop what they hold within one poll.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.kmip import KmipClient, KmipObject, KmipState, ObjectKind
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.keys import KeyRepository

C = schema.kmip_clients.c
O = schema.kmip_objects.c  # noqa: E741
K = schema.keys.c


class KmipObjectGone(Exception):
    """The object (or its key) no longer exists."""


class KmipRepository:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._keys = KeyRepository(db)

    # --- client certificates ------------------------------------------------------------

    def add_client(self, client: KmipClient) -> None:
        with self._db.insertion(client.fingerprint) as conn:
            conn.execute(
                insert(schema.kmip_clients).values(
                    fingerprint=client.fingerprint,
                    account_id=client.account_id,
                    principal_arn=client.principal_arn,
                    subject=client.subject,
                    created_at=client.created_at,
                )
            )

    def client(self, fingerprint: str) -> KmipClient | None:
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(schema.kmip_clients).where(C.fingerprint == fingerprint)
            ).first()
        return None if row is None else _client(row)

    def clients(self, account_id: str | None = None) -> list[KmipClient]:
        query = select(schema.kmip_clients).order_by(C.created_at, C.fingerprint)
        if account_id is not None:
            query = query.where(C.account_id == account_id)
        with self._db.read_connection() as conn:
            return [_client(row) for row in conn.execute(query).all()]

    def delete_client(self, fingerprint: str) -> KmipClient | None:
        with self._db.write_connection() as conn:
            row = conn.execute(
                select(schema.kmip_clients).where(C.fingerprint == fingerprint)
            ).first()
            if row is None:
                return None
            conn.execute(delete(schema.kmip_clients).where(C.fingerprint == fingerprint))
            return _client(row)

    # --- objects ------------------------------------------------------------------------

    def create(self, key: KeyRecord, store_id: str, wrapped: bytes, obj: KmipObject) -> None:
        """The KMS key, its material and the KMIP object, in one transaction."""

        def insert_object(conn: Connection) -> None:
            conn.execute(insert(schema.kmip_objects).values(**_columns(obj)))

        self._keys.create_key_and(key, store_id, wrapped, insert_object)

    def get(self, key_id: str) -> KmipObject | None:
        with self._db.read_connection() as conn:
            row = conn.execute(select(schema.kmip_objects).where(O.key_id == key_id)).first()
        return None if row is None else _object(row)

    def update(
        self,
        key_id: str,
        at: datetime,
        mutate: Callable[[KmipObject, KeyRecord], tuple[KmipObject, KeyState | None]],
    ) -> tuple[KmipObject, KeyRecord]:
        """Read-modify-write the object and, when ``mutate`` names one, the key's state, in one
        transaction under the key's row lock. ``mutate`` may raise to write nothing."""
        with self._db.write_connection() as conn:
            key_row = conn.execute(
                select(schema.keys).where(K.key_id == key_id).with_for_update()
            ).first()
            row = conn.execute(select(schema.kmip_objects).where(O.key_id == key_id)).first()
            if key_row is None or row is None:
                raise KmipObjectGone(key_id)
            key = self._keys.record_of(key_row)
            new, state = mutate(_object(row), key)
            conn.execute(
                update(schema.kmip_objects).where(O.key_id == key_id).values(**_columns(new))
            )
            if state is not None and state is not key.state:
                key = key.with_state(state)
                conn.execute(
                    update(schema.keys).where(K.key_id == key_id).values(state=state.value)
                )
            self._db.record_change(conn, at, key_id=key_id)
            return new, key

    def destroy(self, key_id: str, at: datetime, check: Callable[[KmipObject], None]) -> None:
        """Delete the object with its key (material, aliases, tags) in one transaction;
        ``check`` sees the object under the row lock and may raise to delete nothing."""
        with self._db.write_connection() as conn:
            row = conn.execute(
                select(schema.kmip_objects).where(O.key_id == key_id).with_for_update()
            ).first()
            if row is None:
                raise KmipObjectGone(key_id)
            check(_object(row))
            conn.execute(delete(schema.kmip_objects).where(O.key_id == key_id))
            self._keys.delete_key_rows(conn, key_id, at)

    def key_ids(self, account_id: str) -> list[str]:
        """Every KMIP object of an account (the exposure report's exportable keys)."""
        with self._db.read_connection() as conn:
            rows = conn.execute(select(O.key_id).where(O.account_id == account_id)).scalars()
            return [str(key_id) for key_id in rows]

    def locate(
        self,
        account_id: str,
        *,
        name: str | None,
        kinds: tuple[ObjectKind, ...] | None,
        limit: int,
    ) -> list[KmipObject]:
        query = select(schema.kmip_objects).where(O.account_id == account_id)
        if kinds is not None:
            query = query.where(O.kind.in_([int(k) for k in kinds]))
        if name is not None:
            # A coarse filter in SQL; the caller compares the names exactly.
            query = query.where(O.names.contains(json.dumps(name)[1:-1]))
        with self._db.read_connection() as conn:
            rows = conn.execute(query.order_by(O.created_at.desc(), O.key_id).limit(limit)).all()
        return [_object(row) for row in rows]


def _client(row: Any) -> KmipClient:
    return KmipClient(
        fingerprint=row.fingerprint,
        account_id=row.account_id,
        principal_arn=row.principal_arn,
        subject=row.subject,
        created_at=row.created_at,
    )


def _columns(obj: KmipObject) -> dict[str, object]:
    return {
        "key_id": obj.key_id,
        "account_id": obj.account_id,
        "kind": int(obj.kind),
        "state": int(obj.state),
        "attributes": json.dumps(
            [[name, base64.b64encode(value).decode("ascii")] for name, value in obj.attributes]
        ),
        "names": json.dumps(list(obj.names)),
        "created_at": obj.created_at,
        "activated_at": obj.activated_at,
        "deactivated_at": obj.deactivated_at,
        "changed_at": obj.changed_at or obj.created_at,
    }


def _object(row: Any) -> KmipObject:
    return KmipObject(
        key_id=row.key_id,
        account_id=row.account_id,
        kind=ObjectKind(row.kind),
        state=KmipState(row.state),
        attributes=tuple(
            (str(name), base64.b64decode(value)) for name, value in json.loads(row.attributes)
        ),
        created_at=row.created_at,
        activated_at=row.activated_at,
        deactivated_at=row.deactivated_at,
        changed_at=row.changed_at,
        names=tuple(json.loads(row.names)),
    )
