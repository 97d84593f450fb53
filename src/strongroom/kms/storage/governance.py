"""Operators, the quorum threshold, proposals and approvals (tables ``gov_*``).

``tx.governance`` of a unit of work (unit_of_work.py): the quorum service decides the
transactions, so that a governance change, its checks and its audit events commit together.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from strongroom.kms.domain.governance import Approval, Operator, Proposal
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import DuplicateRecord

OP = schema.gov_operators.c
Q = schema.gov_quorum.c
P = schema.gov_proposals.c
AP = schema.gov_approvals.c
_QUORUM_ROW = 1


class GovernanceRecords:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def threshold(self) -> int | None:
        """M, or None if governance was never initialised."""
        value = self._conn.execute(
            select(Q.threshold).where(Q.id == _QUORUM_ROW)
        ).scalar_one_or_none()
        return None if value is None else int(value)

    def set_threshold(self, value: int) -> None:
        if self.threshold() is None:
            self._conn.execute(insert(schema.gov_quorum).values(id=_QUORUM_ROW, threshold=value))
        else:
            self._conn.execute(
                update(schema.gov_quorum).where(Q.id == _QUORUM_ROW).values(threshold=value)
            )

    def operators(self, *, include_removed: bool = False) -> list[Operator]:
        query = select(schema.gov_operators).order_by(OP.name)
        if not include_removed:
            query = query.where(OP.removed_at.is_(None))
        return [_operator(row) for row in self._conn.execute(query)]

    def operator(self, name: str) -> Operator | None:
        row = self._conn.execute(select(schema.gov_operators).where(OP.name == name)).first()
        return None if row is None else _operator(row)

    def add_operator(self, new: Operator) -> None:
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    insert(schema.gov_operators).values(
                        name=new.name, public_key=new.public_key, enrolled_at=new.enrolled_at
                    )
                )
        except IntegrityError:
            raise DuplicateRecord(f"operator {new.name} or its public key") from None

    def remove_operator(self, name: str, at: datetime) -> None:
        self._conn.execute(
            update(schema.gov_operators)
            .where(OP.name == name, OP.removed_at.is_(None))
            .values(removed_at=at)
        )

    def insert_proposal(self, proposal: Proposal) -> None:
        self._conn.execute(
            insert(schema.gov_proposals).values(
                proposal_id=proposal.proposal_id,
                proposer=proposal.proposer,
                action=proposal.action,
                parameters=_encode(proposal.parameters),
                justification=proposal.justification,
                created_at=proposal.created_at,
                expires_at=proposal.expires_at,
                nonce=proposal.nonce,
            )
        )

    def proposal(self, proposal_id: str) -> Proposal | None:
        row = self._conn.execute(
            select(schema.gov_proposals).where(P.proposal_id == proposal_id)
        ).first()
        return None if row is None else _proposal(row)

    def proposals(self) -> list[Proposal]:
        rows = self._conn.execute(
            select(schema.gov_proposals).order_by(P.created_at, P.proposal_id)
        )
        return [_proposal(row) for row in rows]

    def add_approval(self, proposal_id: str, approval: Approval) -> None:
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    insert(schema.gov_approvals).values(
                        proposal_id=proposal_id,
                        operator=approval.operator,
                        signature=approval.signature,
                        approved_at=approval.approved_at,
                    )
                )
        except IntegrityError:
            raise DuplicateRecord(f"approval of {proposal_id} by {approval.operator}") from None

    def approvals(self, proposal_id: str) -> list[Approval]:
        rows = self._conn.execute(
            select(AP.operator, AP.signature, AP.approved_at)
            .where(AP.proposal_id == proposal_id)
            .order_by(AP.approved_at, AP.operator)
        )
        return [Approval(r.operator, bytes(r.signature), r.approved_at) for r in rows]

    def mark_executed(self, proposal_id: str, at: datetime, by: str) -> bool:
        """Set executed_at unless it is set: True for exactly one caller, ever."""
        result = self._conn.execute(
            update(schema.gov_proposals)
            .where(P.proposal_id == proposal_id, P.executed_at.is_(None))
            .values(executed_at=at, executed_by=by)
        )
        return bool(result.rowcount == 1)


def _encode(parameters: Mapping[str, Any]) -> str:
    """The stored form of the parameters: the canonical JSON the signatures cover."""
    return orjson.dumps(dict(parameters), option=orjson.OPT_SORT_KEYS).decode()


def _operator(row: Row[tuple[object, ...]]) -> Operator:
    m = row._mapping
    return Operator(m["name"], bytes(m["public_key"]), m["enrolled_at"], m["removed_at"])


def _proposal(row: Row[tuple[object, ...]]) -> Proposal:
    m = row._mapping
    return Proposal(
        proposal_id=m["proposal_id"],
        proposer=m["proposer"],
        action=m["action"],
        parameters=orjson.loads(m["parameters"]),
        justification=m["justification"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        nonce=m["nonce"],
        executed_at=m["executed_at"],
        executed_by=m["executed_by"],
    )
