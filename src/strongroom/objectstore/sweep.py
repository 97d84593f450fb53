"""The orphan blob sweep: files under ``<data_dir>/objects`` that no record references.

Orphans come from a crash between a blob's rename and its metadata commit, from a writer killed
mid-body (a temporary ``tmp/*.part``), and from deletions skipped while a backup pinned the
blobs. A write in progress is never taken for an orphan: only files older than the grace period
(default one hour) are candidates, they are listed *before* the references are read, and a
writer renames a blob right after its last byte and commits its record right after the rename.
So a candidate is an orphan unless a writer stalled for the whole grace period between rename
and commit (a database outage makes that commit fail, and the writer deletes its blob itself).

The sweep holds the blobs unpinned while it runs: a backup waits for it, and a sweep finding a
backup running does nothing this time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from strongroom.objectstore.blobs import FileBlobStore

DEFAULT_GRACE_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class SweepResult:
    removed_blobs: int = 0
    removed_temporaries: int = 0
    removed_bytes: int = 0
    kept_young: int = 0  # unreferenced but within the grace period
    skipped: bool = False  # a backup held the blobs


def sweep(
    blobs: FileBlobStore,
    referenced: Callable[[], set[str]],
    now: float,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
) -> SweepResult:
    """Remove orphans older than ``grace_seconds`` (``now``: seconds since the epoch)."""
    with blobs.unpinned() as free:
        if not free:
            return SweepResult(skipped=True)
        cutoff = now - grace_seconds
        files = list(blobs.files())
        old = [f for f in files if f.modified < cutoff]
        young = len(files) - len(old)
        live = referenced()  # read after listing: see the module note
        removed_blobs = removed_temporaries = removed_bytes = 0
        for stored in old:
            if not stored.temporary and stored.blob_id in live:
                continue
            try:
                size = stored.path.stat().st_size
                stored.path.unlink()
            except FileNotFoundError:
                continue
            removed_bytes += size
            if stored.temporary:
                removed_temporaries += 1
            else:
                removed_blobs += 1
        kept_young = young - sum(1 for f in files if f.modified >= cutoff and f.blob_id in live)
    return SweepResult(removed_blobs, removed_temporaries, removed_bytes, kept_young)
