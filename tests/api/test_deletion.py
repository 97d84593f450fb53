"""ScheduleKeyDeletion and CancelKeyDeletion, and deletion at the end of the window."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.errors import aws_error
from tests.support.servers import InProcessServer, in_process_server


def test_schedule_and_cancel(kms: Any, key_id: str) -> None:
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    before = time.time()
    out = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyId"] == arn
    assert out["KeyState"] == "PendingDeletion"
    assert out["PendingWindowInDays"] == 7
    expected = before + 7 * 86400
    assert expected - 5 <= out["DeletionDate"].timestamp() <= expected + 5
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and meta["Enabled"] is False
    assert meta["PendingDeletionWindowInDays"] == 7
    assert meta["DeletionDate"] == out["DeletionDate"]
    with aws_error("KMSInvalidStateException", 400) as error:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert error.message == f"{arn} is pending deletion."
    with aws_error("KMSInvalidStateException"):
        kms.schedule_key_deletion(KeyId=key_id)
    with aws_error("KMSInvalidStateException"):
        kms.enable_key(KeyId=key_id)

    assert kms.cancel_key_deletion(KeyId=key_id)["KeyId"] == arn
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled"
    assert "DeletionDate" not in meta and "PendingDeletionWindowInDays" not in meta
    with aws_error("KMSInvalidStateException") as error:
        kms.cancel_key_deletion(KeyId=key_id)
    assert error.message == f"{arn} is not pending deletion."


def test_default_window_is_30_days(kms: Any, key_id: str) -> None:
    out = kms.schedule_key_deletion(KeyId=key_id)
    assert out["PendingWindowInDays"] == 30


@pytest.mark.parametrize("days", [1, 6, 31, 365])
def test_window_outside_7_to_30_days(kms: Any, key_id: str, days: int) -> None:
    with aws_error("ValidationException") as error:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=days)
    assert f"Value '{days}' at 'pendingWindowInDays'" in error.message
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def _wait_until_gone(kms: Any, key_id: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            kms.describe_key(KeyId=key_id)
        except kms.exceptions.NotFoundException:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[InProcessServer]:
    """A server of this test's own: it moves the clock, which others must not see."""
    with in_process_server(tmp_path / "data") as running:
        yield running


def test_key_is_destroyed_when_the_window_ends(own_server: InProcessServer) -> None:
    server = own_server
    kms = server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    survivor = kms.create_key()["KeyMetadata"]["KeyId"]
    alias = f"alias/doomed-{key_id[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"gone soon")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.schedule_key_deletion(KeyId=survivor, PendingWindowInDays=8)

    server.clock.advance(timedelta(days=6, hours=23))
    time.sleep(0.5)  # several scheduler periods: nothing is due yet
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"

    server.clock.advance(timedelta(hours=2))
    assert _wait_until_gone(kms, key_id)
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=blob)
    with aws_error("NotFoundException"):
        kms.describe_key(KeyId=alias)
    assert key_id not in {k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]}
    assert kms.describe_key(KeyId=survivor)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    kms.cancel_key_deletion(KeyId=survivor)
