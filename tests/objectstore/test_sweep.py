"""The orphan blob sweep against a real server process killed mid-upload (SIGKILL), and an
orphan as a crash between a blob's rename and its commit leaves it; live objects survive."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from strongroom.objectstore.blobs import FileBlobStore
from tests.support.cli import run
from tests.support.s3 import bucket_name, s3_client
from tests.support.s3_raw import _sign
from tests.support.servers import in_process_server, server_process

MiB = 1024 * 1024


def _sweep(data_dir: Path, *grace: str) -> dict[str, Any]:
    status, out, err = run("admin", "--data-dir", str(data_dir), "sweep-blobs", *grace)
    assert status == 0, err
    return dict(json.loads(out))


def _age(paths: list[Path], seconds: float) -> None:
    when = time.time() - seconds
    for path in paths:
        os.utime(path, (when, when))


def _temporary_bytes(store: FileBlobStore) -> int:
    return sum(f.path.stat().st_size for f in store.files() if f.temporary)


def _files(store: FileBlobStore) -> dict[str, bool]:
    return {f.blob_id: f.temporary for f in store.files()}


def test_a_killed_writer_and_a_crash_before_commit_leave_orphans_the_sweep_removes(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "d"
    store_root = data_dir / "objects"
    with server_process(data_dir, workers=1) as server:
        s3 = s3_client(server)
        bucket = bucket_name("sweep")
        s3.create_bucket(Bucket=bucket)
        kept = {f"k{i}": os.urandom(100_000 + i) for i in range(3)}
        for key, data in kept.items():
            s3.put_object(Bucket=bucket, Key=key, Body=data)
        store = FileBlobStore(store_root)
        live = {b for b, temporary in _files(store).items() if not temporary}
        assert len(live) == 3
        # A PUT whose body is half sent when the server is killed.
        path = f"/{bucket}/interrupted"
        headers = _sign(
            server,
            "PUT",
            path,
            {"Content-Length": str(8 * MiB), "x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
            "UNSIGNED-PAYLOAD",
        )
        parts = urlsplit(server.endpoint)
        assert parts.hostname is not None and parts.port is not None
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        conn.putrequest("PUT", path, skip_accept_encoding=True)
        for name, value in headers.items():
            if name.lower() != "host":
                conn.putheader(name, value)
        conn.endheaders()
        conn.send(os.urandom(3 * MiB))
        deadline = time.monotonic() + 20
        while _temporary_bytes(store) < 2 * MiB and time.monotonic() < deadline:
            time.sleep(0.05)  # the writer has encrypted most of what was sent
        assert server.process is not None
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
        conn.close()
    files = _files(store)
    temporaries = [b for b, temporary in files.items() if temporary]
    assert len(temporaries) == 1
    # A crash between a blob's rename and its metadata commit: a committed file nobody lists.
    orphan = "ab" * 16
    store.path(orphan).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(store.path(sorted(live)[0]), store.path(orphan))

    young = _sweep(data_dir)  # default grace: everything is younger than an hour
    assert (young["RemovedBlobs"], young["RemovedTemporaryFiles"]) == (0, 0)
    assert young["KeptYoung"] == 2
    _age([f.path for f in store.files()], 2 * 3600)  # orphans and live blobs alike
    swept = _sweep(data_dir)
    assert (swept["RemovedBlobs"], swept["RemovedTemporaryFiles"]) == (1, 1)
    assert swept["RemovedBytes"] > 2 * MiB
    assert _files(store) == {b: False for b in live}
    again = _sweep(data_dir, "--grace-seconds", "60")
    assert (again["RemovedBlobs"], again["RemovedTemporaryFiles"], again["KeptYoung"]) == (0, 0, 0)
    with server_process(data_dir, workers=1) as restarted:
        s3 = s3_client(restarted)
        for key, data in kept.items():
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
        listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
        assert sorted(o["Key"] for o in listed) == sorted(kept)


def test_the_sweep_does_nothing_while_the_blobs_are_pinned(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "objects")
    writer = store.writer()
    writer.write(b"ciphertext")
    writer.commit_now()
    _age([store.path(writer.blob_id)], 2 * 3600)
    from strongroom.objectstore.sweep import sweep

    with store.pinned():
        result = sweep(store, set, time.time())
        assert result.skipped and store.path(writer.blob_id).exists()
        store.delete([writer.blob_id])  # a deletion meanwhile is left for a later sweep
        assert store.path(writer.blob_id).exists()
    result = sweep(store, set, time.time())
    assert (result.skipped, result.removed_blobs) == (False, 1)
    assert not store.path(writer.blob_id).exists()


def test_a_serving_worker_sweeps_in_the_background(tmp_path: Path) -> None:
    with in_process_server(
        tmp_path / "d", s3_sweep_seconds=0.2, s3_sweep_grace_seconds=60
    ) as server:
        s3 = s3_client(server)
        bucket = bucket_name("bgsweep")
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="live", Body=b"stays")
        store = FileBlobStore(server.data_dir / "objects")
        (live,) = [f for f in store.files() if not f.temporary]
        orphan = "cd" * 16
        store.path(orphan).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(live.path, store.path(orphan))
        young = "ef" * 16
        store.path(young).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(live.path, store.path(young))
        _age([store.path(orphan), live.path], 2 * 3600)
        deadline = time.monotonic() + 20
        while store.path(orphan).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not store.path(orphan).exists()
        assert store.path(young).exists()  # unreferenced but within the grace period
        assert s3.get_object(Bucket=bucket, Key="live")["Body"].read() == b"stays"
