"""The trail checked against the signed digest files published outside the database.

``verify_chain`` proves the stored events, heads and indexes agree with one another; it cannot
see what was removed together with everything that vouched for it (the newest events with
their signed heads, or every table). The digests can: each names the chain head at its end,
is signed with the audit signing key, and names the previous digest (file, SHA-256,
signature), so a digest removed from the middle, an altered digest and a trail that ends
before the newest digest are all found.

What is checked, in this order: every digest is readable and its signature verifies; it was
signed by the trail's signing key (when the database still holds one); the digests form one
unbroken sequence (each names the one before and starts where it ended, the oldest names
none); and each digest's chain head is in the trail with that hash, unless the events it
covers were archived and pruned (then the archive anchor vouches for the boundary). The
newest digest can itself be removed undetected; the digest interval bounds what that hides.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import orjson

from strongroom.kms.audit.digests import DigestFile, list_digests
from strongroom.kms.audit.verify import Problem
from strongroom.kms.storage.audit import AuditRecords
from strongroom.kms.storage.database import Database


@dataclass(frozen=True, slots=True)
class DigestVerdict:
    digests: int
    archived: int
    newest: DigestFile | None
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.problem is not None:
            return self.problem.message
        if self.newest is None:
            return "no digest files"
        archived = f", {self.archived} covering archived events" if self.archived else ""
        return (
            f"{self.digests} digests agree with the trail{archived} (newest "
            f"{self.newest.name}, seq {self.newest.last_seq})"
        )


def verify_digests(
    db: Database,
    directory: Path,
    anchor: tuple[int, bytes] | None = None,
    archived: dict[int, bytes] | None = None,
) -> DigestVerdict:
    """``anchor``: (seq, hash) where the stored chain starts after archiving, if it was;
    ``archived``: the chain hash at archived sequence numbers (from the archives), if known."""
    try:
        digests = list_digests(directory)
    except (OSError, ValueError, orjson.JSONDecodeError, KeyError) as error:
        return DigestVerdict(0, 0, None, _problem(None, f"a digest file is unreadable: {error}"))
    if not digests:
        return DigestVerdict(
            0, 0, None, _problem(None, f"no digest files in {directory}; nothing to check")
        )
    with db.read() as tx:
        records = tx.audit
        keys = {row.key_id: row.public_key for row in records.signing_keys()}
        first, last = records.bounds()
        if anchor is not None and last == 0:  # everything archived: the chain ends there
            first, last = anchor[0] + 1, anchor[0]
        problem = _check_files(digests, keys) or _check_sequence(digests)
        boundary = _Boundary(first, last, anchor, archived or {})
        covered_by_archives = 0
        for digest in digests if problem is None else ():
            problem, was_archived = _check_against_trail(records, digest, boundary)
            covered_by_archives += was_archived
            if problem is not None:
                break
    return DigestVerdict(len(digests), covered_by_archives, digests[-1], problem)


@dataclass(frozen=True, slots=True)
class _Boundary:
    """What the stored trail holds: seq ``first``-``last``, continuing from ``anchor``."""

    first: int
    last: int
    anchor: tuple[int, bytes] | None
    archived: dict[int, bytes]


def _check_files(digests: list[DigestFile], keys: dict[str, bytes]) -> Problem | None:
    for digest in digests:
        if not digest.signature_ok():
            return _problem(
                digest.last_seq,
                f"digest {digest.name}: its signature does not verify; the file was altered",
            )
        fingerprint = digest.body.get("digestPublicKeyFingerprint")
        if keys and keys.get(str(fingerprint)) != bytes.fromhex(digest.body["digestPublicKey"]):
            return _problem(
                digest.last_seq,
                f"digest {digest.name}: signed by key {fingerprint}, which is not the trail's "
                "audit signing key",
            )
    return None


def _check_sequence(digests: list[DigestFile]) -> Problem | None:
    oldest = digests[0]
    if oldest.body.get("previousDigestFile") is not None:
        return _problem(
            oldest.first_seq,
            f"the oldest digest {oldest.name} names a previous digest "
            f"{oldest.body['previousDigestFile']}, which is not in the directory; older "
            "digests were removed",
        )
    for before, digest in itertools.pairwise(digests):
        body = digest.body
        if body.get("previousDigestFile") != before.name:
            return _problem(
                digest.first_seq,
                f"digest {digest.name} names previous digest {body.get('previousDigestFile')}, "
                f"but the digest before it is {before.name}; a digest was removed or added",
            )
        if body.get("previousDigestHash") != hashlib.sha256(before.raw).hexdigest() or body.get(
            "previousDigestSignature"
        ) != before.body.get("signature"):
            return _problem(
                digest.first_seq,
                f"digest {digest.name}: the previous digest {before.name} is not the file it "
                "named (hash or signature differ); it was replaced",
            )
        if digest.first_seq != before.last_seq + 1:
            return _problem(
                digest.first_seq,
                f"digest {digest.name} starts at seq {digest.first_seq} but {before.name} "
                f"ended at seq {before.last_seq}",
            )
    return None


def _check_against_trail(
    records: AuditRecords, digest: DigestFile, boundary: _Boundary
) -> tuple[Problem | None, int]:
    first, last, anchor, archived = (
        boundary.first,
        boundary.last,
        boundary.anchor,
        boundary.archived,
    )
    seq = digest.last_seq
    if seq > last:
        if last == 0:
            message = (
                f"the database holds no audit events, but digest {digest.name} covers the "
                f"chain up to seq {seq}: the trail was deleted"
            )
        else:
            message = (
                f"digest {digest.name} covers the chain up to seq {seq}, but the trail ends at "
                f"seq {last}: events after seq {last} were removed (truncation)"
            )
        return _problem(last + 1, message), 0
    if anchor is not None and seq <= anchor[0]:
        known = anchor[1] if seq == anchor[0] else archived.get(seq)
        if known is not None and digest.head_hash != known:
            return (
                _problem(
                    seq,
                    f"digest {digest.name}: the archived chain's hash at seq {seq} is not the "
                    "one the digest signed; the archive or the anchor was rewritten",
                ),
                0,
            )
        return None, 1
    stored = records.hash_at(seq) if seq >= first else None
    if stored != digest.head_hash:
        return (
            _problem(
                seq,
                f"digest {digest.name}: the trail's hash at seq {seq} is not the one the "
                "digest signed; the chain was rewritten up to there",
            ),
            0,
        )
    return None, 0


def _problem(seq: int | None, message: str) -> Problem:
    return Problem("digest", seq, message)
