"""``strongroom audit verify | export`` against a data directory."""

from __future__ import annotations

import io
import os
import sqlite3
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import orjson
import pytest

from strongroom.cli.main import main
from strongroom.kms.app import initialize, open_data_dir
from strongroom.kms.audit.writer import ChainedAuditLog
from strongroom.kms.config import Settings, load_settings
from tests.unit.kms.audit.helpers import ALICE, BOB, event, key_arn


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    umask = os.umask(0o022)  # main() sets the process umask; keep the test process's
    os.umask(umask)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                status = main(list(argv))
            except SystemExit as exit_:  # argparse
                status = int(exit_.code or 0)
    finally:
        os.umask(umask)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An initialized data directory with 6 audit events from two accounts, in 2 flushes."""
    directory = tmp_path / "data"
    data, _ = initialize(Settings(data_dir=directory).validated())
    data.db.engine.dispose()
    data = open_data_dir(load_settings(directory))
    sink = ChainedAuditLog(data.db, data.store, "us-east-1")
    for n in range(1, 4):
        sink.record(event(n, ALICE))
    sink.flush()
    sink.record(event(4, BOB))
    sink.record(event(5, BOB, (key_arn(ALICE),)))
    sink.record(event(6, ALICE))
    sink.flush()
    data.db.engine.dispose()
    return directory


def test_verify_an_intact_trail(data_dir: Path) -> None:
    status, out, err = run("audit", "verify", "--data-dir", str(data_dir))
    assert (status, err) == (0, "")
    assert out == "6 events, chain intact, last signed head at seq 6\n"


def test_verify_names_the_altered_event(data_dir: Path) -> None:
    with sqlite3.connect(data_dir / "strongroom.db") as conn:
        conn.execute("UPDATE audit_events SET record = replace(record, 'u2', 'u9') WHERE seq = 2")
    status, out, err = run("audit", "verify", "--data-dir", str(data_dir))
    assert (status, out) == (1, "")
    assert err == "strongroom: audit trail damaged: seq 2: hash mismatch; the event was altered\n"


def test_verify_names_the_removed_event(data_dir: Path) -> None:
    with sqlite3.connect(data_dir / "strongroom.db") as conn:
        conn.execute("DELETE FROM audit_events WHERE seq = 5")
    status, _, err = run("audit", "verify", "--data-dir", str(data_dir))
    assert status == 1
    assert "seq 5: missing" in err


def test_verify_without_the_data_directory(tmp_path: Path) -> None:
    status, out, err = run("audit", "verify", "--data-dir", str(tmp_path / "nothing"))
    assert (status, out) == (2, "")
    assert "not a Strongroom data directory" in err


def test_export_gives_an_account_its_events_as_json_lines(data_dir: Path) -> None:
    status, out, err = run("audit", "export", "--data-dir", str(data_dir), "--account", ALICE)
    assert (status, err) == (0, "")
    records = [orjson.loads(line) for line in out.splitlines()]
    assert [r["requestID"] for r in records] == [
        f"req-{ALICE}-1",
        f"req-{ALICE}-2",
        f"req-{ALICE}-3",
        f"req-{BOB}-5",
        f"req-{ALICE}-6",
    ]
    assert all(r["eventSource"] == "kms.amazonaws.com" for r in records)

    status, out, _ = run("audit", "export", "--data-dir", str(data_dir), "--account", BOB)
    assert status == 0
    assert [orjson.loads(line)["requestID"] for line in out.splitlines()] == [
        f"req-{BOB}-4",
        f"req-{BOB}-5",
    ]


def test_export_since_and_until(data_dir: Path) -> None:
    status, out, err = run(
        "audit",
        "export",
        "--data-dir",
        str(data_dir),
        "--account",
        ALICE,
        "--since",
        "2026-01-01T00:02:00Z",
        "--until",
        "2026-01-01T00:06:00",  # no zone: UTC
    )
    assert (status, err) == (0, "")
    assert [orjson.loads(line)["requestID"] for line in out.splitlines()] == [
        f"req-{ALICE}-2",
        f"req-{ALICE}-3",
        f"req-{BOB}-5",
    ]


def test_export_refuses_a_bad_time(data_dir: Path) -> None:
    status, _, err = run(
        "audit", "export", "--data-dir", str(data_dir), "--account", ALICE, "--since", "May"
    )
    assert status == 2
    assert "argument --since: invalid iso_time value: 'May'" in err


def test_a_served_session_is_in_the_verified_trail(tmp_path: Path) -> None:
    """The server writes its audit trail to the chain; after SIGTERM it verifies and exports."""
    from tests.support.servers import server_process

    data = tmp_path / "served"
    with server_process(data, 2) as server:
        kms = server.client()
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        encrypted = kms.encrypt(KeyId=key_id, Plaintext=b"audited plaintext")
        account = kms.describe_key(KeyId=key_id)["KeyMetadata"]["AWSAccountId"]
        request_id = encrypted["ResponseMetadata"]["RequestId"]
    status, out, err = run("audit", "verify", "--data-dir", str(data))
    assert (status, err) == (0, ""), err
    assert "chain intact" in out
    # Each worker anchored its last events in a signed digest when it stopped.
    digests = data / "audit-digests"
    status, out, err = run("audit", "verify", "--data-dir", str(data), "--digests", str(digests))
    assert (status, err) == (0, ""), err
    assert "digests agree with the trail" in out
    status, out, err = run("audit", "export", "--data-dir", str(data), "--account", account)
    assert status == 0, err
    records = [orjson.loads(line) for line in out.splitlines()]
    names = [r["eventName"] for r in records]
    assert names.count("CreateKey") == 1 and names.count("DescribeKey") == 1
    (encrypt,) = [r for r in records if r["eventName"] == "Encrypt"]
    assert encrypt["requestID"] == request_id
    assert "audited plaintext" not in out
