"""The bytes an operator signs to sign in to the web console's operator pages.

    b"strongroom-console-operator-sign-in/v1\\n" + JSON(body, keys sorted, no white space)

with the body ``{"host", "issued", "nonce", "realm": {"region", "storeId"}}``. The
domain prefix differs from a proposal's (proposals.py), so a sign-in signature can never count
as an approval, nor an approval as a sign-in; the realm binds it to one deployment and the
host to the console that asked, the nonce to one sign-in form (the browser's sign-in cookie),
and ``issued`` limits it to a few minutes.
"""

from __future__ import annotations

import orjson

from strongroom.kms.governance.proposals import DOMAIN_PREFIX as PROPOSAL_PREFIX
from strongroom.kms.governance.proposals import Realm

SIGN_IN_PREFIX = b"strongroom-console-operator-sign-in/v1\n"
SIGNABLE = (PROPOSAL_PREFIX, SIGN_IN_PREFIX)


def sign_in_bytes(realm: Realm, host: str, nonce: str, issued: int) -> bytes:
    body = {
        "host": host,
        "issued": issued,
        "nonce": nonce,
        "realm": {"region": realm.region, "storeId": realm.store_id},
    }
    return SIGN_IN_PREFIX + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def describe(message: bytes) -> str | None:
    """What a message asks its signer to agree to, in words; None if it is neither a proposal
    nor a console sign-in (a signer should then refuse: it could be anything)."""
    for prefix in SIGNABLE:
        if message.startswith(prefix):
            try:
                body = orjson.loads(message[len(prefix) :])
            except orjson.JSONDecodeError:
                return None
            if not isinstance(body, dict):
                return None
            if prefix == SIGN_IN_PREFIX:
                return (
                    f"a web console sign-in at {body.get('host')} "
                    f"(realm {orjson.dumps(body.get('realm')).decode()})"
                )
            return (
                f"proposal {body.get('id')}: {body.get('action')} "
                f"{orjson.dumps(body.get('parameters')).decode()}, proposed by "
                f"{body.get('proposer')} because {body.get('justification')!r}, "
                f"expires {body.get('expires')}, threshold {body.get('threshold')}"
            )
    return None
