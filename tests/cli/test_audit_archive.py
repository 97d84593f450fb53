"""Retention: ``strongroom audit archive`` and ``audit verify --archive``.

The trail: events 1-3, 4-6 and 7-8 in three flushes (event n happened n minutes after T0),
a digest after each flush. Archiving before T0 + 6.5 min moves seq 1-6 to a signed archive
and prunes them; what remains verifies from the signed anchor, the archive verifies alone, and
the digests still agree with both.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import orjson
import pytest

from strongroom.kms.app import initialize, open_data_dir
from strongroom.kms.audit.writer import ChainedAuditLog
from strongroom.kms.config import Settings, load_settings
from tests.support.cli import run
from tests.unit.kms.audit.helpers import ALICE, BOB, event, key_arn

FIRST = "strongroom-audit-archive_us-east-1_000000000001-000000000006"


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
            assert run("audit", "digest", "--data-dir", str(directory))[0] == 0
    finally:
        data.db.engine.dispose()
    return directory


def archive(data_dir: Path, before: str) -> tuple[int, str, str]:
    return run("audit", "archive", "--data-dir", str(data_dir), "--before", before)


def verify(data_dir: Path, *extra: str) -> tuple[int, str, str]:
    return run("audit", "verify", "--data-dir", str(data_dir), *extra)


def archives(data_dir: Path) -> Path:
    return data_dir / "audit-archive"


def test_archive_prunes_and_everything_still_verifies(data_dir: Path) -> None:
    status, out, err = archive(data_dir, "2026-01-01T00:06:30Z")
    assert (status, err) == (0, "")
    assert out == f"archived seq 1-6 to {archives(data_dir) / FIRST}.manifest.json\n"
    with sqlite3.connect(data_dir / "strongroom.db") as conn:
        assert conn.execute("SELECT min(seq), count(*) FROM audit_events").fetchone() == (7, 2)
        # Seq 3 and 6 (Bob's calls with Alice's key) had index rows; they went with them.
        assert conn.execute("SELECT count(*) FROM audit_event_accounts").fetchone() == (0,)
        assert conn.execute("SELECT min(seq) FROM audit_signed_heads").fetchone() == (8,)
    status, out, err = verify(data_dir)
    assert (status, err) == (0, "")
    assert out == "2 events, chain intact (seq 1-6 archived), last signed head at seq 8\n"

    status, out, err = run("audit", "verify", "--archive", str(archives(data_dir)))
    assert (status, out, err) == (0, "1 archives intact, seq 1-6\n", "")
    lines = (archives(data_dir) / f"{FIRST}.jsonl").read_text().splitlines()
    assert [orjson.loads(line)["sequenceNumber"] for line in lines] == [1, 2, 3, 4, 5, 6]

    digests = str(data_dir / "audit-digests")
    status, out, err = verify(data_dir, "--archive", str(archives(data_dir)), "--digests", digests)
    assert (status, err) == (0, ""), err
    assert out.splitlines()[1:3] == [
        "1 archives intact, seq 1-6",
        "the trail continues where the newest archive ends (seq 6)",
    ]
    assert out.splitlines()[3].startswith("3 digests agree with the trail, 2 covering archived")

    exported = run("audit", "export", "--data-dir", str(data_dir), "--account", ALICE)[1]
    assert [orjson.loads(line)["requestID"] for line in exported.splitlines()] == [
        f"req-{ALICE}-7",
        f"req-{ALICE}-8",
    ]


def test_archiving_twice_continues_the_archives(data_dir: Path) -> None:
    assert archive(data_dir, "2026-01-01T00:06:30Z")[0] == 0
    status, out, _ = archive(data_dir, "2026-01-01T00:06:30Z")
    assert (status, out) == (
        0,
        "no flushed events before 2026-01-01T00:06:30+00:00 left to archive\n",
    )
    assert archive(data_dir, "2030-01-01T00:00:00Z")[0] == 0
    status, out, err = verify(data_dir, "--archive", str(archives(data_dir)))
    assert (status, err) == (0, ""), err
    assert out.splitlines()[:2] == [
        "0 events, chain intact (seq 1-8 archived), last signed head at seq 8",
        "2 archives intact, seq 1-8",
    ]


def test_a_forged_anchor(data_dir: Path) -> None:
    archive(data_dir, "2026-01-01T00:06:30Z")
    with sqlite3.connect(data_dir / "strongroom.db") as conn:
        (raw,) = conn.execute("SELECT value FROM meta WHERE name = 'audit_anchor'").fetchone()
        forged = orjson.loads(raw) | {"sequenceNumber": 5}
        conn.execute(
            "UPDATE meta SET value = ? WHERE name = 'audit_anchor'",
            (orjson.dumps(forged).decode(),),
        )
    status, _, err = verify(data_dir)
    assert status == 1
    assert "the archive anchor at seq 5 is not signed by the audit signing key" in err


def test_pruned_events_without_an_anchor(data_dir: Path) -> None:
    archive(data_dir, "2026-01-01T00:06:30Z")
    with sqlite3.connect(data_dir / "strongroom.db") as conn:
        conn.execute("DELETE FROM meta WHERE name = 'audit_anchor'")
    status, _, err = verify(data_dir)
    assert status == 1
    assert "seq 1: missing (seq 0 is followed by seq 7); an event was removed" in err


def test_an_altered_archived_record(data_dir: Path) -> None:
    archive(data_dir, "2026-01-01T00:06:30Z")
    records = archives(data_dir) / f"{FIRST}.jsonl"
    records.write_text(records.read_text().replace("u2", "u9"))
    status, _, err = run("audit", "verify", "--archive", str(archives(data_dir)))
    assert status == 1
    assert f"archive {FIRST}.manifest.json: {FIRST}.jsonl was altered (SHA-256 differs)" in err


def test_an_altered_archive_with_its_manifest_hash_fixed(data_dir: Path) -> None:
    archive(data_dir, "2026-01-01T00:06:30Z")
    records = archives(data_dir) / f"{FIRST}.jsonl"
    manifest = archives(data_dir) / f"{FIRST}.manifest.json"
    records.write_text(records.read_text().replace("u2", "u9"))
    body = orjson.loads(manifest.read_bytes())
    body["recordsSha256"] = hashlib.sha256(records.read_bytes()).hexdigest()
    manifest.write_bytes(orjson.dumps(body))
    status, _, err = run("audit", "verify", "--archive", str(archives(data_dir)))
    assert status == 1
    assert f"archive {FIRST}.manifest.json: its signature does not verify" in err


def test_a_missing_older_archive(data_dir: Path) -> None:
    archive(data_dir, "2026-01-01T00:06:30Z")
    archive(data_dir, "2030-01-01T00:00:00Z")
    (archives(data_dir) / f"{FIRST}.manifest.json").unlink()
    status, _, err = run("audit", "verify", "--archive", str(archives(data_dir)))
    assert status == 1
    assert "starts at seq 7, but the archives before it end at seq 0" in err


def test_the_newest_archive_missing_next_to_the_trail(data_dir: Path) -> None:
    archive(data_dir, "2026-01-01T00:03:30Z")
    archive(data_dir, "2026-01-01T00:06:30Z")
    newest = archives(data_dir) / "strongroom-audit-archive_us-east-1_000000000004-000000000006"
    newest.with_suffix(".manifest.json").unlink()
    status, _, err = verify(data_dir, "--archive", str(archives(data_dir)))
    assert status == 1
    assert "the archives end at seq 3, but the trail continues from its anchor at seq 6" in err
