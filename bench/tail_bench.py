"""The tail at 64 connections over many runs on one long-lived server, with the WAL's size.

A stall that comes once in a sitting (issue #17 item 4) hides in a median of three runs. This
runs ``--runs`` rounds of every target on ONE ``strongroom serve`` (the database, its WAL and
the trail keep growing as in a sitting), fresh requests (``run_kms_bench.py``'s fresh mode),
and after each run reads the WAL file: its size, and whether SQLite started it again from the
beginning since the previous run (new salts in its header; docs/adr/0041). It prints one line
per run and how many runs passed the goals (p99 < 25 ms, p99.9 < 50 ms).

    .venv/bin/python bench/tail_bench.py --runs 10 --seconds 10
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from run_kms_bench import (
    STRONGROOM,
    answers,
    free_port,
    kms_client,
    make_targets,
    read_credentials,
    run_once,
    server,
)

P99_GOAL_MS, P999_GOAL_MS = 25.0, 50.0
POOL = 2048


def wal_state(database: Path) -> tuple[float, bytes]:
    """(MiB, salts) of the database's WAL file: SQLite draws new salts each time it starts the
    WAL again from the beginning. (0, b"") while there is none."""
    wal = database.with_name(database.name + "-wal")
    try:
        with open(wal, "rb") as file:
            header = file.read(24)
        size = wal.stat().st_size
    except FileNotFoundError:
        return 0.0, b""
    return size / 2**20, header[16:24]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--targets", nargs="+", default=["encrypt1k", "gdk"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strongroom-tail-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [str(STRONGROOM), "serve", "--data-dir", str(tmp / "data"), "--port", str(port)]
        command += ["--workers", str(args.workers)]
        database = tmp / "data" / "strongroom.db"
        with server(command, tmp / "serve.log", lambda: answers(url + "/health")) as pid:
            creds = read_credentials(tmp / "data")
            targets = {
                t.name: t for t in make_targets(kms_client(url, creds), url, None, (pid, pid), POOL)
            }
            print("| run | target | req/s | p50 ms | p99 ms | p99.9 ms | WAL MiB | WAL restarted |")
            print("|---|---|---|---|---|---|---|---|")
            met, total, worst, salts = 0, 0, 0.0, b""
            for run in range(args.runs):
                for name in args.targets:
                    row = run_once(
                        targets[name],
                        creds,
                        tmp / "requests.lua",
                        args.connections,
                        args.seconds,
                        mode="fresh",
                        pool=POOL,
                    )
                    size, now = wal_state(database)
                    restarted, salts = ("yes" if now != salts else "no"), now
                    p99, p999 = float(row["p99_ms"]), float(row["p999_ms"])
                    total += 1
                    met += p99 < P99_GOAL_MS and p999 < P999_GOAL_MS
                    worst = max(worst, p999)
                    print(
                        f"| {run} | {name} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {p99:.1f} "
                        f"| {p999:.1f} | {size:.0f} | {restarted} |",
                        flush=True,
                    )
            print(
                f"\n{met} of {total} runs with p99 < {P99_GOAL_MS:g} ms and p99.9 < "
                f"{P999_GOAL_MS:g} ms; worst p99.9 {worst:.1f} ms"
            )


if __name__ == "__main__":
    main()
