"""CPU per audit group commit of K events, the way the server's writer thread commits.

A server-configured SQLite file (no automatic checkpoints; a PASSIVE checkpoint about every
second, not counted), a ``ChainedAuditLog`` whose ``_commit`` is called in a loop as the writer
thread calls it (its database connection kept between commits), and the CPU time of this
thread per commit: the audit writer's fixed cost per commit and its cost per event
(docs/adr/0038). CPU time, so it can be read on a shared machine.

    .venv/bin/python bench/audit_commit_bench.py --events 1 3 8 32 --seconds 3 --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

from strongroom.kms.audit.events import AuditEvent
from strongroom.kms.audit.writer import ChainedAuditLog
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.keystores.software import SoftwareKeyStore
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.engine import checkpoint_in_background

REGION = "eu-west-1"
ACCOUNT = "111111111111"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000001-aaaa-bbbb-cccc-000000000000"


def event(n: int) -> AuditEvent:
    """A Decrypt event as a request records it."""
    return AuditEvent(
        time=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=n),
        request_id=f"req-{n}",
        account_id=ACCOUNT,
        principal_arn=f"arn:aws:iam::{ACCOUNT}:user/u{n}",
        access_key_id=f"AKIA{ACCOUNT}",
        source_ip="192.0.2.7",
        operation="Decrypt",
        resources=(KEY_ARN,),
    )


def cpu_per_commit(count: int, seconds: float) -> float:
    """µs of this thread's CPU per commit of ``count`` events, over ``seconds``."""
    with tempfile.TemporaryDirectory(prefix="strongroom-commit-") as tmp:
        db = Database.open(f"sqlite:///{tmp}/strongroom.db")
        checkpoint = checkpoint_in_background(db.engine)
        assert checkpoint is not None  # a file database
        sink = ChainedAuditLog(db, SoftwareKeyStore("bench", Secret(os.urandom(32))), REGION)
        batch = [event(n) for n in range(count)]
        commits, spent = 0, 0.0
        end = time.monotonic() + seconds
        next_checkpoint = time.monotonic() + 1.0
        while time.monotonic() < end:
            started = time.thread_time()
            for item in batch:
                sink.record(item)
            sink._commit(raise_errors=True)  # as the writer thread commits: connection kept
            spent += time.thread_time() - started
            commits += 1
            if time.monotonic() > next_checkpoint:
                checkpoint()
                next_checkpoint = time.monotonic() + 1.0
        sink.stop()
        db.engine.dispose()
        return spent / commits * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1, 3, 8, 32])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("| events per commit | CPU µs per commit (median) | per event | runs |")
    print("|---|---|---|---|")
    for count in args.events:
        runs = [cpu_per_commit(count, args.seconds) for _ in range(args.runs)]
        median = statistics.median(runs)
        shown = ", ".join(f"{r:.0f}" for r in runs)
        print(f"| {count} | {median:.1f} | {median / count:.1f} | {shown} |")


if __name__ == "__main__":
    main()
