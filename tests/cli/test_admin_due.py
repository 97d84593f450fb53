"""``strongroom admin due``: what the scheduler will do, for operators."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.servers import in_process_server


def _due(data_dir: Path, *args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "strongroom.cli.main",
            "admin",
            "--data-dir",
            str(data_dir),
            "due",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result = json.loads(done.stdout)
    assert isinstance(result, list)
    return result


def test_due_lists_rotations_and_deletions_in_order(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "data") as server:
        kms = server.client()
        rotating = kms.create_key()["KeyMetadata"]
        kms.enable_key_rotation(KeyId=rotating["KeyId"], RotationPeriodInDays=90)
        doomed = kms.create_key()["KeyMetadata"]
        kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
        kms.create_key()  # nothing planned for this one

        assert _due(server.data_dir) == []
        within_30 = _due(server.data_dir, "--days", "30")
        assert [(w["Action"], w["KeyId"]) for w in within_30] == [("deletion", doomed["KeyId"])]
        within_100 = _due(server.data_dir, "--days", "100")
        assert [(w["Action"], w["KeyId"]) for w in within_100] == [
            ("deletion", doomed["KeyId"]),
            ("rotation", rotating["KeyId"]),
        ]
        assert within_100[1]["AccountId"] == rotating["AWSAccountId"]
        assert within_100[0]["Due"] < within_100[1]["Due"]
