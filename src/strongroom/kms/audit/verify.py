"""Checks the stored audit trail and names the first thing that is wrong, by sequence number.

What each check catches (events are flushed with a signed head per flush, so in an intact
trail every event is covered by a signed head at or after it):

- a missing sequence number: an event was removed;
- an event whose ``prev_hash`` is not the hash of the one before: the chain breaks there
  (an event inserted, removed and renumbered, or reordered);
- an event whose hash is not ``SHA-256(prev_hash || record)``: the event was altered;
- a record whose ``sequenceNumber`` is not its position: renumbered;
- a signed head whose signature fails, or whose hash is not the chain's at its seq: the chain
  was rewritten (hashes recomputed) up to there;
- a signed head beyond the chain's end: truncation;
- events after the last signed head: appended outside a flush;
- a signing key whose sealed private key does not unseal to its public key: a swapped key;
- a derived column (account_id, event_time) or index row (audit_event_accounts,
  audit_named_events) that differs from what the hashed record says (verify_index.py).

Removing the newest events together with their signed heads cannot be detected from the
database alone; keeping a copy of the latest signed head elsewhere closes that gap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson

from strongroom.kms.audit.archive import Anchor, load_anchor
from strongroom.kms.audit.chain import GENESIS_HASH, head_message, link_hash
from strongroom.kms.audit.signing import AuditSigningKey, SecretSealer, verify_signature
from strongroom.kms.audit.verify_index import Finding, IndexCheck, check_columns
from strongroom.kms.errors import KmsError
from strongroom.kms.storage.audit import AuditRecords, ChainRow, SignedHead
from strongroom.kms.storage.database import Database

_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    seq: int | None
    message: str


@dataclass(frozen=True, slots=True)
class Verdict:
    events: int
    last_signed_head: int | None
    problem: Problem | None
    # The events through this seq were archived and pruned (audit/archive.py).
    archived_through: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.problem is not None:
            return self.problem.message
        head = (
            "no signed head yet"
            if self.last_signed_head is None
            else f"last signed head at seq {self.last_signed_head}"
        )
        archived = (
            "" if self.archived_through is None else f" (seq 1-{self.archived_through} archived)"
        )
        return f"{self.events} events, chain intact{archived}, {head}"


class _Found(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def verify_chain(db: Database, store: SecretSealer) -> Verdict:
    with db.read() as tx:
        missing = tx.audit.missing_tables()
        if missing:
            return Verdict(0, None, Problem("tables", None, _missing(missing)))
        try:
            anchor = load_anchor(tx.meta)
        except (ValueError, KeyError, TypeError):
            return Verdict(0, None, Problem("anchor", None, _BAD_ANCHOR))
        walk = _Walk(tx.audit, store, anchor)
        archived = None if anchor is None else anchor.seq
        try:
            walk.run()
        except _Found as found:
            return Verdict(walk.events, walk.last_head, found.problem, archived)
    return Verdict(walk.events, walk.last_head, None, archived)


def _missing(tables: list[str]) -> str:
    return (
        f"the audit table{'s' if len(tables) > 1 else ''} {', '.join(tables)} "
        f"{'are' if len(tables) > 1 else 'is'} missing from the database: the trail was removed"
    )


_BAD_ANCHOR = "the archive anchor (meta audit_anchor) is unreadable; it was altered"


class _Walk:
    def __init__(self, records: AuditRecords, store: SecretSealer, anchor: Anchor | None) -> None:
        self.records = records
        self.store = store
        self.anchor = anchor
        self.events = 0
        # An archive anchor is signed too: the stored chain continues from it.
        self.last_head: int | None = None if anchor is None else anchor.seq

    def run(self) -> None:
        keys = self._check_keys()
        heads = self._heads()
        head = next(heads, None)
        index = IndexCheck(self.records.account_index(), self.records.name_index())
        expected, prev = 1, GENESIS_HASH
        if self.anchor is not None:
            if not self.anchor.signature_ok(keys):
                _fail(
                    "anchor",
                    self.anchor.seq,
                    f"the archive anchor at seq {self.anchor.seq} is not signed by the audit "
                    "signing key; it was altered or forged",
                )
            expected, prev = self.anchor.seq + 1, self.anchor.hash
        for row in self.records.chain():
            seq = int(row.seq)
            if seq != expected:
                _fail(
                    "gap",
                    expected,
                    f"seq {expected}: missing (seq {expected - 1} is followed by seq {seq}); "
                    "an event was removed",
                )
            record = self._check_event(seq, row, prev)
            _raise(check_columns(seq, row.account_id, row.event_time, record))
            _raise(index.check(seq, record))
            prev = bytes(row.hash)
            self.events += 1
            expected += 1
            while head is not None and int(head.seq) <= seq:
                self._check_head(head, seq, prev, keys)
                head = next(heads, None)
        last = expected - 1
        _raise(index.finish())
        if head is not None:
            _fail(
                "truncated",
                last + 1,
                f"the chain ends at seq {last} but a signed head covers seq {int(head.seq)}: "
                f"events after seq {last} were removed (truncation)",
            )
        if last > (self.last_head or 0):
            first_unsigned = (self.last_head or 0) + 1
            _fail(
                "unsigned",
                first_unsigned,
                f"seq {first_unsigned}: after the last signed head "
                f"({_seq_text(self.last_head)}) and covered by no signature; "
                "an event was inserted outside a flush",
            )
        self._check_head_row(last, prev)

    def _heads(self) -> Iterator[SignedHead]:
        return self.records.signed_heads()

    def _check_keys(self) -> dict[str, bytes]:
        keys: dict[str, bytes] = {}
        for row in self.records.signing_keys():
            try:
                unsealed = AuditSigningKey.unseal(self.store, row.key_id, row.sealed_private_key)
            except (KmsError, ValueError):
                unsealed = None
            if unsealed is None or unsealed.public_key != bytes(row.public_key):
                _fail(
                    "signing-key",
                    None,
                    f"audit signing key {row.key_id}: its sealed private key does not belong to "
                    "the stored public key (replaced or altered)",
                )
            keys[row.key_id] = bytes(row.public_key)
        return keys

    def _check_event(self, seq: int, row: ChainRow, prev: bytes) -> dict[str, Any]:
        record = str(row.record).encode()
        if bytes(row.prev_hash) != prev:
            _fail(
                "chain-break",
                seq,
                f"seq {seq}: the hash chain breaks (its previous hash is not the hash of seq "
                f"{seq - 1}); an event was inserted, removed or reordered here",
            )
        if link_hash(prev, record) != bytes(row.hash):
            _fail("altered", seq, f"seq {seq}: hash mismatch; the event was altered")
        try:
            parsed = orjson.loads(record)
        except orjson.JSONDecodeError:
            parsed = None
        claimed = parsed.get("sequenceNumber") if isinstance(parsed, dict) else None
        if claimed != seq or not isinstance(parsed, dict):
            _fail(
                "renumbered",
                seq,
                f"seq {seq}: the record carries sequence number {claimed}; events were "
                "renumbered or reordered",
            )
        return parsed

    def _check_head(
        self, head: SignedHead, seq: int, chain_hash: bytes, keys: dict[str, bytes]
    ) -> None:
        head_seq, head_hash = int(head.seq), bytes(head.hash)
        public = keys.get(head.key_id)
        if public is None:
            _fail(
                "bad-signature",
                head_seq,
                f"signed head at seq {head_seq}: signed by unknown key {head.key_id}",
            )
        message = head_message(head_seq, head_hash, head.signed_at)
        if not verify_signature(public, message, bytes(head.signature)):
            _fail(
                "bad-signature",
                head_seq,
                f"signed head at seq {head_seq}: the signature does not verify",
            )
        if head_seq != seq or head_hash != chain_hash:
            _fail(
                "head-mismatch",
                head_seq,
                f"signed head at seq {head_seq}: does not match the chain; the chain was "
                f"rewritten after {_seq_text(self.last_head, 'its start')} and at or "
                f"before seq {head_seq}",
            )
        self.last_head = head_seq

    def _check_head_row(self, last: int, last_hash: bytes) -> None:
        row = self.records.head()
        if row is None:
            if last:
                _fail("head-row", None, "the chain head record is missing")
            return
        seq, hash_ = row
        if seq != last or hash_ != last_hash:
            _fail(
                "head-row",
                seq,
                f"the chain head record (seq {seq}) does not match the chain's end (seq {last})",
            )


def _seq_text(seq: int | None, none: str = "none") -> str:
    return none if seq is None else f"seq {seq}"


def _raise(finding: Finding | None) -> None:
    if finding is not None:
        _fail(*finding)


def _fail(kind: str, seq: int | None, message: str) -> NoReturn:
    raise _Found(Problem(kind, seq, message))
