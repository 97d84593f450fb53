"""Console sessions: sealed, short-lived cookies bound to an access key.

A session is a token the server seals (AES-256-GCM) under a key that every worker shares (the
composition root derives it from a store secret sealed under the root key), so any worker can
open it and nothing is stored per session. It holds the access key id, its principal, the
times, and an HMAC of the access key's secret, never the secret: each request compares that
HMAC with the current secret's, so deleting or replacing the access key ends its sessions at
once. The CSRF token is an HMAC of the session id (a synchronizer token that needs no store).

Signing out records the session id through ``SessionRevocations`` (the database, read by
every worker and node) and clears the cookie: a copy of the cookie taken before stops working
everywhere (docs/security.md, "Console sessions").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.console.kms import SessionRevocations

VERSION = b"\x01"
AAD = b"strongroom-console-session-v1"
IDLE_SECONDS = 15 * 60
ABSOLUTE_SECONDS = 8 * 60 * 60
RENEW_AFTER_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    access_key_id: str
    account_id: str
    principal_arn: str
    issued_at: int
    seen_at: int
    secret_digest: bytes

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "sid": self.session_id,
                "akid": self.access_key_id,
                "acct": self.account_id,
                "arn": self.principal_arn,
                "iat": self.issued_at,
                "seen": self.seen_at,
                "dig": base64.b64encode(self.secret_digest).decode(),
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Session:
        data = orjson.loads(raw)
        return cls(
            str(data["sid"]),
            str(data["akid"]),
            str(data["acct"]),
            str(data["arn"]),
            int(data["iat"]),
            int(data["seen"]),
            base64.b64decode(data["dig"]),
        )


def _subkey(master: bytes, purpose: bytes) -> bytes:
    return hmac.new(master, b"strongroom-console/" + purpose, hashlib.sha256).digest()


class SessionCodec:
    """Issues, opens and renews session tokens; derives CSRF tokens and secret digests."""

    def __init__(
        self, master_key: bytes, now: Callable[[], float], revocations: SessionRevocations
    ) -> None:
        self._seal = AESGCM(_subkey(master_key, b"seal"))
        self._csrf_key = _subkey(master_key, b"csrf")
        self._digest_key = _subkey(master_key, b"secret-digest")
        self._now = now
        self._revocations = revocations

    def __repr__(self) -> str:
        return "SessionCodec(<keys redacted>)"

    def secret_digest(self, secret: bytes) -> bytes:
        return hmac.new(self._digest_key, secret, hashlib.sha256).digest()

    def issue(self, access_key_id: str, account_id: str, principal_arn: str, secret: bytes) -> str:
        now = int(self._now())
        session = Session(
            secrets.token_hex(16),
            access_key_id,
            account_id,
            principal_arn,
            now,
            now,
            self.secret_digest(secret),
        )
        return self.seal(session)

    def seal(self, session: Session) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._seal.encrypt(nonce, session.to_bytes(), AAD)
        return base64.urlsafe_b64encode(VERSION + nonce + sealed).decode().rstrip("=")

    def open(self, token: str) -> Session | None:
        """The live session in ``token``; None if forged, expired, idle too long or revoked."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            return None
        if len(raw) < 29 or raw[:1] != VERSION:
            return None
        try:
            session = Session.from_bytes(self._seal.decrypt(raw[1:13], raw[13:], AAD))
        except (InvalidTag, ValueError, KeyError, TypeError):
            return None
        now = self._now()
        if now - session.issued_at > ABSOLUTE_SECONDS or now - session.seen_at > IDLE_SECONDS:
            return None
        if self._revocations.is_revoked(session.session_id):
            return None
        return session

    def renewed(self, session: Session) -> str | None:
        """A fresh token for an active session, at most once a minute; else None."""
        now = int(self._now())
        if now - session.seen_at < RENEW_AFTER_SECONDS:
            return None
        return self.seal(
            Session(
                session.session_id,
                session.access_key_id,
                session.account_id,
                session.principal_arn,
                session.issued_at,
                now,
                session.secret_digest,
            )
        )

    def revoke(self, session: Session) -> None:
        """Sign ``session`` out on every worker; raises if that cannot be recorded."""
        self._revocations.revoke(session.session_id, session.issued_at + ABSOLUTE_SECONDS)

    def csrf_token(self, session: Session) -> str:
        mac = hmac.new(self._csrf_key, session.session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def csrf_valid(self, session: Session, token: str) -> bool:
        return hmac.compare_digest(self.csrf_token(session).encode(), token.encode())
