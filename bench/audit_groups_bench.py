"""Events per audit group commit: ``strongroom serve`` with several workers under wrk.

Starts the server (``--workers``), sends replayed Encrypt 1 KiB requests (``run_kms_bench.py``'s)
at each ``--connections`` for ``--seconds``, and counts, in the database, the events appended
and the signed heads (one per group commit) in that window. A commit has a fixed cost
(``audit_commit_bench.py``), so fewer, larger commits mean less audit CPU per request
(docs/adr/0038). Each connection waits for its response's commit, so a worker's groups are
bounded by its share of the connections.

    .venv/bin/python bench/audit_groups_bench.py --workers 2 --connections 16 64 --seconds 6
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from pathlib import Path

import wrk_runner
from run_kms_bench import (
    STRONGROOM,
    answers,
    free_port,
    kms_client,
    make_targets,
    read_credentials,
    server,
    signed,
)
from sign_request import write_wrk_script


def chain_counts(database: Path) -> tuple[int, int]:
    """(last event seq, signed heads) of the audit chain."""
    with sqlite3.connect(database) as conn:
        row = conn.execute(
            "SELECT (SELECT coalesce(max(seq), 0) FROM audit_events),"
            " (SELECT count(*) FROM audit_signed_heads)"
        ).fetchone()
    return int(row[0]), int(row[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--seconds", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strongroom-groups-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [str(STRONGROOM), "serve", "--data-dir", str(tmp / "data")]
        command += ["--port", str(port), "--workers", str(args.workers)]
        with server(command, tmp / "kms.log", lambda: answers(url + "/health")) as pid:
            creds = read_credentials(tmp / "data")
            kms = kms_client(url, creds)
            targets = make_targets(kms, url, None, (pid, pid))
            target = next(t for t in targets if t.name == "encrypt1k")
            script = write_wrk_script(signed(target, creds), tmp / "encrypt1k.lua")
            database = tmp / "data" / "strongroom.db"
            print("| workers | connections | req/s | events | commits | events per commit |")
            print("|---|---|---|---|---|---|")
            for connections in args.connections:
                wrk_runner.run(url + "/", script, connections, 2)  # warm-up
                events0, heads0 = chain_counts(database)
                result = wrk_runner.run(url + "/", script, connections, args.seconds)
                events1, heads1 = chain_counts(database)
                events, commits = events1 - events0, heads1 - heads0
                print(
                    f"| {args.workers} | {connections} | {result.rps:,.0f} | {events} | "
                    f"{commits} | {events / max(commits, 1):.2f} |"
                )


if __name__ == "__main__":
    main()
