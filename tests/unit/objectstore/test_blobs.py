"""The file blob writer: a small blob touches the filesystem only when it is committed (on a
thread, not the event loop), a large one goes to its temporary file as it grows, and a commit
that fails leaves nothing behind and closes nothing of anyone else's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from strongroom.objectstore.blobs import SHARD_RUN, WRITE_BUFFER, FileBlobStore


def _temporary(store: FileBlobStore) -> list[Path]:
    return sorted(store.temp_dir.glob("*.part"))


def test_a_small_blob_touches_the_disk_only_when_committed(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    writer = store.writer()
    writer.write(b"header")
    writer.write(os.urandom(4096))
    assert _temporary(store) == []
    writer.commit_now()
    assert _temporary(store) == []
    assert store.path(writer.blob_id).stat().st_size == 4102


def test_a_large_blob_is_written_as_it_grows(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    writer = store.writer()
    data = [os.urandom(65536) for _ in range(WRITE_BUFFER // 65536 + 3)]
    for piece in data:
        writer.write(piece)
    (temporary,) = _temporary(store)
    assert temporary.stat().st_size >= WRITE_BUFFER
    writer.commit_now()
    assert store.path(writer.blob_id).read_bytes() == b"".join(data)
    assert _temporary(store) == []


def test_a_failed_commit_then_abort_leaves_nothing_and_closes_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileBlobStore(tmp_path)
    writer = store.writer()
    writer.write(os.urandom(100))

    def refuse(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "rename", refuse)
    with pytest.raises(OSError, match="No space"):
        writer.commit_now()
    other = os.open(tmp_path / "someone-else", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        writer.abort()  # the writer's descriptor number may now be this one: left alone
        os.fstat(other)
    finally:
        os.close(other)
    assert _temporary(store) == []
    assert not store.path(writer.blob_id).exists()


def test_a_large_blob_starts_its_writeback_as_it_grows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from strongroom.objectstore import blobs

    started: list[tuple[int, int]] = []
    monkeypatch.setattr(blobs, "_start_writeback", lambda fd, o, n: started.append((o, n)))
    store = FileBlobStore(tmp_path)
    small = store.writer()
    small.write(os.urandom(4096))
    small.commit_now()
    assert started == []  # a small blob: its fsync alone
    large = store.writer()
    for _ in range(3 * WRITE_BUFFER // 65536):
        large.write(os.urandom(65536))
    large.commit_now()
    assert [o for o, _ in started] == [0, WRITE_BUFFER, 2 * WRITE_BUFFER]
    assert sum(n for _, n in started) == 3 * WRITE_BUFFER


def test_blobs_committed_together_take_each_step_in_order_and_fail_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileBlobStore(tmp_path)
    writers = [store.writer() for _ in range(4)]
    data = [os.urandom(100 + i) for i in range(4)]
    for writer, piece in zip(writers, data, strict=True):
        writer.write(piece)
    assert all(w.in_memory for w in writers)
    steps: list[tuple[str, str]] = []
    fsync, rename = os.fsync, os.rename

    def record_fsync(fd: int) -> None:
        steps.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def record_rename(source: str, target: str) -> None:
        if str(source).endswith(f"{writers[1].blob_id}.part"):
            raise OSError(28, "No space left on device")
        steps.append(("rename", str(target)))
        rename(source, target)

    monkeypatch.setattr(os, "fsync", record_fsync)
    monkeypatch.setattr(os, "rename", record_rename)
    outcomes = store.commit_all(writers)
    assert isinstance(outcomes[1], OSError)
    assert [o is None for o in outcomes] == [True, False, True, True]
    assert _temporary(store) == []
    assert not store.path(writers[1].blob_id).exists()
    for i in (0, 2, 3):
        final = store.path(writers[i].blob_id)
        assert final.read_bytes() == data[i]
        temporary = str(store.temp_dir / f"{writers[i].blob_id}.part")
        synced = steps.index(("fsync", temporary))
        renamed = steps.index(("rename", str(final)))
        directory = steps.index(("fsync", str(final.parent)))
        assert synced < renamed < directory  # as its own commit would, in order


def test_new_blobs_share_their_shard_directory_in_runs(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    ids = [store.writer().blob_id for _ in range(3 * SHARD_RUN)]
    assert len(set(ids)) == len(ids)
    assert all(store.path(i).name == i for i in ids)  # well-formed ids
    runs = [ids[n : n + SHARD_RUN] for n in range(0, len(ids), SHARD_RUN)]
    assert all(len({i[:4] for i in run}) == 1 for run in runs)
    assert len({run[0][12:] for run in runs}) == len(runs)  # the rest random each time
