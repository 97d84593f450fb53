from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from strongroom.kms.audit.chain import GENESIS_HASH, link_hash
from strongroom.kms.audit.signing import SEAL_PURPOSE
from strongroom.kms.audit.store import AuditChain
from strongroom.kms.audit.verify import verify_chain
from strongroom.kms.audit.writer import ChainedAuditLog
from strongroom.kms.storage import schema
from strongroom.kms.storage.audit_commit import ChainWrites
from strongroom.kms.storage.database import Database
from tests.unit.kms.audit.helpers import ALICE, BOB, REGION, db_path, event, new_store, open_db


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute(sql))


def test_flush_appends_a_linked_chain_and_signs_its_head(tmp_path: Path) -> None:
    db, store = open_db(tmp_path), new_store()
    sink = ChainedAuditLog(db, store, REGION)
    for n in range(1, 4):
        sink.record(event(n))
    assert rows(db_path(tmp_path), "SELECT count(*) FROM audit_events") == [(0,)]  # not yet
    sink.flush()
    sink.record(event(4, BOB))
    sink.flush()
    sink.flush()  # nothing pending: no empty head

    chain = rows(db_path(tmp_path), "SELECT seq, record, prev_hash, hash FROM audit_events")
    assert [r[0] for r in chain] == [1, 2, 3, 4]
    prev = GENESIS_HASH
    for seq, record, prev_hash, digest in chain:
        assert prev_hash == prev
        assert digest == link_hash(prev, str(record).encode())
        assert orjson.loads(str(record))["sequenceNumber"] == seq
        prev = bytes(digest)
    heads = rows(db_path(tmp_path), "SELECT seq, hash FROM audit_signed_heads ORDER BY seq")
    assert heads == [(3, chain[2][3]), (4, chain[3][3])]
    verdict = verify_chain(db, store)
    assert verdict.ok, verdict.summary()
    assert verdict.summary() == "4 events, chain intact, last signed head at seq 4"


def test_concurrent_flushers_with_their_own_engines_build_one_linear_chain(
    tmp_path: Path,
) -> None:
    workers, rounds, per_round = 4, 10, 5
    store = new_store()
    dbs = [open_db(tmp_path) for _ in range(workers)]  # schema created before the race
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def worker(w: int, db: Database) -> None:
        try:
            sink = ChainedAuditLog(db, store, REGION)
            start.wait()
            for r in range(rounds):
                for i in range(per_round):
                    sink.record(event(1000 * w + per_round * r + i))
                sink.flush()
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(w, db)) for w, db in enumerate(dbs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    total = workers * rounds * per_round
    seqs = rows(db_path(tmp_path), "SELECT seq FROM audit_events ORDER BY seq")
    assert [s for (s,) in seqs] == list(range(1, total + 1))
    request_ids = [
        orjson.loads(str(r))["requestID"]
        for (r,) in rows(db_path(tmp_path), "SELECT record FROM audit_events")
    ]
    assert len(set(request_ids)) == total
    assert rows(db_path(tmp_path), "SELECT count(*) FROM audit_signing_keys") == [(1,)]
    assert rows(db_path(tmp_path), "SELECT count(*) FROM audit_signed_heads") == [
        (workers * rounds,)
    ]
    verdict = verify_chain(dbs[0], store)
    assert verdict.ok, verdict.summary()
    assert verdict.events == total


def test_a_failed_flush_keeps_its_events_for_the_next(tmp_path: Path) -> None:
    db, store = open_db(tmp_path), new_store()
    sink = ChainedAuditLog(db, store, REGION)
    sink.record(event(1))
    sink.record(event(2))
    with sqlite3.connect(db_path(tmp_path)) as conn:
        conn.execute("DROP TABLE audit_signed_heads")
    with pytest.raises(Exception, match="audit_signed_heads"):
        sink.flush()
    assert sink.pending == 2
    schema.audit_signed_heads.create(db.engine)
    sink.record(event(3))
    sink.flush()
    records = rows(db_path(tmp_path), "SELECT record FROM audit_events ORDER BY seq")
    assert [orjson.loads(str(r))["requestID"] for (r,) in records] == [
        f"req-{ALICE}-1",
        f"req-{ALICE}-2",
        f"req-{ALICE}-3",
    ]


def test_the_signing_key_is_sealed_and_its_private_bytes_are_not_in_the_database(
    tmp_path: Path,
) -> None:
    db, store = open_db(tmp_path), new_store()
    sink = ChainedAuditLog(db, store, REGION)
    sink.record(event(1))
    sink.flush()
    sink.record(event(2))
    sink.flush()  # a second flush reuses the key
    with db.read_connection() as conn:
        keys = conn.execute(select(schema.audit_signing_keys)).all()
    assert len(keys) == 1
    key = keys[0]
    private = store.unseal_secret(SEAL_PURPOSE, key.key_id, key.sealed_private_key)
    assert len(private) == 32
    db.engine.dispose()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("strongroom.db*"))
    assert key.public_key in stored  # the check below can see what is there
    assert private not in stored


