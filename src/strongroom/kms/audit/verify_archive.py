"""Archived segments of the trail, checked on their own (no database needed).

Each archive is a records file (the canonical records, one per line, exactly as they were
hashed) and a signed manifest (audit/archive.py). Verify recomputes the chain through every
record from the manifest's ``previousHash`` and requires ``lastHash``; checks the records
file's SHA-256, every record's sequence number, the manifest's signature, and that the archives
form one sequence from seq 1 (each starts where the previous ended, from its last hash, and
names it), all signed by one key. With a data directory, the caller also ties the newest
archive to the database's anchor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from strongroom.kms.audit.archive import ARCHIVE_VERSION, MANIFEST_SUFFIX, PREFIX, signed_bytes
from strongroom.kms.audit.chain import GENESIS_HASH, link_hash
from strongroom.kms.audit.signing import key_id_of, verify_signature
from strongroom.kms.audit.verify import Problem


@dataclass(slots=True)
class ArchiveVerdict:
    archives: int = 0
    last_seq: int = 0
    last_hash: bytes = GENESIS_HASH
    newest_manifest: Path | None = None
    public_key: bytes | None = None
    problem: Problem | None = None
    # The chain hash at the sequence numbers asked for (digests that cover archived events).
    hashes: dict[int, bytes] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.problem is not None:
            return self.problem.message
        return f"{self.archives} archives intact, seq 1-{self.last_seq}"


def verify_archives(directory: Path, wanted: Iterable[int] = ()) -> ArchiveVerdict:
    verdict = ArchiveVerdict()
    wanted_seqs = set(wanted)
    try:
        manifests = [_read(p) for p in directory.rglob(f"{PREFIX}*{MANIFEST_SUFFIX}")]
    except (OSError, ValueError) as error:
        verdict.problem = _problem(None, f"an archive manifest is unreadable: {error}")
        return verdict
    if not manifests:
        verdict.problem = _problem(None, f"no audit archives in {directory}")
        return verdict
    previous: str | None = None
    for path, body in sorted(manifests, key=lambda m: int(m[1]["firstSequenceNumber"])):
        problem = _check_manifest(path, body, verdict, previous) or _check_records(
            path, body, verdict, wanted_seqs
        )
        if problem is not None:
            verdict.problem = problem
            return verdict
        verdict.archives += 1
        verdict.newest_manifest = path
        previous = path.name
    return verdict


def _read(path: Path) -> tuple[Path, dict[str, Any]]:
    body = orjson.loads(path.read_bytes())
    if not isinstance(body, dict) or body.get("archiveVersion") != ARCHIVE_VERSION:
        raise ValueError(f"{path.name} is not a {ARCHIVE_VERSION} manifest")
    return path, body


def _check_manifest(
    path: Path, body: dict[str, Any], verdict: ArchiveVerdict, previous: str | None
) -> Problem | None:
    try:
        public = bytes.fromhex(str(body["publicKey"]))
        signature = bytes.fromhex(str(body["signature"]))
    except (KeyError, ValueError):
        public, signature = b"", b""
    if key_id_of(public) != body.get("publicKeyFingerprint") or not verify_signature(
        public, signed_bytes(ARCHIVE_VERSION, body), signature
    ):
        return _problem(None, f"archive {path.name}: its signature does not verify; altered")
    if verdict.public_key is not None and public != verdict.public_key:
        return _problem(
            None, f"archive {path.name}: signed by another key than the archives before"
        )
    verdict.public_key = public
    first = int(body["firstSequenceNumber"])
    if first != verdict.last_seq + 1 or body.get("previousHash") != verdict.last_hash.hex():
        return _problem(
            first,
            f"archive {path.name} starts at seq {first}, but the archives before it end at seq "
            f"{verdict.last_seq} (or with another hash); an archive is missing",
        )
    if body.get("previousArchive") != previous:
        return _problem(
            first, f"archive {path.name} names previous archive {body.get('previousArchive')}"
        )
    return None


def _check_records(
    path: Path, body: dict[str, Any], verdict: ArchiveVerdict, wanted: set[int]
) -> Problem | None:
    records = path.with_name(str(body["recordsFile"]))
    try:
        data = records.read_bytes()
    except OSError:
        return _problem(None, f"archive {path.name}: its records file {records.name} is missing")
    if hashlib.sha256(data).hexdigest() != body.get("recordsSha256"):
        return _problem(None, f"archive {path.name}: {records.name} was altered (SHA-256 differs)")
    seq, prev = verdict.last_seq, verdict.last_hash
    for line in data.splitlines():
        seq += 1
        claimed = orjson.loads(line).get("sequenceNumber")
        if claimed != seq:
            return _problem(seq, f"archive {path.name}: seq {seq} carries number {claimed}")
        prev = link_hash(prev, line)
        if seq in wanted:
            verdict.hashes[seq] = prev
    if seq != int(body["lastSequenceNumber"]) or prev.hex() != body.get("lastHash"):
        return _problem(seq, f"archive {path.name}: its records do not hash to its lastHash")
    verdict.last_seq, verdict.last_hash = seq, prev
    return None


def _problem(seq: int | None, message: str) -> Problem:
    return Problem("archive", seq, message)
