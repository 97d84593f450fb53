"""Tenant protection policies, their pending changes and approvals, and recorded HSM lineage.

``tx.protection`` of a unit of work (unit_of_work.py): the service decides inside one write
transaction, so an approval that completes a quorum and the act it approves commit together,
once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from strongroom.kms.domain.lineage import HsmLineage
from strongroom.kms.domain.protection import ChangeKind, ProtectionChange, ProtectionPolicy
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database

P = schema.protection_policies.c
C = schema.protection_changes.c
A = schema.protection_approvals.c
K = schema.keys.c


class DuplicateApproval(Exception):
    pass


class ProtectionRecords:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def open_changes(
        self, account_id: str, now: datetime
    ) -> list[tuple[ProtectionChange, list[str]]]:
        """The account's changes still waiting for approval, oldest first, with approvers."""
        rows = self._conn.execute(
            select(schema.protection_changes)
            .where(C.account_id == account_id, C.executed_at.is_(None), C.expires_at > now)
            .order_by(C.created_at, C.change_id)
        ).all()
        return [(_change(r), self.approvals(r.change_id)) for r in rows]

    def lineage(self, key_id: str) -> HsmLineage | None:
        """The key's recorded HSM lineage, if any."""
        found = self._conn.execute(
            select(K.hsm_lineage).where(K.key_id == key_id)
        ).scalar_one_or_none()
        return None if found is None else HsmLineage.from_json(found)

    def policy(self, account_id: str) -> ProtectionPolicy | None:
        row = self._conn.execute(
            select(schema.protection_policies).where(P.account_id == account_id)
        ).first()
        if row is None:
            return None
        return ProtectionPolicy(
            row.account_id,
            int(row.required_approvals),
            tuple(json.loads(row.approvers)),
            row.updated_at,
        )

    def put_policy(self, policy: ProtectionPolicy) -> None:
        values = {
            "required_approvals": policy.required_approvals,
            "approvers": json.dumps(list(policy.approvers)),
            "updated_at": policy.updated_at,
        }
        done = self._conn.execute(
            update(schema.protection_policies)
            .where(P.account_id == policy.account_id)
            .values(**values)
        ).rowcount
        if not done:
            self._conn.execute(
                insert(schema.protection_policies).values(account_id=policy.account_id, **values)
            )

    def add_change(self, change: ProtectionChange) -> None:
        self._conn.execute(
            insert(schema.protection_changes).values(
                change_id=change.change_id,
                account_id=change.account_id,
                kind=change.kind.value,
                key_id=change.key_id,
                parameters=change.encoded_parameters(),
                requested_by=change.requested_by,
                created_at=change.created_at,
                expires_at=change.expires_at,
            )
        )

    def change(self, change_id: str) -> ProtectionChange | None:
        row = self._conn.execute(
            select(schema.protection_changes).where(C.change_id == change_id)
        ).first()
        return None if row is None else _change(row)

    def pending_for_key(self, key_id: str, now: datetime) -> ProtectionChange | None:
        row = self._conn.execute(
            select(schema.protection_changes)
            .where(C.key_id == key_id, C.executed_at.is_(None), C.expires_at > now)
            .order_by(C.created_at)
        ).first()
        return None if row is None else _change(row)

    def approvals(self, change_id: str) -> list[str]:
        return list(
            self._conn.execute(
                select(A.principal_arn)
                .where(A.change_id == change_id)
                .order_by(A.approved_at, A.principal_arn)
            ).scalars()
        )

    def add_approval(self, change_id: str, principal_arn: str, at: datetime) -> None:
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    insert(schema.protection_approvals).values(
                        change_id=change_id, principal_arn=principal_arn, approved_at=at
                    )
                )
        except IntegrityError:
            raise DuplicateApproval(principal_arn) from None

    def mark_executed(self, change_id: str, at: datetime) -> bool:
        """Spend a change, once: False if it was executed already."""
        return bool(
            self._conn.execute(
                update(schema.protection_changes)
                .where(C.change_id == change_id, C.executed_at.is_(None))
                .values(executed_at=at)
            ).rowcount
        )

    def set_lineage(self, key_id: str, lineage: HsmLineage, at: datetime) -> bool:
        """Record a key's HSM lineage if it has none: it is never changed once set."""
        done = self._conn.execute(
            update(schema.keys)
            .where(K.key_id == key_id, K.hsm_lineage.is_(None))
            .values(hsm_lineage=lineage.to_json())
        ).rowcount
        if done:
            Database.record_change(self._conn, at, key_id=key_id)
        return bool(done)


def _change(row: Any) -> ProtectionChange:
    return ProtectionChange(
        change_id=row.change_id,
        account_id=row.account_id,
        kind=ChangeKind(row.kind),
        key_id=row.key_id,
        parameters=json.loads(row.parameters),
        requested_by=row.requested_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        executed_at=row.executed_at,
    )
