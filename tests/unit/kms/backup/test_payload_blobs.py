"""Object store blobs in a backup's contents: pieces in order, complete, counted in the
trailer, and every blob the rows reference present (pass one of a restore)."""

from __future__ import annotations

import json

import pytest

from strongroom.kms.backup import objects, payload
from strongroom.kms.backup.container import BackupError

COLUMNS = {"t": ["a"]}
BLOB = "0f" * 16


def _contents(*extra: bytes, blobs: int = 1, blob_bytes: int = 5) -> list[bytes]:
    head = payload.table_line("t", ["a"]) + payload.row_line([1])
    end = payload.end_line(0, {"t": 1}, blobs, blob_bytes)
    return [head + b"".join(extra) + end]


def _piece(offset: int, data: bytes, *, last: bool, blob_id: str = BLOB) -> bytes:
    return payload.blob_line(payload.BlobPiece(blob_id, offset, data, last))


def test_pieces_in_order_are_read_and_counted() -> None:
    found = list(
        payload.records(
            _contents(_piece(0, b"abc", last=False), _piece(3, b"de", last=True)), COLUMNS
        )
    )
    pieces = [p for p in found if isinstance(p, payload.BlobPiece)]
    assert [(p.offset, p.data, p.last) for p in pieces] == [(0, b"abc", False), (3, b"de", True)]
    contents = found[-1]
    assert isinstance(contents, payload.Contents)
    assert (contents.blobs, contents.blob_bytes) == (1, 5)


@pytest.mark.parametrize(
    "pieces",
    [
        [_piece(0, b"abc", last=False), _piece(4, b"de", last=True)],  # a gap
        [_piece(0, b"abc", last=False)],  # never finished
        [_piece(1, b"abcde", last=True)],  # does not start at 0
        [_piece(0, b"abc", last=False), _piece(3, b"de", last=True, blob_id="1f" * 16)],
    ],
    ids=["gap", "unfinished", "offset", "interleaved"],
)
def test_cut_or_shuffled_object_data_is_refused(pieces: list[bytes]) -> None:
    with pytest.raises(BackupError):
        list(payload.records(_contents(*pieces), COLUMNS))


def test_the_trailer_must_count_the_blobs() -> None:
    with pytest.raises(BackupError, match="trailer"):
        list(payload.records(_contents(_piece(0, b"abcde", last=True), blobs=2), COLUMNS))


def test_a_row_after_object_data_is_refused() -> None:
    late_row = payload.row_line([2])
    with pytest.raises(BackupError):
        list(payload.records(_contents(_piece(0, b"abcde", last=True), late_row), COLUMNS))


def test_a_backup_from_before_blobs_were_carried_still_reads() -> None:
    head = payload.table_line("t", ["a"]) + payload.row_line([1])
    old_end = json.dumps({"end": {"files": 0, "rows": 1, "tables": {"t": 1}}}).encode() + b"\n"
    contents = list(payload.records([head + old_end], COLUMNS))[-1]
    assert isinstance(contents, payload.Contents) and contents.blobs == 0


def test_every_referenced_blob_must_be_carried() -> None:
    objects.check_blobs({BLOB}, {BLOB})
    with pytest.raises(BackupError, match="lacks 1 object store blobs"):
        objects.check_blobs({BLOB, "1f" * 16}, {BLOB})
    with pytest.raises(BackupError, match="no blob id"):
        objects.check_blobs(set(), {"../../etc/passwd"})