def test_flush_of_5000_events(tmp_path: Path) -> None:
    db, store = open_db(tmp_path), new_store()
    sink = ChainedAuditLog(db, store, REGION)
    sink.record(event(0))
    sink.flush()  # the signing key exists already, as in a running server
    for n in range(5000):
        sink.record(event(n, ALICE if n % 2 else BOB))
    sink.flush()  # its cost is measured by bench/hot_path_micro.py, not here
    assert rows(db_path(tmp_path), "SELECT max(seq) FROM audit_events") == [(5001,)]
    verdict = verify_chain(db, store)
    assert verdict.ok, verdict.summary()


def test_most_of_a_flush_happens_before_the_write_lock(tmp_path: Path) -> None:
    db, store = open_db(tmp_path), new_store()
    chain = AuditChain(store, REGION)
    with db.transaction() as tx:
        chain.append(tx, [event(0)])
    events = [event(n) for n in range(5000)]
    start = time.perf_counter()
    prepared = chain.prepare(events)
    locked = time.perf_counter()
    with db.transaction() as tx:
        last = chain.append_prepared(tx.audit, prepared)
    done = time.perf_counter()
    print(
        f"\nflush() of 5,000 events: prepare {(locked - start) * 1000:.0f} ms, "
        f"write transaction {(done - locked) * 1000:.0f} ms"
    )
    assert last == 5001
    assert verify_chain(db, store).ok


def test_the_signing_key_is_looked_up_until_a_group_commit_that_used_it_has_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, store = open_db(tmp_path), new_store()
    lookups: list[object] = []
    first_signing_key = ChainWrites.first_signing_key

    def counted(records: ChainWrites) -> tuple[str, bytes] | None:
        found = first_signing_key(records)
        lookups.append(found)
        return found

    monkeypatch.setattr(ChainWrites, "first_signing_key", counted)
    sink = ChainedAuditLog(db, store, REGION)
    with sqlite3.connect(db_path(tmp_path)) as conn:
        conn.execute("DROP TABLE audit_signed_heads")
    sink.record(event(1))
    with pytest.raises(Exception, match="audit_signed_heads"):
        sink.flush()  # the key made in this transaction is rolled back with it
    schema.audit_signed_heads.create(db.engine)
    sink.flush()
    assert lookups == [None, None]  # made again, in the transaction that committed
    for n in range(2, 5):
        sink.record(event(n))
        sink.flush()
    assert len(lookups) == 2  # committed: never looked up again
    assert rows(db_path(tmp_path), "SELECT count(*) FROM audit_signing_keys") == [(1,)]
    verdict = verify_chain(db, store)
    assert verdict.ok, verdict.summary()
    assert verdict.events == 4
