"""The canonical bytes operators sign."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson

from strongroom.kms.domain.governance import Proposal
from strongroom.kms.governance.proposals import DOMAIN_PREFIX, Realm, canonical_bytes

CREATED = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
PROPOSAL = Proposal(
    proposal_id="gp-1",
    proposer="ann",
    action="provider-decrypt",
    parameters={"reasonCode": "LEGAL_ORDER", "keyId": "arn:k", "ciphertexts": ["AQ=="]},
    justification="court order 17",
    created_at=CREATED,
    expires_at=CREATED + timedelta(hours=24),
    nonce="00ff",
)
REALM = Realm("store-1", "eu-west-1")


def test_the_encoding_is_the_documented_one() -> None:
    data = canonical_bytes(PROPOSAL, REALM, 2)
    assert data.startswith(b"strongroom-governance-proposal/v1\n")
    assert data == DOMAIN_PREFIX + (
        b'{"action":"provider-decrypt","created":"2026-01-31T12:00:00.000000Z",'
        b'"expires":"2026-02-01T12:00:00.000000Z","id":"gp-1",'
        b'"justification":"court order 17","nonce":"00ff",'
        b'"parameters":{"ciphertexts":["AQ=="],"keyId":"arn:k","reasonCode":"LEGAL_ORDER"},'
        b'"proposer":"ann","realm":{"region":"eu-west-1","storeId":"store-1"},"threshold":2}'
    )
    assert orjson.loads(data[len(DOMAIN_PREFIX) :])["threshold"] == 2


def test_every_field_the_realm_and_the_threshold_change_the_bytes() -> None:
    base = canonical_bytes(PROPOSAL, REALM, 2)
    variants = [
        canonical_bytes(replace(PROPOSAL, parameters={"keyId": "arn:other"}), REALM, 2),
        canonical_bytes(replace(PROPOSAL, justification="other"), REALM, 2),
        canonical_bytes(replace(PROPOSAL, nonce="01"), REALM, 2),
        canonical_bytes(replace(PROPOSAL, expires_at=CREATED), REALM, 2),
        canonical_bytes(replace(PROPOSAL, proposer="bob"), REALM, 2),
        canonical_bytes(PROPOSAL, Realm("store-2", "eu-west-1"), 2),
        canonical_bytes(PROPOSAL, Realm("store-1", "us-east-1"), 2),
        canonical_bytes(PROPOSAL, REALM, 3),
    ]
    assert len({base, *variants}) == len(variants) + 1
