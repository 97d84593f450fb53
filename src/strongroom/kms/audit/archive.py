"""Retention: old events archived to signed files, then pruned from the database.

``strongroom audit archive --before T`` verifies the trail, writes the events from the current
start of the stored chain through the last flush boundary (signed head) older than ``T`` to a
records file (the stored canonical records, one per line, exactly as hashed) with a signed
manifest, then deletes those events, their index rows and signed heads in one transaction and
records a signed **anchor** in ``meta``: the seq and chain hash the remaining chain continues
from, and the manifest it was archived to. Verify starts the walk at the anchor; an archive is
verifiable alone (``audit verify --archive DIR``: audit/verify_archive.py). Formats:
docs/formats.md "Audit archives".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from strongroom.kms.audit.chain import GENESIS_HASH
from strongroom.kms.audit.digests import time_text, write_atomically
from strongroom.kms.audit.record import canonical_bytes
from strongroom.kms.audit.signing import SecretSealer, verify_signature
from strongroom.kms.audit.store import AuditChain
from strongroom.kms.storage.audit import ChainRow
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.meta import MetaRecords

ARCHIVE_VERSION = "strongroom-audit-archive/v1"
ANCHOR_VERSION = "strongroom-audit-anchor/v1"
ANCHOR_META = "audit_anchor"
PREFIX = "strongroom-audit-archive_"
MANIFEST_SUFFIX = ".manifest.json"


def signed_bytes(version: str, body: dict[str, Any]) -> bytes:
    return (
        version.encode()
        + b"|"
        + canonical_bytes({k: v for k, v in body.items() if k != "signature"})
    )


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where the stored chain starts after archiving: it continues from ``seq`` and ``hash``."""

    seq: int
    hash: bytes
    body: dict[str, Any]

    def signature_ok(self, keys: dict[str, bytes]) -> bool:
        public = keys.get(str(self.body.get("keyId")))
        try:
            signature = bytes.fromhex(str(self.body["signature"]))
        except (KeyError, ValueError):
            return False
        return public is not None and verify_signature(
            public, signed_bytes(ANCHOR_VERSION, self.body), signature
        )


def load_anchor(meta: MetaRecords) -> Anchor | None:
    raw = meta.get(ANCHOR_META)
    if raw is None:
        return None
    body = orjson.loads(raw)
    return Anchor(int(body["sequenceNumber"]), bytes.fromhex(body["chainHash"]), body)


@dataclass(frozen=True, slots=True)
class Archived:
    manifest: Path
    first_seq: int
    last_seq: int


class Archiver:
    def __init__(self, db: Database, store: SecretSealer, region: str, directory: Path) -> None:
        self._db = db
        self._chain = AuditChain(store, region)
        self._region = region
        self._dir = directory

    def archive_before(self, before: datetime, now: datetime) -> Archived | None:
        """Archive and prune the events up to the last flush boundary older than ``before``;
        None if there is none past the current start of the stored chain."""
        with self._db.read() as tx:
            anchor = load_anchor(tx.meta)
            start, prev_hash = (0, GENESIS_HASH) if anchor is None else (anchor.seq, anchor.hash)
            through = tx.audit.last_head_before(before)
            if through is None or through <= start:
                return None
            records = list(tx.audit.chain(start + 1, through))
        previous = None if anchor is None else str(anchor.body.get("archiveManifest"))
        manifest = self._write(records, start, prev_hash, previous, now)
        with self._db.transaction() as tx:
            current = load_anchor(tx.meta)
            if (current.seq if current else 0) != start:
                raise RuntimeError("another archive ran meanwhile; run it again")
            key = self._chain.signing_key(tx)
            tx.audit.prune(through)
            body: dict[str, Any] = {
                "anchorVersion": ANCHOR_VERSION,
                "sequenceNumber": through,
                "chainHash": records[-1].hash.hex(),
                "archiveManifest": manifest.name,
                "archiveManifestSha256": hashlib.sha256(manifest.read_bytes()).hexdigest(),
                "signedAt": time_text(now),
                "keyId": key.key_id,
            }
            body["signature"] = key.sign(signed_bytes(ANCHOR_VERSION, body)).hex()
            tx.meta.put(ANCHOR_META, orjson.dumps(body).decode())
        return Archived(manifest, start + 1, through)

    def _write(
        self,
        records: list[ChainRow],
        start: int,
        prev_hash: bytes,
        previous: str | None,
        now: datetime,
    ) -> Path:
        first, last = records[0].seq, records[-1].seq
        stem = f"{PREFIX}{self._region}_{first:012d}-{last:012d}"
        data = b"".join(row.record.encode() + b"\n" for row in records)
        write_atomically(self._dir / f"{stem}.jsonl", data)
        with self._db.transaction() as tx:
            key = self._chain.signing_key(tx)
        body: dict[str, Any] = {
            "archiveVersion": ARCHIVE_VERSION,
            "awsRegion": self._region,
            "firstSequenceNumber": start + 1,
            "lastSequenceNumber": last,
            "eventCount": len(records),
            "previousHash": prev_hash.hex(),
            "lastHash": records[-1].hash.hex(),
            "recordsFile": f"{stem}.jsonl",
            "recordsSha256": hashlib.sha256(data).hexdigest(),
            "oldestEventTime": time_text(records[0].event_time),
            "newestEventTime": time_text(records[-1].event_time),
            "previousArchive": previous,
            "createdAt": time_text(now),
            "publicKey": key.public_key.hex(),
            "publicKeyFingerprint": key.key_id,
            "signatureAlgorithm": "Ed25519",
        }
        body["signature"] = key.sign(signed_bytes(ARCHIVE_VERSION, body)).hex()
        manifest = self._dir / f"{stem}{MANIFEST_SUFFIX}"
        write_atomically(manifest, canonical_bytes(body) + b"\n")
        return manifest
