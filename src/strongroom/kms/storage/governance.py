"""Operators, the quorum threshold, proposals and approvals (tables ``gov_*``).

Every function takes the caller's connection: the quorum service decides the transactions, so
that a governance change, its checks and its audit events commit together.
"""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from strongroom.kms.governance.operators import Operator
from strongroom.kms.governance.proposals import Approval, Proposal, encode_parameters
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import DuplicateRecord

OP = schema.gov_operators.c
Q = schema.gov_quorum.c
P = schema.gov_proposals.c
AP = schema.gov_approvals.c
_QUORUM_ROW = 1


def threshold(conn: Connection) -> int | None:
    """M, or None if governance was never initialised."""
    value = conn.execute(select(Q.threshold).where(Q.id == _QUORUM_ROW)).scalar_one_or_none()
    return None if value is None else int(value)


def set_threshold(conn: Connection, value: int) -> None:
    if threshold(conn) is None:
        conn.execute(insert(schema.gov_quorum).values(id=_QUORUM_ROW, threshold=value))
    else:
        conn.execute(update(schema.gov_quorum).where(Q.id == _QUORUM_ROW).values(threshold=value))


def operators(conn: Connection, *, include_removed: bool = False) -> list[Operator]:
    query = select(schema.gov_operators).order_by(OP.name)
    if not include_removed:
        query = query.where(OP.removed_at.is_(None))
    return [_operator(row) for row in conn.execute(query)]


def operator(conn: Connection, name: str) -> Operator | None:
    row = conn.execute(select(schema.gov_operators).where(OP.name == name)).first()
    return None if row is None else _operator(row)


def add_operator(conn: Connection, new: Operator) -> None:
    try:
        with conn.begin_nested():
            conn.execute(
                insert(schema.gov_operators).values(
                    name=new.name, public_key=new.public_key, enrolled_at=new.enrolled_at
                )
            )
    except IntegrityError:
        raise DuplicateRecord(f"operator {new.name} or its public key") from None


def remove_operator(conn: Connection, name: str, at: datetime) -> None:
    conn.execute(
        update(schema.gov_operators)
        .where(OP.name == name, OP.removed_at.is_(None))
        .values(removed_at=at)
    )


def insert_proposal(conn: Connection, proposal: Proposal) -> None:
    conn.execute(
        insert(schema.gov_proposals).values(
            proposal_id=proposal.proposal_id,
            proposer=proposal.proposer,
            action=proposal.action,
            parameters=encode_parameters(proposal.parameters),
            justification=proposal.justification,
            created_at=proposal.created_at,
            expires_at=proposal.expires_at,
            nonce=proposal.nonce,
        )
    )


def proposal(conn: Connection, proposal_id: str) -> Proposal | None:
    row = conn.execute(select(schema.gov_proposals).where(P.proposal_id == proposal_id)).first()
    return None if row is None else _proposal(row)


def proposals(conn: Connection) -> list[Proposal]:
    rows = conn.execute(select(schema.gov_proposals).order_by(P.created_at, P.proposal_id))
    return [_proposal(row) for row in rows]


def add_approval(conn: Connection, proposal_id: str, approval: Approval) -> None:
    try:
        with conn.begin_nested():
            conn.execute(
                insert(schema.gov_approvals).values(
                    proposal_id=proposal_id,
                    operator=approval.operator,
                    signature=approval.signature,
                    approved_at=approval.approved_at,
                )
            )
    except IntegrityError:
        raise DuplicateRecord(f"approval of {proposal_id} by {approval.operator}") from None


def approvals(conn: Connection, proposal_id: str) -> list[Approval]:
    rows = conn.execute(
        select(AP.operator, AP.signature, AP.approved_at)
        .where(AP.proposal_id == proposal_id)
        .order_by(AP.approved_at, AP.operator)
    )
    return [Approval(r.operator, bytes(r.signature), r.approved_at) for r in rows]


def mark_executed(conn: Connection, proposal_id: str, at: datetime, by: str) -> bool:
    """Set executed_at unless it is set: True for exactly one caller, ever."""
    result = conn.execute(
        update(schema.gov_proposals)
        .where(P.proposal_id == proposal_id, P.executed_at.is_(None))
        .values(executed_at=at, executed_by=by)
    )
    return bool(result.rowcount == 1)


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
