"""``strongroom audit digest`` and ``audit verify --digests``: the chain anchored outside the DB.

The trail: 3 events, a digest, 3 more, a digest, 2 more, a digest (three digest files). Each
test removes or edits something the way someone with write access to the database (or to the
digest directory) could, and checks what verify says with and without the digests.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from strongroom.kms.app import initialize, open_data_dir
from strongroom.kms.audit.digests import list_digests
from strongroom.kms.audit.writer import ChainedAuditLog
from strongroom.kms.config import Settings, load_settings
from tests.support.cli import run
from tests.unit.kms.audit.helpers import ALICE, BOB, event, key_arn

AUDIT_TABLES = (
    "audit_events",
    "audit_event_accounts",
    "audit_named_events",
    "audit_chain_head",
    "audit_signing_keys",
    "audit_signed_heads",
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    data, _ = initialize(Settings(data_dir=directory).validated())
    data.db.engine.dispose()
    data = open_data_dir(load_settings(directory))
    sink = ChainedAuditLog(data.db, data.store, "us-east-1")
    try:
        for batch in ((1, 2, 3), (4, 5, 6), (7, 8)):
            for n in batch:
                sink.record(event(n, BOB if n % 3 == 0 else ALICE, (key_arn(ALICE),)))
            sink.flush()
            status, out, err = run("audit", "digest", "--data-dir", str(directory))
            assert (status, err) == (0, ""), err
            assert "strongroom-audit-digest_us-east-1_" in out
    finally:
        data.db.engine.dispose()
    return directory


def digests_of(data_dir: Path) -> Path:
    return data_dir / "audit-digests"


def verify(data_dir: Path) -> tuple[int, str, str]:
    return run(
        "audit", "verify", "--data-dir", str(data_dir), "--digests", str(digests_of(data_dir))
    )


def sql(data_dir: Path, *statements: str) -> None:
    with sqlite3.connect(data_dir / "strongroom.db") as conn:
        for statement in statements:
            conn.execute(statement)


def test_an_intact_trail_agrees_with_its_digests(data_dir: Path) -> None:
    files = list_digests(digests_of(data_dir))
    assert [(d.first_seq, d.last_seq) for d in files] == [(1, 3), (4, 6), (7, 8)]
    assert files[1].body["previousDigestFile"] == files[0].name
    status, out, err = verify(data_dir)
    assert (status, err) == (0, ""), err
    assert out.splitlines() == [
        "8 events, chain intact, last signed head at seq 8",
        f"3 digests agree with the trail (newest {files[2].name}, seq 8)",
    ]
    status, out, _ = run("audit", "digest", "--data-dir", str(data_dir))
    assert (status, out) == (0, "the chain has not moved since the newest digest\n")


def test_the_newest_events_removed_with_their_signed_heads(data_dir: Path) -> None:
    with sqlite3.connect(data_dir / "strongroom.db") as conn:
        (hash6,) = conn.execute("SELECT hash FROM audit_events WHERE seq = 6").fetchone()
        for table in ("audit_events", "audit_event_accounts", "audit_signed_heads"):
            conn.execute(f"DELETE FROM {table} WHERE seq > 6")  # noqa: S608
        conn.execute("UPDATE audit_chain_head SET seq = 6, hash = ?", (hash6,))
    status, out, _ = run("audit", "verify", "--data-dir", str(data_dir))
    assert (status, out) == (0, "6 events, chain intact, last signed head at seq 6\n")

    status, _, err = verify(data_dir)
    newest = list_digests(digests_of(data_dir))[-1].name
    assert status == 1
    assert err == (
        f"strongroom: audit trail damaged: digest {newest} covers the chain up to seq 8, but "
        "the trail ends at seq 6: events after seq 6 were removed (truncation)\n"
    )


def test_every_audit_table_dropped(data_dir: Path) -> None:
    sql(data_dir, *(f"DROP TABLE {table}" for table in AUDIT_TABLES))
    for extra in ((), ("--digests", str(digests_of(data_dir)))):
        status, out, err = run("audit", "verify", "--data-dir", str(data_dir), *extra)
        assert (status, out) == (1, "")
        assert err == (
            f"strongroom: audit trail damaged: the audit tables {', '.join(AUDIT_TABLES)} are "
            "missing from the database: the trail was removed\n"
        )


def test_every_audit_table_emptied(data_dir: Path) -> None:
    sql(data_dir, *(f"DELETE FROM {table}" for table in AUDIT_TABLES))  # noqa: S608
    # The database alone cannot tell an emptied trail from a new one ...
    status, out, _ = run("audit", "verify", "--data-dir", str(data_dir))
    assert (status, out) == (0, "0 events, chain intact, no signed head yet\n")

    # ... the digests outside it can.
    status, _, err = verify(data_dir)
    assert status == 1
    assert "the database holds no audit events, but digest" in err
    # The oldest digest already names what is gone.
    assert "covers the chain up to seq 3: the trail was deleted" in err


def test_an_altered_digest_file(data_dir: Path) -> None:
    second = list_digests(digests_of(data_dir))[1]
    body = orjson.loads(second.raw)
    body["lastSequenceNumber"] = 5
    second.path.write_bytes(orjson.dumps(body))
    status, _, err = verify(data_dir)
    assert status == 1
    assert f"digest {second.name}: its signature does not verify; the file was altered" in err


def test_a_digest_removed_from_the_middle(data_dir: Path) -> None:
    first, second, third = list_digests(digests_of(data_dir))
    second.path.unlink()
    status, _, err = verify(data_dir)
    assert status == 1
    assert (
        f"digest {third.name} names previous digest {second.name}, but the digest before it is "
        f"{first.name}; a digest was removed or added"
    ) in err


def test_the_oldest_digest_removed(data_dir: Path) -> None:
    first, second, _ = list_digests(digests_of(data_dir))
    first.path.unlink()
    status, _, err = verify(data_dir)
    assert status == 1
    assert f"the oldest digest {second.name} names a previous digest {first.name}" in err


def test_a_chain_rebuilt_under_a_new_signing_key_is_refused_by_the_digests(
    data_dir: Path,
) -> None:
    """Someone who empties the trail and starts a new one (new key, new events) cannot pass
    the digests off as the new trail's: they were signed by another key."""
    sql(data_dir, *(f"DELETE FROM {table}" for table in AUDIT_TABLES))  # noqa: S608  # noqa: S608
    data = open_data_dir(load_settings(data_dir))
    sink = ChainedAuditLog(data.db, data.store, "us-east-1")
    for n in range(1, 10):
        sink.record(event(n))
    sink.flush()
    data.db.engine.dispose()
    status, _, err = verify(data_dir)
    assert status == 1
    assert "which is not the trail's audit signing key" in err


def test_no_digest_files(data_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    status, _, err = run("audit", "verify", "--data-dir", str(data_dir), "--digests", str(empty))
    assert status == 1
    assert f"no digest files in {empty}; nothing to check" in err
