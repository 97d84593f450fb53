"""Encrypt, Decrypt and GenerateDataKey on 1 SQLite node, 1 PostgreSQL node and 2 PostgreSQL
nodes, in one run, and the database statements the hot path sends (pg_stat_statements).

Each node is `strongroom serve --workers 1`, so 2 nodes are 2 server processes. Two nodes are
loaded by two wrk processes at once (half the connections each); their req/s add up and the
higher p99 of the two is shown. The PostgreSQL cluster is a private one on this machine
(tests/support/postgres.py), as in the tests. Statements are counted for the measured window
only (pg_stat_statements reset first) and sorted: change-feed polls, audit and usage flushes
and leases are the background jobs; anything else is a statement of the request path, and on
the hot path there must be none.

    .venv/bin/python bench/multinode_bench.py [--seconds 10] [--connections 16] [--runs 2]
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import threading
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import psycopg

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from tests.support.postgres import remove_cluster, start_cluster  # noqa: E402

import wrk_runner  # noqa: E402
from run_kms_bench import (  # noqa: E402
    PLAINTEXT,
    STRONGROOM,
    answers,
    free_port,
    read_credentials,
    server,
)
from sign_request import sign, write_wrk_script  # noqa: E402

BACKGROUND = ("changes", "audit_", "key_usage", "leases", "meta", "alembic_version")
# The scheduler's queries for due work (every scheduler_seconds, not per request).
SCHEDULER = ("deletion_date <=", "next_rotation_date <=", "valid_to <=")


def statement_kind(query: str) -> str:
    lowered = query.lower()
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
            server(command, tmp / f"{name}-{i}.log", lambda e=endpoint: answers(e + "/healthz"))
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
) -> dict[str, float]:
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


def bench(name: str, url: str, nodes: int, args: Any, tmp: Path) -> list[dict[str, Any]]:
    rows = []
    with ExitStack() as stack:
        endpoints = start_nodes(stack, tmp, url, nodes, name)
        creds = read_credentials(tmp / f"{name}-0")
        kms = boto3.client(
            "kms", endpoint_url=endpoints[0], region_name="us-east-1",
            aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key,
        )  # fmt: skip
        for target, request in bodies(kms).items():
            load(endpoints, creds, request, argparse.Namespace(
                connections=args.connections, seconds=2), tmp)  # fmt: skip
            for run in range(1, args.runs + 1):
                statements = Counter[str]()
                if url:
                    with psycopg.connect(url, autocommit=True) as conn:
                        conn.execute("SELECT pg_stat_statements_reset()")
                row = load(endpoints, creds, request, args, tmp)
                if url:
                    with psycopg.connect(url, autocommit=True) as conn:
                        for query, calls in conn.execute(
                            "SELECT query, calls FROM pg_stat_statements "
                            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = "
                            "current_database())"
                        ):
                            kind = statement_kind(str(query))
                            statements[kind] += int(str(calls))
                            if kind == "request path":
                                print("  request-path statement:", query, file=sys.stderr)
                row |= {"setup": name, "target": target, "run": run, "statements": statements}
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory(prefix="strongroom-bench-") as name:
            tmp = Path(name)
            rows = bench("sqlite-1", "", 1, args, tmp)
            for setup, nodes in (("postgres-1", 1), ("postgres-2", 2)):
                url = cluster.new_database()
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                rows += bench(setup, url, nodes, args, tmp)
    finally:
        remove_cluster(cluster)
    print(summary(rows))


def summary(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| target | setup | req/s (runs) | ratio to sqlite-1 | p99 ms | request-path statements |"
    ]
    lines.append("|---|---|---|---|---|---|")
    for target in ("encrypt1k", "decrypt", "gdk"):
        base = [r["rps"] for r in rows if r["target"] == target and r["setup"] == "sqlite-1"]
        for setup in ("sqlite-1", "postgres-1", "postgres-2"):
            mine = [r for r in rows if r["target"] == target and r["setup"] == setup]
            rps = sorted(r["rps"] for r in mine)
            median = rps[len(rps) // 2]
            ratio = median / sorted(base)[len(base) // 2]
            p99 = sorted(r["p99_ms"] for r in mine)[len(mine) // 2]
            hot = sum(r["statements"].get("request path", 0) for r in mine)
            shown = "-" if setup == "sqlite-1" else str(hot)
            runs = ", ".join(f"{v:.0f}" for v in rps)
            cells = (target, setup, f"{median:.0f} ({runs})", f"{ratio:.2f}", f"{p99:.1f}", shown)
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
