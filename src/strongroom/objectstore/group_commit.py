"""New objects' metadata, several concurrent writes in one transaction (group commit).

Each PutObject (and CopyObject) ends with one metadata write: the new record replaces the
key's old one, whose blobs are deleted once that has committed. Alone, each write costs a
transaction (the write lock, BEGIN, COMMIT) and, run on the event loop, holds up every other
request of the worker while it waits for the lock. Here the writes queue up, and one task per
worker writes whatever has queued, in order, in one transaction on a thread; the requests that
arrive meanwhile form the next batch.

Nothing is acknowledged early: a request's ``put`` returns only after the transaction holding
its record has committed. If a batch's transaction fails because a record broke a constraint
(its bucket was just deleted), each of its records is written again in a transaction of its
own, so that record fails alone; if it fails for the database's sake (locked, unreachable),
the whole batch fails at once. The committer, not the request, settles each record's blobs:
the replaced ones are deleted after the commit, and a record that failed has its own deleted.
A request that is cancelled meanwhile (the client went away) changes nothing: its record is
committed or not as if it had waited, and its blobs follow that outcome.

A small object's blob may come uncommitted (still in memory, ``write_blob(defer=True)``): the
same thread job first makes the batch's blobs durable (``BlobStore.commit_all``: temporary
file, fsync, rename, directory fsync, as each blob's own commit would), then writes the
records whose blobs succeeded; a blob that failed fails its record alone. One thread job per
small PUT instead of two (ADR 36).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from strongroom.objectstore.blobs import BlobStore, BlobWriter
from strongroom.objectstore.records import ObjectRecord
from strongroom.objectstore.storage.metadata import Metadata, RecordRefused

log = logging.getLogger(__name__)
MAX_BATCH = 64  # records per transaction


@dataclass(slots=True)
class _Pending:
    record: ObjectRecord
    future: asyncio.Future[None]
    blob: BlobWriter | None = field(default=None)  # to make durable before the record
    error: BaseException | None = field(default=None)


class GroupCommit:
    def __init__(self, metadata: Metadata, blobs: BlobStore, max_batch: int = MAX_BATCH) -> None:
        self._metadata = metadata
        self._blobs = blobs
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def put(self, record: ObjectRecord, blob: BlobWriter | None = None) -> None:
        """Make ``record`` the object under its key; returns once that is committed.
        ``blob``: the record's blob, not yet committed; committed first (or aborted)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # One event loop per worker; a new loop (tests, tools) starts afresh.
            self._loop, self._queue, self._writer = loop, [], None
        pending = _Pending(record, loop.create_future(), blob)
        self._queue.append(pending)
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_all())
        # shield: a cancelled request still leaves the outcome (and the blobs) to the writer.
        await asyncio.shield(pending.future)

    async def _write_all(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            try:
                await asyncio.to_thread(self._write, batch)  # it catches its own failures
            except asyncio.CancelledError:
                # The loop is shutting down: the batch may or may not have committed, and the
                # requests waiting are being cancelled too (blobs left over are the sweep's).
                for pending in [*batch, *self._queue]:
                    pending.future.cancel()
                for pending in self._queue:
                    if pending.blob is not None:
                        pending.blob.abort()
                self._queue = []
                raise
            for pending in batch:
                if pending.future.done():
                    continue  # the request's task was cancelled with its loop
                if pending.error is None:
                    pending.future.set_result(None)
                else:
                    pending.future.set_exception(pending.error)

    def _write(self, batch: list[_Pending]) -> None:
        """The batch's uncommitted blobs, then one transaction for the records whose blobs are
        durable; if it fails, one per record (on the worker thread)."""
        with_blobs = [p for p in batch if p.blob is not None]
        if with_blobs:
            try:
                outcomes = self._blobs.commit_all([p.blob for p in with_blobs if p.blob])
            except Exception as error:  # pragma: no cover - commit_all reports per blob
                outcomes = [error] * len(with_blobs)
            for pending, outcome in zip(with_blobs, outcomes, strict=True):
                pending.blob = None
                if outcome is not None:
                    self._fail([pending], outcome)
            batch = [p for p in batch if p.error is None]
            if not batch:
                return
        self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        """One transaction for the batch; if it fails, one per record."""
        try:
            garbage = self._metadata.put_objects([p.record for p in batch])
        except RecordRefused as error:
            if len(batch) > 1:  # find the record(s) refused; the others are written
                for pending in batch:
                    self._commit([pending])
                return
            self._fail(batch, error)
            return
        except Exception as error:
            # The database, not a record (locked past the busy timeout, unreachable): every
            # record of the batch fails at once, not one wait per record.
            self._fail(batch, error)
            return
        self._delete([blob for blobs in garbage for blob in blobs])

    def _fail(self, batch: list[_Pending], error: Exception) -> None:
        for pending in batch:
            pending.error = error
        self._delete([b.blob_id for p in batch for b in p.record.blobs])

    def _delete(self, blob_ids: list[str]) -> None:
        """Best effort, as every deletion of blobs: what is left is the sweep's (sweep.py)."""
        try:
            self._blobs.delete(blob_ids)
        except OSError:
            log.warning("could not delete %d blobs; the sweep will", len(blob_ids), exc_info=True)
