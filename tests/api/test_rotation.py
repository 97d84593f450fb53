"""Key rotation through boto3: status, on-demand rotation, history, automatic rotation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.errors import aws_error
from tests.support.servers import InProcessServer, in_process_server


def test_rotation_status_enable_and_disable(kms: Any, raw_kms: Any, key_id: str) -> None:
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is False
    assert status["KeyId"] == arn
    assert "RotationPeriodInDays" not in status and "NextRotationDate" not in status

    before = time.time()
    kms.enable_key_rotation(KeyId=key_id)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 365
    expected = before + 365 * 86400
    assert expected - 5 <= status["NextRotationDate"].timestamp() <= expected + 5

    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    assert kms.get_key_rotation_status(KeyId=key_id)["RotationPeriodInDays"] == 90
    for days in (89, 2561):
        with aws_error("ValidationException") as error:
            raw_kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=days)
        assert "rotationPeriodInDays" in error.message

    kms.disable_key_rotation(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False


def test_rotation_refused_in_the_wrong_states(kms: Any, key_id: str) -> None:
    kms.enable_key_rotation(KeyId=key_id)
    kms.disable_key(KeyId=key_id)
    with aws_error("DisabledException"):
        kms.enable_key_rotation(KeyId=key_id)
    with aws_error("DisabledException"):
        kms.rotate_key_on_demand(KeyId=key_id)
    # Disabled keys keep their rotation setting.
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    with aws_error("KMSInvalidStateException"):
        kms.rotate_key_on_demand(KeyId=key_id)
    with aws_error("KMSInvalidStateException"):
        kms.disable_key_rotation(KeyId=key_id)
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    with aws_error("NotFoundException"):
        kms.get_key_rotation_status(KeyId=f"alias/none-{key_id[:8]}")


def test_on_demand_rotation_keeps_old_ciphertexts(kms: Any, key_id: str) -> None:
    blobs = []
    materials = []
    for round_ in range(4):
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        materials.append(meta["CurrentKeyMaterialId"])
        blob = kms.encrypt(KeyId=key_id, Plaintext=f"round {round_}".encode())["CiphertextBlob"]
        blobs.append(blob)
        assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == meta["Arn"]
    assert len(set(materials)) == 4
    for round_, blob in enumerate(blobs):
        out = kms.decrypt(CiphertextBlob=blob)
        assert out["Plaintext"] == f"round {round_}".encode()
        assert out["KeyMaterialId"] == materials[round_]
    newest = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert newest not in materials
    moved = kms.re_encrypt(CiphertextBlob=blobs[0], DestinationKeyId=key_id)
    assert moved["SourceKeyMaterialId"] == materials[0]
    assert moved["DestinationKeyMaterialId"] == newest
    assert kms.decrypt(CiphertextBlob=moved["CiphertextBlob"])["KeyMaterialId"] == newest
    generated = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert generated["KeyMaterialId"] == newest


def test_list_key_rotations(kms: Any, key_id: str) -> None:
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
    initial = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    for _ in range(3):
        kms.rotate_key_on_demand(KeyId=key_id)
    current = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert len(rotations) == 3
    assert all(r["RotationType"] == "ON_DEMAND" and r["KeyId"] == key_id for r in rotations)
    assert [r["KeyMaterialState"] for r in rotations] == ["NON_CURRENT", "NON_CURRENT", "CURRENT"]
    assert rotations[-1]["KeyMaterialId"] == current
    dates = [r["RotationDate"] for r in rotations]
    assert dates == sorted(dates)

    everything = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    first = everything["Rotations"][0]
    assert first["KeyMaterialId"] == initial and "RotationType" not in first
    assert len(everything["Rotations"]) == 4

    page = kms.list_key_rotations(KeyId=key_id, Limit=2)
    assert page["Truncated"] is True and len(page["Rotations"]) == 2
    rest = kms.list_key_rotations(KeyId=key_id, Limit=2, Marker=page["NextMarker"])
    assert rest["Truncated"] is False
    assert [r["KeyMaterialId"] for r in page["Rotations"] + rest["Rotations"]] == [
        r["KeyMaterialId"] for r in rotations
    ]


def test_on_demand_limit(kms: Any, key_id: str) -> None:
    for _ in range(25):
        kms.rotate_key_on_demand(KeyId=key_id)
    with aws_error("LimitExceededException") as error:
        kms.rotate_key_on_demand(KeyId=key_id)
    assert "25" in error.message
    assert len(kms.list_key_rotations(KeyId=key_id, Limit=100)["Rotations"]) == 25


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[InProcessServer]:
    """A server of this test's own: it moves the clock, which others must not see."""
    with in_process_server(tmp_path / "data") as running:
        yield running


def _wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_years_of_automatic_rotation(own_server: InProcessServer) -> None:
    server = own_server
    kms = server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    blobs: list[tuple[bytes, bytes, str]] = []
    periods = 12  # three years
    for period in range(periods + 1):
        material = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
        for n in range(150):
            plaintext = f"{period}:{n}".encode()
            blob = kms.encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionContext={"n": str(n)})[
                "CiphertextBlob"
            ]
            blobs.append((blob, plaintext, material))
        if period == periods:
            break
        server.clock.advance(timedelta(days=90, minutes=1))
        _wait_for(
            lambda m=material: (
                kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] != m
            )
        )

    rotations = kms.list_key_rotations(KeyId=key_id, Limit=1000)["Rotations"]
    assert len(rotations) == periods  # exactly one rotation per due date
    assert {r["RotationType"] for r in rotations} == {"AUTOMATIC"}
    assert len({material for _, _, material in blobs}) == periods + 1
    for blob, plaintext, material in blobs:
        index = plaintext.split(b":")[1].decode()
        out = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"n": index})
        assert (out["Plaintext"], out["KeyMaterialId"]) == (plaintext, material)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["NextRotationDate"].timestamp() > server.clock.now().timestamp() + 89 * 86400


def test_disabled_keys_rotate_once_when_enabled_again(own_server: InProcessServer) -> None:
    kms = own_server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    kms.disable_key(KeyId=key_id)
    own_server.clock.advance(timedelta(days=400))
    time.sleep(0.4)  # several scheduler runs
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
    kms.enable_key(KeyId=key_id)
    _wait_for(lambda: len(kms.list_key_rotations(KeyId=key_id)["Rotations"]) == 1)
    time.sleep(0.4)
    assert len(kms.list_key_rotations(KeyId=key_id)["Rotations"]) == 1
