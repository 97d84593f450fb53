"""Every alteration of a message is refused with the one InvalidMessageError."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest

from strongroom.envelope import (
    SIGNED,
    UNSIGNED,
    InvalidMessageError,
    KmsKeyring,
    Suite,
    WrongKeyError,
)
from strongroom.envelope.format import (
    FINAL_FRAME_PREFIX,
    REGULAR_FRAME_PREFIX,
    Header,
    StreamReader,
    read_header,
    serialize_header,
)
from tests.envelope.helpers import decrypt, encrypt, random_bytes

FRAME = 32
SIZE = 3 * FRAME + 7  # three regular frames and a final frame of 7 bytes
SUITES = pytest.mark.parametrize("suite", [SIGNED, UNSIGNED], ids=["signed", "unsigned"])
MESSAGE = InvalidMessageError.MESSAGE


def split(message: bytes) -> tuple[Header, bytes, list[bytes], bytes, bytes]:
    """Header, header bytes + tag, regular frames, final frame, footer."""
    stream = io.BytesIO(message)
    header, raw = read_header(StreamReader(stream), None)
    head = message[: len(raw) + 16]
    offset = len(head)
    regular = REGULAR_FRAME_PREFIX + FRAME + 16
    frames = [message[offset + i * regular : offset + (i + 1) * regular] for i in range(3)]
    offset += 3 * regular
    final = message[offset : offset + FINAL_FRAME_PREFIX + 7 + 16]
    footer = message[offset + len(final) :]
    return header, head, frames, final, footer


def assert_refused(keyring: KmsKeyring, message: bytes, fixed_message: bool = True) -> None:
    with pytest.raises(InvalidMessageError) as caught:
        decrypt(keyring, message)
    if fixed_message:
        assert str(caught.value) == MESSAGE


@pytest.fixture(params=[SIGNED, UNSIGNED], ids=["signed", "unsigned"])
def sample(request: Any, keyring: KmsKeyring) -> tuple[bytes, bytes]:
    data = random_bytes(SIZE)
    message = encrypt(
        keyring, data, suite=request.param, frame_length=FRAME, context={"tenant": "blue"}
    )
    assert decrypt(keyring, message) == data
    return data, message


def test_every_truncation_is_refused(keyring: KmsKeyring, sample: tuple[bytes, bytes]) -> None:
    _, message = sample
    for length in range(len(message)):
        assert_refused(keyring, message[:length])


def test_trailing_bytes_are_refused(keyring: KmsKeyring, sample: tuple[bytes, bytes]) -> None:
    _, message = sample
    assert_refused(keyring, message + b"\x00")


def test_every_bit_flip_is_refused(keyring: KmsKeyring, sample: tuple[bytes, bytes]) -> None:
    """One flipped bit per byte, cycling through the bit positions, at every offset."""
    _, message = sample
    header, head, _, _, _ = split(message)
    names_start = head.index(header.encrypted_data_keys[0].provider_id.encode())
    names_end = names_start + len("aws-kms") + 2 + len(header.encrypted_data_keys[0].provider_info)
    count_start = names_start - 4  # EDK count (2) and provider id length (2)
    frame_length_end = len(head) - 16 - 32  # frame length (4) before commitment (32) and tag
    for offset in range(len(message)):
        altered = bytearray(message)
        altered[offset] ^= 1 << (offset % 8)
        # An edited key name reads as "encrypted for another key" (WrongKeyError), an edited
        # key count or frame length as a limit (MessageLimitError): subclasses with their own
        # message.
        exempt = count_start <= offset < names_end
        exempt |= frame_length_end - 4 <= offset < frame_length_end
        assert_refused(keyring, bytes(altered), not exempt)


def test_edited_key_name_is_a_wrong_key(keyring: KmsKeyring, sample: tuple[bytes, bytes]) -> None:
    _, message = sample
    arn = _arn(message)
    other = arn[:-1] + ("0" if arn[-1] != "0" else "1")  # same length: the header parses
    altered = message.replace(arn.encode(), other.encode())
    with pytest.raises(WrongKeyError):
        decrypt(keyring, altered)


def _arn(message: bytes) -> str:
    header, *_ = split(message)
    return header.encrypted_data_keys[0].provider_info


def test_reordered_dropped_and_repeated_frames(
    keyring: KmsKeyring, sample: tuple[bytes, bytes]
) -> None:
    _, message = sample
    _, head, frames, final, footer = split(message)
    assert head + b"".join(frames) + final + footer == message
    variants = [
        [frames[1], frames[0], frames[2]],
        [frames[0], frames[2], frames[1]],
        [frames[0], frames[2]],
        [frames[0], frames[1], frames[1], frames[2]],
        [frames[0], frames[1]],
    ]
    for order in variants:
        assert_refused(keyring, head + b"".join(order) + final + footer)
    assert_refused(keyring, head + b"".join(frames) + footer)  # final frame dropped
    assert_refused(keyring, head + b"".join(frames) + final + final + footer)


@SUITES
def test_frames_of_another_message_are_refused(keyring: KmsKeyring, suite: Suite) -> None:
    data = random_bytes(SIZE)
    one = encrypt(keyring, data, suite=suite, frame_length=FRAME)
    two = encrypt(keyring, data, suite=suite, frame_length=FRAME)
    _, head_one, *_ = split(one)
    _, head_two, *_ = split(two)
    assert_refused(keyring, head_one + two[len(head_two) :])


@SUITES
def test_header_edits_are_refused(keyring: KmsKeyring, suite: Suite) -> None:
    message = encrypt(keyring, b"x" * SIZE, suite=suite, frame_length=FRAME, context={"a": "b"})
    header, head, *_ = split(message)
    rest = message[len(head) :]
    tag = head[-16:]
    edits: list[dict[str, Any]] = [
        {"encryption_context": {**header.encryption_context, "a": "c"}},
        {"encryption_context": {**header.encryption_context, "extra": "1"}},
        {"frame_length": FRAME + 1},
        {"commitment": bytes(32)},
        {"message_id": bytes(32)},
        {"suite_id": UNSIGNED.suite_id if suite.signed else SIGNED.suite_id},
    ]
    for edit in edits:
        edited = dataclasses.replace(header, **edit)
        assert_refused(keyring, serialize_header(edited) + tag + rest)


def test_not_a_message(keyring: KmsKeyring) -> None:
    for junk in (b"", b"\x01", b"\x02\x01\x78" + bytes(100), random_bytes(500)):
        assert_refused(keyring, junk)
