"""Encrypt, Decrypt and GenerateDataKey on 1 SQLite node, 1 PostgreSQL node and 2 PostgreSQL
nodes, side by side in one run, and the database statements the hot path sends
(pg_stat_statements).

All three setups run at once for the whole run (each node is `strongroom serve --workers 1`,
so 2 nodes are 2 server processes); every round measures each (setup, target) cell once, in
an order rotated from round to round, so a burst of noise on the machine hits every setup
alike instead of whichever setup happened to run then. Two nodes are loaded by two wrk
processes at once (half the connections each); their req/s add up and the higher p99 of the
two is shown. Before measuring, each setup's signed requests are checked (200, replayable,
the answers decrypt; a wrong signature gets 400). The 1-minute load average before each run is
recorded and a run that starts above one per CPU is marked noisy. Statements are counted per
run (pg_stat_statements reset first, that setup's database only) and sorted: change-feed
polls, audit and usage flushes, leases and the scheduler are background jobs; anything else
is a statement of the request path, and on the hot path there must be none.

    .venv/bin/python bench/multinode_bench.py            # the reproducible default:
                                                         # 5 rounds x 10 s, c=16
Results: bench/results/multinode-<time>.json (every run, the summary, commit, host, load).
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import psycopg

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from tests.support.postgres import remove_cluster, start_cluster  # noqa: E402

import wrk_runner  # noqa: E402
from run_kms_bench import (  # noqa: E402
    PLAINTEXT,
    RESULTS_DIR,
    STRONGROOM,
    Target,
    answers,
    free_port,
    read_credentials,
    server,
    source_version,
    spread,
    verify,
)
from sign_request import sign, write_wrk_script  # noqa: E402

TARGET_NAMES = ("encrypt1k", "decrypt", "gdk")
BACKGROUND = (
    "changes",
    "audit_",
    "key_usage",
    "leases",
    "meta",
    "alembic_version",
    "s3_campaigns",  # the re-encryption campaign runner's claim, once a second
)
# The scheduler's queries for due work (every scheduler_seconds, not per request).
SCHEDULER = ("deletion_date <=", "next_rotation_date <=", "valid_to <=")


def statement_kind(query: str) -> str:
    lowered = query.lower()
    if "pg_stat_statements" in lowered:
        return "benchmark"  # this script's own reset
    if any(marker in lowered for marker in SCHEDULER):
        return "background: scheduler"
    for table in BACKGROUND:
        if table in lowered:
            return "background: " + table.rstrip("_")
    if lowered.startswith(("begin", "commit", "rollback", "select pg_advisory", "select 1")):
        return "background: transaction control"
    return "request path"


def start_nodes(stack: ExitStack, tmp: Path, url: str, count: int, name: str) -> list[str]:
    endpoints: list[str] = []
    first: Path | None = None
    for i in range(count):
        data_dir = tmp / f"{name}-{i}"
        if first is not None:
            data_dir.mkdir(mode=0o700)
            (data_dir / "root.key").write_bytes((first / "root.key").read_bytes())
            (data_dir / "root.key").chmod(0o600)
        port = free_port()
        command = [str(STRONGROOM), "serve", "--data-dir", str(data_dir), "--port", str(port)]
        command += ["--workers", "1"] + (["--database-url", url] if url else [])
        endpoint = f"http://127.0.0.1:{port}"
        stack.enter_context(
            server(
                command, tmp / f"{name}-{i}.log", functools.partial(answers, endpoint + "/healthz")
            )
        )
        endpoints.append(endpoint)
        first = first or data_dir
    return endpoints


def bodies(kms: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)["CiphertextBlob"]
    return {
        "encrypt1k": (
            "Encrypt",
            {"KeyId": key_id, "Plaintext": base64.b64encode(PLAINTEXT).decode()},
        ),
        "decrypt": ("Decrypt", {"CiphertextBlob": base64.b64encode(blob).decode()}),
        "gdk": ("GenerateDataKey", {"KeyId": key_id, "KeySpec": "AES_256"}),
    }


def load(
    endpoints: list[str],
    creds: Any,
    request: tuple[str, dict[str, Any]],
    args: Any,
    tmp: Path,
) -> dict[str, Any]:
    """wrk against every node at once; summed req/s, the highest p99."""
    operation, body = request
    results: list[wrk_runner.WrkResult] = []
    per_node = max(1, args.connections // len(endpoints))

    def one(i: int, endpoint: str) -> None:
        script = tmp / f"wrk-{i}.lua"
        request = sign(endpoint, creds.access_key, creds.secret_key, operation, body)
        write_wrk_script(request, script)
        results.append(wrk_runner.run(endpoint + "/", script, per_node, args.seconds))

    threads = [threading.Thread(target=one, args=(i, e)) for i, e in enumerate(endpoints)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if not all(r.valid for r in results):
        raise RuntimeError(f"a run had errors: {results}")
    return {
        "rps": sum(r.rps for r in results),
        "p99_ms": max(r.p99_ms for r in results),
        "requests": sum(r.requests for r in results),
    }


def _setups(
    stack: ExitStack, tmp: Path, cluster: Any
) -> list[tuple[str, list[str], str, Any, dict[str, tuple[str, dict[str, Any]]]]]:
    """(name, endpoints, database url, credentials, requests) of every setup, all started."""
    setups = []
    for name, nodes, postgres in (("sqlite-1", 1, False), ("postgres-1", 1, True),
                                  ("postgres-2", 2, True)):  # fmt: skip
        url = ""
        if postgres:
            url = cluster.new_database()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        endpoints = start_nodes(stack, tmp, url, nodes, name)
        creds = read_credentials(tmp / f"{name}-0")
        kms = boto3.client(
            "kms", endpoint_url=endpoints[0], region_name="us-east-1",
            aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key,
        )  # fmt: skip
        requests = bodies(kms)
        for endpoint in endpoints:  # every node answers the signed requests correctly
            verify(
                [Target(t, endpoint, op, body, 0) for t, (op, body) in requests.items()],
                creds,
                kms,
            )
        setups.append((name, endpoints, url, creds, requests))
    return setups


def _statements(url: str) -> Counter[str]:
    statements = Counter[str]()
    with psycopg.connect(url, autocommit=True) as conn:
        for query, calls in conn.execute(
            "SELECT query, calls FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ):
            kind = statement_kind(str(query))
            statements[kind] += int(str(calls))
            if kind == "request path":
                print("  request-path statement:", query, file=sys.stderr)
    return statements


def bench(args: Any, tmp: Path, cluster: Any) -> list[dict[str, Any]]:
    rows = []
    with ExitStack() as stack:
        setups = _setups(stack, tmp, cluster)
        cells = [(setup, target) for setup in setups for target in TARGET_NAMES]
        warm = argparse.Namespace(connections=args.connections, seconds=args.warmup)
        for (_, endpoints, _, creds, requests), target in cells:
            load(endpoints, creds, requests[target], warm, tmp)
        for run in range(1, args.runs + 1):
            shift = (run - 1) % len(cells)
            for (name, endpoints, url, creds, requests), target in cells[shift:] + cells[:shift]:
                if url:
                    with psycopg.connect(url, autocommit=True) as conn:
                        conn.execute("SELECT pg_stat_statements_reset()")
                load_before = os.getloadavg()[0]
                row = load(endpoints, creds, requests[target], args, tmp)
                statements = _statements(url) if url else Counter[str]()
                row |= {
                    "setup": name,
                    "target": target,
                    "run": run,
                    "load1": load_before,
                    "noisy": load_before > (os.cpu_count() or 1),
                    "statements": statements,
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds per cell")
    args = parser.parse_args()
    started = datetime.now(UTC)
    load_at_start = os.getloadavg()
    if load_at_start[0] > (os.cpu_count() or 1):
        print(f"WARNING: load average {load_at_start[0]:.1f} on {os.cpu_count()} CPUs: "
              "the machine is busy, results will be noisy", file=sys.stderr)  # fmt: skip
    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory(prefix="strongroom-bench-") as name:
            rows = bench(args, Path(name), cluster)
    finally:
        remove_cluster(cluster)
    table = summary(rows)
    print("\n" + table)
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"multinode-{started:%Y%m%dT%H%M%SZ}.json"
    out.write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "host": {
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "load_at_start": load_at_start,
                },
                "source": source_version(),
                "config": vars(args) | {"plaintext_bytes": len(PLAINTEXT)},
                "runs": rows,
                "table": table,
            },
            indent=2,
        )
    )
    print(f"\nraw results: {out}")


def summary(rows: list[dict[str, Any]]) -> str:
    """Median req/s [min-max] over the rounds, its ratio to sqlite-1's median, median p99,
    request-path statements summed over the rounds, and rounds that started noisy."""
    lines = [
        "| target | setup | req/s median [min-max] | ratio to sqlite-1 | p99 ms | "
        "request-path statements | noisy runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for target in TARGET_NAMES:
        base = [r["rps"] for r in rows if r["target"] == target and r["setup"] == "sqlite-1"]
        for setup in ("sqlite-1", "postgres-1", "postgres-2"):
            mine = [r for r in rows if r["target"] == target and r["setup"] == setup]
            rps = [r["rps"] for r in mine]
            ratio = statistics.median(rps) / statistics.median(base)
            p99 = statistics.median(r["p99_ms"] for r in mine)
            hot = sum(r["statements"].get("request path", 0) for r in mine)
            requests = sum(r["requests"] for r in mine)
            shown = "-" if setup == "sqlite-1" else f"{hot} (of {requests:,} requests)"
            noisy = sum(1 for r in mine if r["noisy"])
            cells = (target, setup, spread(rps, ".0f"), f"{ratio:.2f}", f"{p99:.1f}", shown,
                     f"{noisy} of {len(mine)}")  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
