"""The web console's wiring: what the composition root hands the console (``strongroom.console``).

The console reaches the KMS only through the objects made here: the in-process KMS
(``in_process.py``: the HTTP request decoder, the request quotas, the pipeline), the
authenticator over the credential cache, the audit gate, the session key (a store secret
shared by every worker), the signed-out sessions (``console_sessions.py``) and, for the
operator pages, the quorum service that ``strongroom operator`` uses (``console_operators.py``).
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from strongroom.client.kms import AuditGate
from strongroom.console.app import Console
from strongroom.console.kms import Authenticator
from strongroom.kms.api.console_operators import QuorumDesk
from strongroom.kms.api.console_sessions import SignedOutSessions
from strongroom.kms.api.console_sign_ins import SignInTrail
from strongroom.kms.api.in_process import InProcessKms
from strongroom.kms.audit.store import AuditChain
from strongroom.kms.domain.policy_templates import separation_of_duties_policy
from strongroom.kms.governance.quorum import Quorum

if TYPE_CHECKING:
    from strongroom.kms.app import DataDir

CONSOLE_SESSION_KEY = "console-session-key"


def web_console(
    data_dir: DataDir, authenticator: Authenticator, kms: InProcessKms, audit: AuditGate
) -> Console:
    """The console at /console/ over this in-process KMS, with `strongroom key create`'s
    separation-of-duties policy template for new keys. Sessions are sealed under the store's
    secret ``console-session-key`` (sealed under the root key; shared by every worker).
    ``audit``: holds each page until its calls' audit events are committed (before-response)."""
    from strongroom.kms.app import store_secret

    db, store, clock = data_dir.db, data_dir.store, data_dir.clock
    session_key = store_secret(db, store.store_id, store.root, CONSOLE_SESSION_KEY).reveal()
    env = data_dir.governance_env()
    chain = AuditChain(store, data_dir.settings.region, clock.now)
    quorum = Quorum(env, chain, clock)
    draft_key = hmac.new(session_key, b"strongroom-console/operator-drafts", "sha256").digest()
    return Console(
        authenticator,
        kms,
        session_key,
        lambda: clock.now().timestamp(),
        _policy_template,
        audit=audit,
        revocations=SignedOutSessions(db, clock.now, data_dir.settings.cache_poll_seconds),
        operators=QuorumDesk(quorum, db, env.realm, draft_key, chain=chain, now=clock.now),
        sign_ins=SignInTrail(db, chain, clock.now),
    )


def _policy_template(
    account_id: str, administrators: list[str], users: list[str], strict: bool
) -> str:
    return separation_of_duties_policy(account_id, administrators, users, strict=strict)
