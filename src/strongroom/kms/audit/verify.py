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
- a signing key whose sealed private key does not unseal to its public key: a swapped key.

Removing the newest events together with their signed heads cannot be detected from the
database alone; keeping a copy of the latest signed head elsewhere closes that gap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson
from sqlalchemy import Connection, select

from strongroom.kms.audit.chain import GENESIS_HASH, head_message, link_hash
from strongroom.kms.audit.signing import AuditSigningKey, SecretSealer, verify_signature
from strongroom.kms.errors import KmsError
from strongroom.kms.storage import schema
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
        return f"{self.events} events, chain intact, {head}"


class _Found(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def verify_chain(db: Database, store: SecretSealer) -> Verdict:
    with db.read() as tx:
        walk = _Walk(tx.audit.connection, store)
        try:
            walk.run()
        except _Found as found:
            return Verdict(walk.events, walk.last_head, found.problem)
    return Verdict(walk.events, walk.last_head, None)


class _Walk:
    def __init__(self, conn: Connection, store: SecretSealer) -> None:
        self.conn = conn
        self.store = store
        self.events = 0
        self.last_head: int | None = None

    def run(self) -> None:
        keys = self._check_keys()
        heads = self._heads()
        head = next(heads, None)
        expected, prev = 1, GENESIS_HASH
        for row in self._rows():
            seq = int(row.seq)
            if seq != expected:
                _fail(
                    "gap",
                    expected,
                    f"seq {expected}: missing (seq {expected - 1} is followed by seq {seq}); "
                    "an event was removed",
                )
            self._check_event(seq, row, prev)
            prev = bytes(row.hash)
            self.events += 1
            expected += 1
            while head is not None and int(head.seq) <= seq:
                self._check_head(head, seq, prev, keys)
                head = next(heads, None)
        last = expected - 1
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

    def _rows(self) -> Iterator[Any]:
        e = schema.audit_events.c
        result = self.conn.execute(
            select(e.seq, e.record, e.prev_hash, e.hash).order_by(e.seq)
        ).yield_per(_BATCH)
        yield from result

    def _heads(self) -> Iterator[Any]:
        h = schema.audit_signed_heads.c
        result = self.conn.execute(
            select(h.seq, h.hash, h.signed_at, h.key_id, h.signature).order_by(h.seq)
        ).yield_per(_BATCH)
        yield from result

    def _check_keys(self) -> dict[str, bytes]:
        k = schema.audit_signing_keys.c
        keys: dict[str, bytes] = {}
        for row in self.conn.execute(select(k.key_id, k.public_key, k.sealed_private_key)):
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

    def _check_event(self, seq: int, row: Any, prev: bytes) -> None:
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
            claimed = orjson.loads(record).get("sequenceNumber")
        except (orjson.JSONDecodeError, AttributeError):
            claimed = None
        if claimed != seq:
            _fail(
                "renumbered",
                seq,
                f"seq {seq}: the record carries sequence number {claimed}; events were "
                "renumbered or reordered",
            )

    def _check_head(self, head: Any, seq: int, chain_hash: bytes, keys: dict[str, bytes]) -> None:
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
        h = schema.audit_chain_head.c
        row = self.conn.execute(select(h.seq, h.hash)).first()
        if row is None:
            if last:
                _fail("head-row", None, "the chain head record is missing")
            return
        if int(row.seq) != last or bytes(row.hash) != last_hash:
            _fail(
                "head-row",
                int(row.seq),
                f"the chain head record (seq {int(row.seq)}) does not match the chain's end "
                f"(seq {last})",
            )


def _seq_text(seq: int | None, none: str = "none") -> str:
    return none if seq is None else f"seq {seq}"


def _fail(kind: str, seq: int | None, message: str) -> NoReturn:
    raise _Found(Problem(kind, seq, message))
