"""Tampering with the stored trail, straight in the SQLite file, is detected where it happened.

The trail: events 1..10 written by flushes of 3, 3, 3 and 1, so signed heads sit at seqs 3, 6, 9
and 10.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from strongroom.kms.audit.chain import GENESIS_HASH, head_message, link_hash
from strongroom.kms.audit.record import canonical_bytes, to_record
from strongroom.kms.audit.verify import Verdict, verify_chain
from strongroom.kms.audit.writer import ChainedAuditLog
from strongroom.kms.keystores.software import SoftwareKeyStore
from strongroom.kms.storage.database import Database
from tests.unit.kms.audit.helpers import REGION, db_path, event, new_store, open_db

Tamper = Callable[[sqlite3.Connection], object]


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[tuple[Database, SoftwareKeyStore, Path]]:
    db, store = open_db(tmp_path), new_store()
    sink = ChainedAuditLog(db, store, REGION)
    for batch in ((1, 2, 3), (4, 5, 6), (7, 8, 9), (10,)):
        for n in batch:
            sink.record(event(n, operation="Decrypt" if n % 2 else "Encrypt"))
        sink.flush()
    yield db, store, db_path(tmp_path)
    db.engine.dispose()


def tampered(trail: tuple[Database, SoftwareKeyStore, Path], tamper: Tamper) -> Verdict:
    db, store, path = trail
    assert verify_chain(db, store).ok
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        tamper(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()
    verdict = verify_chain(db, store)
    assert not verdict.ok
    return verdict


def hash_of(conn: sqlite3.Connection, seq: int) -> bytes:
    return bytes(conn.execute("SELECT hash FROM audit_events WHERE seq = ?", (seq,)).fetchone()[0])


def rehash_from(conn: sqlite3.Connection, seq: int) -> None:
    """What an attacker without the signing key can do: recompute every hash from ``seq`` on."""
    prev = hash_of(conn, seq - 1) if seq > 1 else GENESIS_HASH
    rows = conn.execute("SELECT seq, record FROM audit_events WHERE seq >= ? ORDER BY seq", (seq,))
    for n, record in rows.fetchall():
        digest = link_hash(prev, record.encode())
        conn.execute(
            "UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, n)
        )
        prev = digest
    conn.execute("UPDATE audit_chain_head SET hash = ?", (prev,))


def forged_record(seq: int) -> str:
    return canonical_bytes(to_record(event(99, operation="CreateKey"), seq, REGION)).decode()


def test_an_intact_trail_verifies(trail: tuple[Database, SoftwareKeyStore, Path]) -> None:
    db, store, _ = trail
    verdict = verify_chain(db, store)
    assert verdict.ok
    assert verdict.summary() == "10 events, chain intact, last signed head at seq 10"


def test_an_altered_event(trail: tuple[Database, SoftwareKeyStore, Path]) -> None:
    def tamper(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE audit_events SET record = replace(record, 'Decrypt', 'GenerateRandom') "
            "WHERE seq = 5"
        )

    verdict = tampered(trail, tamper)
    assert verdict.problem is not None
    assert (verdict.problem.kind, verdict.problem.seq) == ("altered", 5)
    assert verdict.summary() == "seq 5: hash mismatch; the event was altered"


def test_an_altered_event_with_its_hash_recomputed(
    trail: tuple[Database, SoftwareKeyStore, Path],
) -> None:
    def tamper(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE audit_events SET record = replace(record, '192.0.2.7', '10.0.0.1') "
            "WHERE seq = 8"
        )
        rehash_from(conn, 8)

    problem = tampered(trail, tamper).problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("head-mismatch", 9)
    assert "rewritten after seq 6 and at or before seq 9" in problem.message


def test_a_removed_event(trail: tuple[Database, SoftwareKeyStore, Path]) -> None:
    problem = tampered(trail, lambda c: c.execute("DELETE FROM audit_events WHERE seq = 4")).problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("gap", 4)
    assert problem.message.startswith("seq 4: missing (seq 3 is followed by seq 5)")


def test_the_first_event_removed(trail: tuple[Database, SoftwareKeyStore, Path]) -> None:
    problem = tampered(trail, lambda c: c.execute("DELETE FROM audit_events WHERE seq = 1")).problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("gap", 1)


def test_a_removed_event_with_the_rest_renumbered_and_rehashed(
    trail: tuple[Database, SoftwareKeyStore, Path],
) -> None:
    def tamper(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM audit_events WHERE seq = 2")
        for n in range(3, 11):
            record = orjson.loads(
                conn.execute("SELECT record FROM audit_events WHERE seq = ?", (n,)).fetchone()[0]
            )
            record["sequenceNumber"] = n - 1
            conn.execute(
                "UPDATE audit_events SET seq = ?, record = ? WHERE seq = ?",
                (n - 1, canonical_bytes(record).decode(), n),
            )
        rehash_from(conn, 2)
        conn.execute("UPDATE audit_chain_head SET seq = 9")
        conn.execute("DELETE FROM audit_signed_heads WHERE seq = 10")

    problem = tampered(trail, tamper).problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("head-mismatch", 3)


def test_an_inserted_event(trail: tuple[Database, SoftwareKeyStore, Path]) -> None:
    def tamper(conn: sqlite3.Connection) -> None:
        # Make room at seq 5, then insert a well-formed event linked to seq 4.
        conn.execute("UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 5")
        conn.execute("UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1000")
        record = forged_record(5)
        prev = hash_of(conn, 4)
        conn.execute(
            "INSERT INTO audit_events VALUES (5, '2026-01-01 01:39:00', '111111111111', ?, ?, ?)",
            (record, prev, link_hash(prev, record.encode())),
        )

    problem = tampered(trail, tamper).problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("chain-break", 6)
    assert problem.message.startswith("seq 6: the hash chain breaks")


def test_an_event_appended_after_the_last_signed_head(
    trail: tuple[Database, SoftwareKeyStore, Path],
) -> None:
    def tamper(conn: sqlite3.Connection) -> None:
        record = forged_record(11)
        prev = hash_of(conn, 10)
        digest = link_hash(prev, record.encode())
        conn.execute(
            "INSERT INTO audit_events VALUES (11, '2026-01-01 01:39:00', '111111111111', ?, ?, ?)",
            (record, prev, digest),
        )
        conn.execute("UPDATE audit_chain_head SET seq = 11, hash = ?", (digest,))

    problem = tampered(trail, tamper).problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("unsigned", 11)
    assert "after the last signed head (seq 10)" in problem.message


def test_reordered_events(trail: tuple[Database, SoftwareKeyStore, Path]) -> None:
    def tamper(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE audit_events SET seq = -1 WHERE seq = 7")
        conn.execute("UPDATE audit_events SET seq = 7 WHERE seq = 8")
        conn.execute("UPDATE audit_events SET seq = 8 WHERE seq = -1")

    problem = tampered(trail, tamper).problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("chain-break", 7)


def test_reordered_events_with_hashes_recomputed(
    trail: tuple[Database, SoftwareKeyStore, Path],
) -> None:
    def tamper(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE audit_events SET seq = -1 WHERE seq = 7")
        conn.execute("UPDATE audit_events SET seq = 7 WHERE seq = 8")
        conn.execute("UPDATE audit_events SET seq = 8 WHERE seq = -1")
        rehash_from(conn, 7)

    problem = tampered(trail, tamper).problem
    assert problem is not None
    # The records still carry their original positions.
    assert (problem.kind, problem.seq) == ("renumbered", 7)
    assert "carries sequence number 8" in problem.message


def test_a_head_whose_signature_fails(trail: tuple[Database, SoftwareKeyStore, Path]) -> None:
    def tamper(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE audit_signed_heads SET signed_at = '2030-01-01T00:00:00.000000+00:00' "
            "WHERE seq = 6"
        )

    problem = tampered(trail, tamper).problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("bad-signature", 6)
    assert problem.message == "signed head at seq 6: the signature does not verify"


def test_a_head_moved_to_another_seq(trail: tuple[Database, SoftwareKeyStore, Path]) -> None:
    def tamper(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE audit_signed_heads SET seq = 5 WHERE seq = 6")

    problem = tampered(trail, tamper).problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("bad-signature", 5)


def test_a_genuine_head_copied_to_another_seq(
    trail: tuple[Database, SoftwareKeyStore, Path],
) -> None:
    def tamper(conn: sqlite3.Connection) -> None:
        # A genuine head (seq 9's) copied over seq 3's: the signature holds, the hash does not.
        sig, at, hash_ = conn.execute(
            "SELECT signature, signed_at, hash FROM audit_signed_heads WHERE seq = 9"
        ).fetchone()
        conn.execute("DELETE FROM audit_signed_heads WHERE seq = 9")
        conn.execute(
            "UPDATE audit_signed_heads SET signature = ?, signed_at = ?, hash = ? WHERE seq = 3",
            (sig, at, hash_),
        )

    problem = tampered(trail, tamper).problem
    assert problem is not None
    # seq is part of the signed message: the copy fails as a signature, at seq 3.
    assert (problem.kind, problem.seq) == ("bad-signature", 3)


def test_truncation(trail: tuple[Database, SoftwareKeyStore, Path]) -> None:
    def tamper(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM audit_events WHERE seq > 7")
        conn.execute("UPDATE audit_chain_head SET seq = 7, hash = ?", (hash_of(conn, 7),))

    problem = tampered(trail, tamper).problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("truncated", 8)
    assert problem.message.startswith(
        "the chain ends at seq 7 but a signed head covers seq 9: events after seq 7 were removed"
    )


def test_a_replaced_signing_key_with_every_head_re_signed(
    trail: tuple[Database, SoftwareKeyStore, Path],
) -> None:
    def tamper(conn: sqlite3.Connection) -> None:
        mine = Ed25519PrivateKey.generate()
        conn.execute(
            "UPDATE audit_signing_keys SET public_key = ?",
            (mine.public_key().public_bytes_raw(),),
        )
        heads = conn.execute("SELECT seq, hash, signed_at FROM audit_signed_heads").fetchall()
        for seq, hash_, at in heads:
            conn.execute(
                "UPDATE audit_signed_heads SET signature = ? WHERE seq = ?",
                (mine.sign(head_message(seq, bytes(hash_), at)), seq),
            )

    problem = tampered(trail, tamper).problem
    assert problem is not None
    assert problem.kind == "signing-key"


def test_a_stale_chain_head_record(trail: tuple[Database, SoftwareKeyStore, Path]) -> None:
    problem = tampered(trail, lambda c: c.execute("UPDATE audit_chain_head SET seq = 12")).problem
    assert problem is not None
    assert problem.kind == "head-row"


def test_an_empty_trail_verifies(tmp_path: Path) -> None:
    verdict = verify_chain(open_db(tmp_path), new_store())
    assert verdict.ok
    assert verdict.summary() == "0 events, chain intact, no signed head yet"
