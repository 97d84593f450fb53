"""Due work missed while the server was down is done when it starts again, exactly once.

A real ``strongroom serve`` process tree cannot have its clock moved, so the test makes work
due by editing the database while the server is stopped: key A's next rotation date and key
B's deletion date are set into the past. On the next start both workers run the scheduler at
once; A must rotate exactly once and B must be gone within a few seconds.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.errors import aws_error
from tests.support.processes import OutputDrain
from tests.support.servers import server_process

STARTUP_DEADLINE = 3.0  # seconds after the restarted server is healthy
# How SQLAlchemy's DateTime stores values on SQLite: naive UTC text with microseconds.
SQLITE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")


def _stored(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _connect(db_path: Path) -> closing[sqlite3.Connection]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    return closing(conn)


def _key_row(db_path: Path, key_id: str) -> dict[str, Any] | None:
    with _connect(db_path) as conn:
        row = conn.execute("SELECT * FROM keys WHERE key_id = ?", (key_id,)).fetchone()
    return None if row is None else dict(row)


def _poll(predicate: Callable[[], bool], deadline: float) -> bool:
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_due_work_missed_while_down_is_done_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    db_path = data_dir / "strongroom.db"

    # --- first run: key A rotates yearly, key B is scheduled for deletion ----------------
    with server_process(data_dir, 2) as first:
        assert first.process is not None
        first_output = OutputDrain(first.process)
        kms = first.client()
        key_a = kms.create_key(Description="A")["KeyMetadata"]["KeyId"]
        kms.enable_key_rotation(KeyId=key_a, RotationPeriodInDays=90)
        material_a = kms.describe_key(KeyId=key_a)["KeyMetadata"]["CurrentKeyMaterialId"]
        blob_a = kms.encrypt(KeyId=key_a, Plaintext=b"before the restart")["CiphertextBlob"]
        key_b = kms.create_key(Description="B")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/restart-b", TargetKeyId=key_b)
        blob_b = kms.encrypt(KeyId=key_b, Plaintext=b"B's secret")["CiphertextBlob"]
        kms.schedule_key_deletion(KeyId=key_b, PendingWindowInDays=7)
        # Nothing is due yet, and nothing happens to either key.
        assert kms.list_key_rotations(KeyId=key_a)["Rotations"] == []
        assert kms.describe_key(KeyId=key_b)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert "Traceback" not in first_output.join(), first_output.text()

    # --- while it is down: make both due, in the format the columns are stored in ---------
    row_a, row_b = _key_row(db_path, key_a), _key_row(db_path, key_b)
    assert row_a is not None and row_b is not None
    assert SQLITE_DATETIME.match(row_a["next_rotation_date"]), row_a["next_rotation_date"]
    assert SQLITE_DATETIME.match(row_b["deletion_date"]), row_b["deletion_date"]
    assert row_a["rotation_period_days"] == 90 and row_a["state"] == "Enabled"
    assert row_b["state"] == "PendingDeletion"
    now = datetime.now(UTC)
    # As stored: naive UTC, 90 (resp. 7) days after the first run.
    assert abs(
        datetime.fromisoformat(row_a["next_rotation_date"]) - _naive(now + timedelta(days=90))
    ) < timedelta(minutes=5)
    assert abs(
        datetime.fromisoformat(row_b["deletion_date"]) - _naive(now + timedelta(days=7))
    ) < timedelta(minutes=5)
    with _connect(db_path) as conn, conn:
        conn.execute(
            "UPDATE keys SET next_rotation_date = ? WHERE key_id = ?",
            (_stored(now - timedelta(days=2)), key_a),
        )
        conn.execute(
            "UPDATE keys SET deletion_date = ? WHERE key_id = ?",
            (_stored(now - timedelta(hours=1)), key_b),
        )

    # --- second run: both workers start at once and do the due work -------------------
    with server_process(data_dir, 2) as second:
        assert second.process is not None
        output = OutputDrain(second.process)
        restarted = datetime.now(UTC)
        deadline = time.monotonic() + STARTUP_DEADLINE
        kms = second.client()

        def a_rotated() -> bool:
            meta = kms.describe_key(KeyId=key_a)["KeyMetadata"]
            return bool(meta["CurrentKeyMaterialId"] != material_a)

        def b_gone() -> bool:
            try:
                kms.describe_key(KeyId=key_b)
            except kms.exceptions.NotFoundException:
                return True
            return False

        assert _poll(a_rotated, deadline), "A was not rotated at start"
        assert _poll(b_gone, deadline), "B was not deleted at start"
        # Both workers have run their start-up pass by now (they start together); give a
        # late one time to do a second rotation if it would.
        time.sleep(0.5)

        meta_a = kms.describe_key(KeyId=key_a)["KeyMetadata"]
        new_material = meta_a["CurrentKeyMaterialId"]
        rotations = kms.list_key_rotations(KeyId=key_a)["Rotations"]
        assert [
            (r["RotationType"], r["KeyMaterialId"], r["KeyMaterialState"]) for r in rotations
        ] == [("AUTOMATIC", new_material, "CURRENT")]
        assert abs(rotations[0]["RotationDate"].timestamp() - restarted.timestamp()) < 10
        everything = kms.list_key_rotations(KeyId=key_a, IncludeKeyMaterial="ALL_KEY_MATERIAL")
        assert [(r["KeyMaterialId"], r["KeyMaterialState"]) for r in everything["Rotations"]] == [
            (material_a, "NON_CURRENT"),
            (new_material, "CURRENT"),
        ]
        # The period starts again from the rotation.
        status = kms.get_key_rotation_status(KeyId=key_a)
        assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 90
        expected_next = restarted + timedelta(days=90)
        assert abs(status["NextRotationDate"].timestamp() - expected_next.timestamp()) < 10
        # Old ciphertexts still decrypt; new ones use the new material.
        out = kms.decrypt(CiphertextBlob=blob_a)
        assert (out["Plaintext"], out["KeyMaterialId"]) == (b"before the restart", material_a)
        fresh = kms.encrypt(KeyId=key_a, Plaintext=b"after")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=fresh)["KeyMaterialId"] == new_material

        # B is destroyed: the key, its alias, and every ciphertext made with it.
        with aws_error("NotFoundException"):
            kms.describe_key(KeyId=key_b)
        with aws_error("NotFoundException"):
            kms.describe_key(KeyId="alias/restart-b")
        with aws_error("InvalidCiphertextException"):
            kms.decrypt(CiphertextBlob=blob_b)
        assert key_b not in {k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]}

        # In the database: two versions of A, nothing left of B.
        with _connect(db_path) as conn:
            materials = conn.execute(
                "SELECT key_id, material_id, rotation_type FROM key_materials "
                "WHERE key_id IN (?, ?) ORDER BY created_at",
                (key_a, key_b),
            ).fetchall()
        assert [tuple(m) for m in materials] == [
            (key_a, material_a, None),
            (key_a, new_material, "AUTOMATIC"),
        ]
        assert _key_row(db_path, key_b) is None
    text = output.join()
    assert "Traceback" not in text, text
    # Exactly one worker did each piece of work (the scheduler logs what it did).
    assert text.count(f"rotated key {key_a}") == 1, text
    assert text.count(f"deleted key {key_b}") == 1, text


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)
