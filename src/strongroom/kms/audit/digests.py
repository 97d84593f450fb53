"""Signed digest files: the chain's head anchored outside the database, like CloudTrail's.

Every ``audit_digest_seconds`` (when the chain moved) a worker writes one digest file into the
operator's directory: the range of sequence numbers since the previous digest, the chain head
(seq and hash) at the end of it, the event times, and the name, SHA-256 and signature of the
previous digest, signed with the audit signing key (Ed25519, audit/signing.py). Someone who
can write the database but not that directory cannot remove the newest events, drop the
tables or rewrite the chain without ``strongroom audit verify --digests`` seeing it
(audit/verify_digests.py). Format: docs/formats.md "Audit digest files".

Workers of one host cooperate through a lock file in the directory; the newest digest's name
is kept in ``LATEST`` so no worker lists the directory.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from strongroom.kms.audit.record import canonical_bytes
from strongroom.kms.audit.signing import key_id_of, verify_signature
from strongroom.kms.audit.store import AuditChain, event_times, head_of
from strongroom.kms.storage.database import Database

DIGEST_VERSION = "strongroom-audit-digest/v1"
_CONTEXT = DIGEST_VERSION.encode() + b"|"
PREFIX = "strongroom-audit-digest_"
LATEST = "LATEST"
_LOCK = ".lock"


def signed_bytes(body: dict[str, Any]) -> bytes:
    """What a digest's signature covers: the context and the canonical JSON without it."""
    return _CONTEXT + canonical_bytes({k: v for k, v in body.items() if k != "signature"})


def time_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class DigestFile:
    path: Path
    raw: bytes
    body: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def first_seq(self) -> int:
        return int(self.body["firstSequenceNumber"])

    @property
    def last_seq(self) -> int:
        return int(self.body["lastSequenceNumber"])

    @property
    def head_hash(self) -> bytes:
        return bytes.fromhex(str(self.body["chainHeadHash"]))

    def signature_ok(self) -> bool:
        try:
            public = bytes.fromhex(str(self.body["digestPublicKey"]))
            signature = bytes.fromhex(str(self.body["signature"]))
        except (KeyError, ValueError):
            return False
        if key_id_of(public) != self.body.get("digestPublicKeyFingerprint"):
            return False
        return verify_signature(public, signed_bytes(self.body), signature)

    @classmethod
    def read(cls, path: Path) -> DigestFile:
        raw = path.read_bytes()
        body = orjson.loads(raw)
        if not isinstance(body, dict) or body.get("digestVersion") != DIGEST_VERSION:
            raise ValueError(f"{path.name} is not a {DIGEST_VERSION} file")
        return cls(path, raw, body)


class DigestPublisher:
    def __init__(
        self,
        db: Database,
        chain: AuditChain,
        directory: Path,
        region: str,
        *,
        interval_seconds: float,
        now: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._chain = chain
        self._dir = directory
        self._region = region
        self._interval = timedelta(seconds=interval_seconds)
        self._now = now

    def publish_due(self, *, force: bool = False) -> Path | None:
        """Write the next digest if the interval has passed (or ``force``) and the chain
        moved since the newest one; return its path, or None."""
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self._dir / _LOCK).open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if force else fcntl.LOCK_NB))
            except BlockingIOError:
                return None  # another worker is publishing
            return self._publish_locked(force)

    def _publish_locked(self, force: bool) -> Path | None:
        previous = self._latest()
        now = self._now()
        if previous is not None and not force:
            end = datetime.fromisoformat(str(previous.body["digestEndTime"]))
            if now - end < self._interval:
                return None
        # A read: one snapshot, no writer lock. In a write transaction the digest held the
        # lock every worker's audit writer needs, and every response waited behind it.
        with self._db.read() as tx:
            head_seq, head_hash = head_of(tx)
            first = previous.last_seq + 1 if previous is not None else 1
            if previous is not None and head_seq == previous.last_seq:
                return None
            if previous is None and head_seq == 0:
                return None
            oldest, newest = event_times(tx, first, head_seq)
            key = self._chain.signing_key(tx)
        body: dict[str, Any] = {
            "digestVersion": DIGEST_VERSION,
            "awsRegion": self._region,
            "digestStartTime": None if previous is None else previous.body["digestEndTime"],
            "digestEndTime": time_text(now),
            "firstSequenceNumber": first,
            "lastSequenceNumber": head_seq,
            "chainHeadHash": head_hash.hex(),
            "oldestEventTime": oldest,
            "newestEventTime": newest,
            "previousDigestFile": None if previous is None else previous.name,
            "previousDigestHash": (
                None if previous is None else hashlib.sha256(previous.raw).hexdigest()
            ),
            "previousDigestSignature": None if previous is None else previous.body["signature"],
            "digestPublicKey": key.public_key.hex(),
            "digestPublicKeyFingerprint": key.key_id,
            "digestSignatureAlgorithm": "Ed25519",
        }
        body["signature"] = key.sign(signed_bytes(body)).hex()
        name = f"{PREFIX}{self._region}_{now.astimezone(UTC):%Y%m%dT%H%M%SZ}_{head_seq:012d}.json"
        folder = self._dir / f"{now.astimezone(UTC):%Y/%m/%d}"
        path = folder / name
        write_atomically(path, canonical_bytes(body) + b"\n")
        write_atomically(self._dir / LATEST, str(path.relative_to(self._dir)).encode())
        return path

    def _latest(self) -> DigestFile | None:
        pointer = self._dir / LATEST
        if pointer.exists():
            candidate = self._dir / pointer.read_text().strip()
            if candidate.is_file():
                return DigestFile.read(candidate)
        found = list_digests(self._dir)
        return found[-1] if found else None


def list_digests(directory: Path) -> list[DigestFile]:
    """Every digest file under ``directory``, oldest chain position first."""
    files = [DigestFile.read(p) for p in directory.rglob(f"{PREFIX}*.json")]
    return sorted(files, key=lambda d: (d.last_seq, str(d.body.get("digestEndTime")), d.name))


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
