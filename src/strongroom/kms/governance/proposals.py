"""Proposals of privileged acts and their canonical bytes, the message operators sign.

The encoding is specified in docs/formats.md ("Governance proposals"). In short::

    b"strongroom-governance-proposal/v1\\n" + JSON(body, keys sorted, no white space, UTF-8)

where the body holds every field of the proposal, the identity of the deployment (default key
store id and region: a signature for one data directory is worthless in another) and the
threshold M in force (a signature given under one M does not count under another).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from strongroom.kms.domain.governance import Proposal

DOMAIN_PREFIX = b"strongroom-governance-proposal/v1\n"


@dataclass(frozen=True, slots=True)
class Realm:
    """What binds a signature to one deployment: its default store id and its region."""

    store_id: str
    region: str


def timestamp(value: datetime) -> str:
    """UTC, microseconds, ``Z``: 2026-01-31T12:00:00.000000Z."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def canonical_bytes(proposal: Proposal, realm: Realm, threshold: int) -> bytes:
    body = {
        "action": proposal.action,
        "created": timestamp(proposal.created_at),
        "expires": timestamp(proposal.expires_at),
        "id": proposal.proposal_id,
        "justification": proposal.justification,
        "nonce": proposal.nonce,
        "parameters": dict(proposal.parameters),
        "proposer": proposal.proposer,
        "realm": {"region": realm.region, "storeId": realm.store_id},
        "threshold": threshold,
    }
    return DOMAIN_PREFIX + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
