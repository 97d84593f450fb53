"""One node's metrics, whole across its worker processes (docs/adr/0028).

Each worker keeps its own in-memory registry (the hot path only increments it) and publishes a
snapshot of it, as JSON, into the node's metrics directory (``<data_dir>/metrics``) once a
second, off the request path. A scrape answered by any worker merges its live registry with
the other workers' snapshots:

- counters and histograms are summed over every snapshot, including those of workers that
  have exited (their counts stay: the node's counters never go down while it runs);
- gauges (cache sizes, queues, session pools) are reported per worker (``worker`` label), for
  workers whose snapshot is fresh (written in the last ``STALE_SECONDS``).

``strongroom serve`` empties the directory when the node starts, so counters restart with the
node, as Prometheus expects of a restarted target.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import Metric

SUFFIX = ".json"
STALE_SECONDS = 10.0
_SUMMED = ("counter", "histogram")
_SUFFIX_ORDER = {"_bucket": 0, "_count": 1, "_sum": 2}


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    kind: str
    help: str
    samples: tuple[tuple[str, dict[str, str], float], ...]


@dataclass(frozen=True, slots=True)
class Snapshot:
    worker: str
    written: float
    families: tuple[Family, ...]


def families_of(metrics: Iterable[Metric]) -> tuple[Family, ...]:
    """What a worker publishes of its registry (``_created`` samples dropped: a node has no
    single creation time)."""
    return tuple(
        Family(
            m.name,
            m.type,
            m.documentation,
            tuple(
                (s.name, dict(s.labels), float(s.value))
                for s in m.samples
                if not s.name.endswith("_created")
            ),
        )
        for m in metrics
    )


def _json_value(value: float) -> float | str:
    """JSON has no NaN or infinity: those travel as text (``float`` reads them back)."""
    return value if math.isfinite(value) else str(value)


def encode(snapshot: Snapshot) -> bytes:
    return orjson.dumps(
        {
            "worker": snapshot.worker,
            "written": snapshot.written,
            "families": [
                {
                    "name": f.name,
                    "type": f.kind,
                    "help": f.help,
                    "samples": [(n, labels, _json_value(v)) for n, labels, v in f.samples],
                }
                for f in snapshot.families
            ],
        }
    )


def decode(raw: bytes) -> Snapshot:
    body: dict[str, Any] = orjson.loads(raw)
    return Snapshot(
        str(body["worker"]),
        float(body["written"]),
        tuple(
            Family(
                str(f["name"]),
                str(f["type"]),
                str(f["help"]),
                tuple(
                    (str(n), {str(k): str(v) for k, v in labels.items()}, float(value))
                    for n, labels, value in f["samples"]
                ),
            )
            for f in body["families"]
        ),
    )


class NodeDirectory:
    """The node's metrics directory: one snapshot file per worker that ever ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def new_worker_file(self) -> Path:
        """A file name no other worker of the node uses (pid plus a random part)."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.path / f"worker-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"

    def write(self, file: Path, snapshot: Snapshot) -> None:
        temporary = file.with_name(file.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(encode(snapshot))
        os.replace(temporary, file)

    def others(self, own: Path) -> Iterator[Snapshot]:
        """Every other worker's last snapshot (a file being replaced or unreadable is skipped:
        it is whole again at the next scrape)."""
        try:
            names = sorted(p for p in self.path.iterdir() if p.suffix == SUFFIX and p != own)
        except FileNotFoundError:
            return
        for path in names:
            try:
                yield decode(path.read_bytes())
            except (OSError, ValueError, KeyError, TypeError):
                continue

    def clear(self) -> None:
        """Forget the workers of a previous run (``strongroom serve`` at start)."""
        if not self.path.is_dir():
            return
        for path in self.path.iterdir():
            if path.name.endswith((SUFFIX, SUFFIX + ".tmp")):
                path.unlink(missing_ok=True)


def merge(snapshots: list[Snapshot], now: float) -> list[Metric]:
    """The node's families: counters and histograms summed, gauges per fresh worker."""
    kinds: dict[str, tuple[str, str]] = {}
    summed: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    gauges: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    fresh = [s for s in snapshots if now - s.written <= STALE_SECONDS]
    fresh_ids = {id(s) for s in fresh}
    for snapshot in snapshots:
        for family in snapshot.families:
            kinds.setdefault(family.name, (family.kind, family.help))
            if family.kind in _SUMMED:
                series = summed.setdefault(family.name, {})
                for name, labels, value in family.samples:
                    slot = (name, tuple(sorted(labels.items())))
                    series[slot] = series.get(slot, 0.0) + value
            elif id(snapshot) in fresh_ids:
                rows = gauges.setdefault(family.name, [])
                rows.extend(
                    (name, {**labels, "worker": snapshot.worker}, value)
                    for name, labels, value in family.samples
                )
    out: list[Metric] = []
    for name in sorted(kinds):
        kind, text = kinds[name]
        metric = Metric(name, text, kind)
        if kind in _SUMMED:
            for (sample, pairs), value in sorted(summed.get(name, {}).items(), key=_order):
                metric.add_sample(sample, dict(pairs), value)
        else:
            for sample, labels, value in gauges.get(name, []):
                metric.add_sample(sample, labels, value)
        out.append(metric)
    workers = Metric(
        "strongroom_node_workers", "Worker processes of this node publishing metrics", "gauge"
    )
    workers.add_sample("strongroom_node_workers", {}, float(len(fresh)))
    out.append(workers)
    return out


def _order(item: tuple[tuple[str, tuple[tuple[str, str], ...]], float]) -> tuple[Any, ...]:
    (sample, labels), _ = item
    series = tuple(kv for kv in labels if kv[0] != "le")
    bound = next((float(v) for k, v in labels if k == "le"), 0.0)
    rank = next((r for s, r in _SUFFIX_ORDER.items() if sample.endswith(s)), 3)
    return (series, rank, bound, sample)
