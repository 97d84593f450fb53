"""Rotation under load: clients encrypt without pause while the key rotates under them.

Six threads, each with its own boto3 client, encrypt continuously while the main thread
rotates the key on demand twenty times and moves the clock so that one automatic rotation
happens in the middle. No call may fail, every blob must decrypt afterwards (with the version
it names), and no client may ever be handed an older version after a newer one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from strongroom.kms.domain import ciphertext
from tests.support.servers import in_process_server

THREADS = 6
ON_DEMAND = 20
AUTOMATIC_AFTER = 10  # the automatic rotation comes after this many on-demand ones
PERIOD_DAYS = 90


@dataclass(frozen=True, slots=True)
class Sealed:
    blob: bytes
    plaintext: bytes
    material_id: str
    thread: int


@dataclass
class Encryptor:
    """One client's continuous Encrypt loop; records every blob, and every failure."""

    client: Any
    key_id: str
    index: int
    start: threading.Barrier
    stop: threading.Event
    sealed: list[Sealed] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def run(self) -> None:
        try:
            self.start.wait(timeout=30)
        except threading.BrokenBarrierError as error:
            self.failures.append(repr(error))
            return
        n = 0
        while not self.stop.is_set():
            plaintext = f"thread {self.index} message {n}".encode()
            try:
                reply = self.client.encrypt(
                    KeyId=self.key_id,
                    Plaintext=plaintext,
                    EncryptionContext={"thread": str(self.index)},
                )
                blob = reply["CiphertextBlob"]
                assert reply["KeyId"].endswith(f"key/{self.key_id}"), reply["KeyId"]
                material_id = ciphertext.parse(blob).material_id
            except Exception as error:
                self.failures.append(f"message {n}: {error!r}")
                continue
            finally:
                n += 1
            self.sealed.append(Sealed(blob, plaintext, material_id, self.index))


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_encrypt_under_continuous_rotation(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "data") as server:
        kms = server.client()
        key_id = kms.create_key(Description="rotation under load")["KeyMetadata"]["KeyId"]
        kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=PERIOD_DAYS)

        def current() -> str:
            return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"])

        def current_is_not(material_id: str) -> Callable[[], bool]:
            return lambda: current() != material_id

        # The order in which versions became current, as the rotating thread observes it.
        made_current = [current()]
        start = threading.Barrier(THREADS + 1)
        stop = threading.Event()
        encryptors = [Encryptor(server.client(), key_id, n, start, stop) for n in range(THREADS)]
        threads = [threading.Thread(target=e.run, daemon=True) for e in encryptors]
        for thread in threads:
            thread.start()

        def sealed_so_far() -> int:
            return sum(len(e.sealed) for e in encryptors)

        def under_load() -> None:
            """Let every client get some calls in with the version just made current."""
            target = sealed_so_far() + 2 * THREADS
            _wait_for(lambda: sealed_so_far() >= target, 10, "encryptions")

        start.wait(timeout=30)
        try:
            under_load()
            for rotation in range(ON_DEMAND):
                assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"].endswith(f":key/{key_id}")
                made_current.append(current())
                under_load()
                if rotation + 1 == AUTOMATIC_AFTER:
                    server.clock.advance(timedelta(days=PERIOD_DAYS + 1))
                    _wait_for(current_is_not(made_current[-1]), 5, "the automatic rotation")
                    made_current.append(current())
                    under_load()
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        assert not any(t.is_alive() for t in threads)

        failures = [f for e in encryptors for f in e.failures]
        assert failures == []

        # History: 20 on-demand rotations and exactly one automatic, in the order they happened.
        listed = kms.list_key_rotations(
            KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL", Limit=1000
        )["Rotations"]
        assert [r["KeyMaterialId"] for r in listed] == made_current
        assert len(set(made_current)) == ON_DEMAND + 2
        types = [r.get("RotationType") for r in listed]
        assert types == (
            [None]
            + ["ON_DEMAND"] * AUTOMATIC_AFTER
            + ["AUTOMATIC"]
            + ["ON_DEMAND"] * (ON_DEMAND - AUTOMATIC_AFTER)
        )
        assert [r["KeyMaterialState"] for r in listed] == ["NON_CURRENT"] * (ON_DEMAND + 1) + [
            "CURRENT"
        ]
        status = kms.get_key_rotation_status(KeyId=key_id)
        assert (
            status["NextRotationDate"].timestamp()
            > (server.clock.now() + timedelta(days=PERIOD_DAYS - 1)).timestamp()
        )

        sealed = [s for e in encryptors for s in e.sealed]
        order = {material_id: n for n, material_id in enumerate(made_current)}
        seen = {s.material_id for s in sealed}
        assert seen <= set(order), seen - set(order)
        assert len(seen) >= 10, len(seen)
        # A client never gets an older version after it has been given a newer one.
        for encryptor in encryptors:
            positions = [order[s.material_id] for s in encryptor.sealed]
            assert positions == sorted(positions), (encryptor.index, positions)

        for item in sealed:
            out = kms.decrypt(
                CiphertextBlob=item.blob, EncryptionContext={"thread": str(item.thread)}
            )
            assert out["Plaintext"] == item.plaintext
            assert out["KeyMaterialId"] == item.material_id
            assert out["KeyId"].endswith(f"key/{key_id}")
