"""Accounts, principals (users and roles), their inline policies, and access keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from strongroom.kms.domain.principals import (
    USER,
    AccessKeyRecord,
    Account,
    Principal,
    principal_arn,
)
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database


class IdentityRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create_account(self, account: Account) -> None:
        with self._db.insertion(f"account {account.account_id} exists") as conn:
            conn.execute(
                insert(schema.accounts).values(
                    account_id=account.account_id,
                    name=account.name,
                    created_at=account.created_at,
                )
            )

    def get_account(self, account_id: str) -> Account | None:
        c = schema.accounts.c
        with self._db.read_connection() as conn:
            row = conn.execute(select(schema.accounts).where(c.account_id == account_id)).first()
        return None if row is None else Account(row.account_id, row.name, row.created_at)

    def list_accounts(self) -> list[Account]:
        with self._db.read_connection() as conn:
            rows = conn.execute(
                select(schema.accounts).order_by(schema.accounts.c.created_at)
            ).all()
        return [Account(r.account_id, r.name, r.created_at) for r in rows]

    def create_principal(self, principal: Principal) -> None:
        with self._db.insertion(f"principal {principal.arn} exists or account unknown") as conn:
            conn.execute(
                insert(schema.principals).values(
                    account_id=principal.account_id,
                    kind=principal.kind,
                    name=principal.name,
                    created_at=principal.created_at,
                )
            )

    def get_principal(self, account_id: str, name: str, kind: str = USER) -> Principal | None:
        c = schema.principals.c
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(schema.principals).where(
                    c.account_id == account_id, c.kind == kind, c.name == name
                )
            ).first()
        return (
            None if row is None else Principal(row.account_id, row.name, row.created_at, row.kind)
        )

    def list_principals(self, account_id: str, kind: str = USER) -> list[Principal]:
        """The account's principals of one kind ("user" or "role"), by name."""
        c = schema.principals.c
        with self._db.read_connection() as conn:
            rows = conn.execute(
                select(schema.principals)
                .where(c.account_id == account_id, c.kind == kind)
                .order_by(c.name)
            ).all()
        return [Principal(r.account_id, r.name, r.created_at, r.kind) for r in rows]

    # --- inline identity (IAM) policies -------------------------------------------------
    # Every write appends a change with the principal's ARN in the same transaction, so
    # workers that cache a principal's policies evict them.

    def put_principal_policy(
        self,
        account_id: str,
        kind: str,
        name: str,
        policy_name: str,
        document: str,
        *,
        at: datetime,
    ) -> None:
        """Create or replace the inline policy ``policy_name`` of a principal."""
        c = schema.principal_policies.c
        where = (
            c.account_id == account_id,
            c.kind == kind,
            c.principal_name == name,
            c.policy_name == policy_name,
        )
        with self._db.insertion(
            f"policy {policy_name} of {principal_arn(account_id, kind, name)}"
        ) as conn:
            replaced = conn.execute(
                update(schema.principal_policies)
                .where(*where)
                .values(document=document, updated_at=at)
            ).rowcount
            if not replaced:
                conn.execute(
                    insert(schema.principal_policies).values(
                        account_id=account_id,
                        kind=kind,
                        principal_name=name,
                        policy_name=policy_name,
                        document=document,
                        updated_at=at,
                    )
                )
            self._db.record_change(conn, at, principal_arn=principal_arn(account_id, kind, name))

    def get_principal_policy(
        self, account_id: str, kind: str, name: str, policy_name: str
    ) -> str | None:
        c = schema.principal_policies.c
        with self._db.read_connection() as conn:
            document = conn.execute(
                select(c.document).where(
                    c.account_id == account_id,
                    c.kind == kind,
                    c.principal_name == name,
                    c.policy_name == policy_name,
                )
            ).scalar_one_or_none()
        return None if document is None else str(document)

    def list_principal_policies(self, account_id: str, kind: str, name: str) -> list[str]:
        """The names of a principal's inline policies, sorted."""
        return [policy_name for policy_name, _ in self.policies_of(account_id, kind, name)]

    def policies_of(self, account_id: str, kind: str, name: str) -> list[tuple[str, str]]:
        """(name, document) of every inline policy of a principal, sorted by name."""
        c = schema.principal_policies.c
        with self._db.read_connection() as conn:
            rows = conn.execute(
                select(c.policy_name, c.document)
                .where(c.account_id == account_id, c.kind == kind, c.principal_name == name)
                .order_by(c.policy_name)
            ).all()
        return [(str(r.policy_name), str(r.document)) for r in rows]

    def delete_principal_policy(
        self, account_id: str, kind: str, name: str, policy_name: str, at: datetime
    ) -> bool:
        c = schema.principal_policies.c
        with self._db.write_connection() as conn:
            deleted = conn.execute(
                delete(schema.principal_policies).where(
                    c.account_id == account_id,
                    c.kind == kind,
                    c.principal_name == name,
                    c.policy_name == policy_name,
                )
            ).rowcount
            if deleted:
                arn = principal_arn(account_id, kind, name)
                self._db.record_change(conn, at, principal_arn=arn)
        return bool(deleted)

    # --- access keys ---------------------------------------------------------------------

    def create_access_key(self, key: AccessKeyRecord) -> None:
        with self._db.insertion(f"access key {key.access_key_id} exists") as conn:
            conn.execute(
                insert(schema.access_keys).values(
                    access_key_id=key.access_key_id,
                    account_id=key.account_id,
                    principal_name=key.principal_name,
                    principal_kind=key.principal_kind,
                    sealed_secret=key.sealed_secret,
                    status=key.status,
                    created_at=key.created_at,
                )
            )
            self._db.record_change(conn, key.created_at, access_key_id=key.access_key_id)

    def get_access_key(self, access_key_id: str) -> AccessKeyRecord | None:
        c = schema.access_keys.c
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(schema.access_keys).where(c.access_key_id == access_key_id)
            ).first()
        return None if row is None else _access_key(row)

    def list_access_keys(self, account_id: str | None = None) -> list[AccessKeyRecord]:
        c = schema.access_keys.c
        query = select(schema.access_keys).order_by(c.created_at)
        if account_id is not None:
            query = query.where(c.account_id == account_id)
        with self._db.read_connection() as conn:
            return [_access_key(r) for r in conn.execute(query).all()]

    def delete_access_key(self, access_key_id: str, at: datetime) -> bool:
        c = schema.access_keys.c
        with self._db.write_connection() as conn:
            deleted = conn.execute(
                delete(schema.access_keys).where(c.access_key_id == access_key_id)
            ).rowcount
            if deleted:
                self._db.record_change(conn, at, access_key_id=access_key_id)
        return bool(deleted)


def _access_key(row: Any) -> AccessKeyRecord:
    return AccessKeyRecord(
        row.access_key_id,
        row.account_id,
        row.principal_name,
        row.sealed_secret,
        row.created_at,
        row.status,
        row.principal_kind,
    )
