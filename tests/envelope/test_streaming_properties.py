"""Streaming properties without a KMS: any size and frame length, constant memory.

A stand-in keyring returns a fixed data key, so these tests exercise format and streaming
only (the KMS paths are covered against a real server elsewhere).
"""

from __future__ import annotations

import io
import multiprocessing
import os
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import BinaryIO

from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.envelope import SIGNED, UNSIGNED, decrypt_stream, encrypt_stream
from strongroom.envelope.format import EncryptedDataKey
from strongroom.envelope.keys import KmsKeyring

ARN = "arn:aws:kms:us-east-1:111122223333:key/fixed"


class FixedKeyring(KmsKeyring):
    def __init__(self) -> None:
        super().__init__(client=None, key_ids=[ARN])
        self.data_key = os.urandom(32)

    def generate(self, context: Mapping[str, str]) -> tuple[bytes, list[EncryptedDataKey]]:
        return self.data_key, [EncryptedDataKey("aws-kms", ARN, b"opaque")]

    def decrypt(self, keys: Sequence[EncryptedDataKey], context: Mapping[str, str]) -> bytes:
        return self.data_key


class Dribble(io.RawIOBase):
    """A stream that returns at most ``step`` bytes per read, like a pipe."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self._step, len(self._data))
        buffer[:count] = self._data[:count]
        self._data = self._data[count:]
        return count


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(0, 3000),
    frame_length=st.integers(1, 700),
    signed=st.booleans(),
    step=st.integers(1, 5000),
)
def test_round_trip_any_size_and_short_reads(
    size: int, frame_length: int, signed: bool, step: int
) -> None:
    keyring = FixedKeyring()
    data = os.urandom(size)
    encrypted = io.BytesIO()
    source: BinaryIO = Dribble(data, step)  # type: ignore[assignment]
    encrypt_stream(
        source,
        encrypted,
        keyring,
        suite=SIGNED if signed else UNSIGNED,
        frame_length=frame_length,
        context={"k": "v"},
    )
    decrypted = io.BytesIO()
    message: BinaryIO = Dribble(encrypted.getvalue(), step)  # type: ignore[assignment]
    decrypt_stream(message, decrypted, keyring)
    assert decrypted.getvalue() == data


class Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


class Sink(io.RawIOBase):
    def __init__(self) -> None:
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.written += len(data)
        return len(data)


FRAME = 64 * 1024
SUITES = {"signed": SIGNED, "unsigned": UNSIGNED}


def _encryption_peak(suite: str) -> tuple[int, int]:
    """(bytes written, peak traced allocation) of encrypting 64 MiB of zeros."""
    sink = Sink()
    tracemalloc.start()
    try:
        encrypt_stream(
            Zeros(64 * 1024 * 1024),  # type: ignore[arg-type]
            sink,  # type: ignore[arg-type]
            FixedKeyring(),
            suite=SUITES[suite],
            frame_length=FRAME,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sink.written, peak


def _decryption_peak(suite: str) -> tuple[int, int]:
    """(bytes written, peak traced allocation) of decrypting 32 MiB of zeros."""
    keyring = FixedKeyring()
    message = io.BytesIO()
    encrypt_stream(
        Zeros(32 * 1024 * 1024),  # type: ignore[arg-type]
        message,
        keyring,
        suite=SUITES[suite],
        frame_length=FRAME,
    )
    message.seek(0)
    sink = Sink()
    tracemalloc.start()
    try:
        decrypt_stream(message, sink, keyring)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sink.written, peak


def _in_fresh_process(measure: Callable[[str], tuple[int, int]], suite: str) -> tuple[int, int]:
    """tracemalloc counts every thread's allocations: in this test process, other tests'
    servers (their background threads) would be counted too. A new interpreter has none."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(measure, suite).result(timeout=300)


def test_memory_does_not_grow_with_the_input() -> None:
    """64 MiB through 64 KiB frames: Python allocations stay a few frames' worth."""
    for suite in SUITES:
        written, peak = _in_fresh_process(_encryption_peak, suite)
        assert written > 64 * 1024 * 1024
        assert peak < 8 * FRAME, f"{suite}: peak {peak} bytes"


def test_decryption_memory_does_not_grow_with_the_input() -> None:
    for suite in SUITES:
        written, peak = _in_fresh_process(_decryption_peak, suite)
        assert written == 32 * 1024 * 1024
        assert peak < 8 * FRAME, f"{suite}: peak {peak} bytes"
