"""Reads of the object store take no write lock: a GET, a listing and a HEAD answer while
another process holds SQLite's write lock (they used to queue behind it)."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from tests.support.servers import InProcessServer


def test_reads_answer_while_a_writer_holds_the_lock(
    server: InProcessServer, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="readable", Body=b"while locked")
    holder = sqlite3.connect(server.data_dir / "strongroom.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer, mid-transaction
        started = time.monotonic()
        got = s3.get_object(Bucket=bucket, Key="readable")["Body"].read()
        listed = s3.list_objects_v2(Bucket=bucket)["KeyCount"]
        head = s3.head_object(Bucket=bucket, Key="readable")["ContentLength"]
        elapsed = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (got, listed, head) == (b"while locked", 1, 12)
    assert elapsed < 2.0, elapsed  # not the busy timeout
