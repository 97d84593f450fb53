"""Strongroom Encrypt / Decrypt / GenerateDataKey against a no-op endpoint, with wrk.

For each worker count: start a fresh ``strongroom serve`` and the no-op app (same uvicorn
options, same worker count), create a key, check that the pre-signed requests really work,
then for each request mode and connection count run every target N times, interleaved, and
print a Markdown table. Request modes: ``replay`` sends one signed request again and again;
``fresh`` cycles through a pool of distinct signed requests (distinct plaintexts and
ciphertexts, and boto3's per-call ``amz-sdk-invocation-id`` header), as real clients send.
With ``--moto PATH`` moto's server gets the same requests in the same sitting.
Raw results go to ``bench/results/<timestamp>.json``.

    .venv/bin/python bench/run_kms_bench.py --moto /tmp/moto/bin/moto_server
    .venv/bin/python bench/run_kms_bench.py --workers 2 1 --runs 5 --seconds 5 --modes fresh
"""

from __future__ import annotations

import argparse
import base64
import configparser
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

import wrk_runner
from sign_request import SignedRequest, sign, write_wrk_script

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
STRONGROOM = Path(sys.executable).parent / "strongroom"
TARGETS = ("noop", "encrypt1k", "decrypt", "gdk")
MODES = ("replay", "fresh")
MOTO_ACCOUNT = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
PLAINTEXT = bytes(range(256)) * 4  # 1 KiB
CLK_TCK = os.sysconf("SC_CLK_TCK")
DASH = "\u2013"  # en dash, as in "[min-max]" ranges


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    endpoint: str
    operation: str
    body: dict[str, Any]
    server_pid: int  # whose process tree's CPU time is charged to this target
    # The fresh mode's distinct bodies (one per pooled request); empty: ``body`` each time.
    pool: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(command: list[str], log: Path, ready: Callable[[], bool]) -> Iterator[int]:
    """Run ``command`` in its own process group until the block ends; yield its pid."""
    with log.open("w") as out:
        # The server's throughput is measured, not the account's request quota.
        env = {**os.environ, "STRONGROOM_REQUEST_QUOTAS": "off"}
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
    try:
        deadline = time.monotonic() + 30
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start; see {log}:\n{log.read_text()}")
            time.sleep(0.2)
        yield proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def answers(url: str, method: str = "GET") -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU time of ``root`` and all its descendants (from /proc)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier += children
    return sum(ticks.get(pid, 0) for pid in tree) / CLK_TCK


# --- requests --------------------------------------------------------------------------------


def read_credentials(data_dir: Path) -> Credentials:
    parser = configparser.ConfigParser()
    parser.read(data_dir / "aws" / "credentials")
    section = parser["default"]
    return Credentials(section["aws_access_key_id"], section["aws_secret_access_key"])


def kms_client(url: str, creds: Credentials) -> Any:
    """A boto3 KMS client of ``url`` with ``creds`` (us-east-1)."""
    return boto3.client(
        "kms",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
    )


def send(request: SignedRequest) -> tuple[int, dict[str, Any]]:
    """Replay a signed request with urllib (as wrk will); return status and JSON reply."""
    http = urllib.request.Request(
        request.url, data=request.body, method=request.method, headers=request.headers
    )
    try:
        with urllib.request.urlopen(http, timeout=10) as reply:
            return reply.status, json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def signed(target: Target, creds: Credentials) -> SignedRequest:
    return sign(target.endpoint, creds.access_key, creds.secret_key, target.operation, target.body)


def signed_pool(target: Target, creds: Credentials, size: int) -> list[SignedRequest]:
    """``size`` distinct requests, each signed now with its own invocation id."""
    bodies = target.pool or (target.body,)
    return [
        sign(
            target.endpoint,
            creds.access_key,
            creds.secret_key,
            target.operation,
            bodies[i % len(bodies)],
            invocation_id=str(uuid.uuid4()),
        )
        for i in range(size)
    ]


def verify(targets: list[Target], creds: Credentials, kms: Any) -> None:
    """The pre-signed requests must do the real work, also when replayed; else stop."""
    for target in targets:
        request = signed(target, creds)
        for attempt in ("first", "replayed"):
            status, reply = send(request)
            if status != 200:
                raise RuntimeError(f"{target.name} ({attempt}): HTTP {status} {reply}")
            check_reply(target.name, reply, kms)
    forged = signed(targets[1], Credentials(creds.access_key, "wrong" + creds.secret_key))
    status, reply = send(forged)
    if status != 400 or reply.get("__type") != "InvalidSignatureException":
        raise RuntimeError(f"a wrongly signed request was not refused: {status} {reply}")
    print("verified: signed requests succeed when replayed; a bad signature gets 400")


def check_reply(name: str, reply: dict[str, Any], kms: Any) -> None:
    if name == "encrypt1k":
        blob = base64.b64decode(reply["CiphertextBlob"])
        if kms.decrypt(CiphertextBlob=blob)["Plaintext"] != PLAINTEXT:
            raise RuntimeError("Encrypt's CiphertextBlob does not decrypt to the plaintext")
    elif name == "decrypt":
        if base64.b64decode(reply["Plaintext"]) != PLAINTEXT:
            raise RuntimeError("Decrypt did not return the expected Plaintext")
    elif name == "gdk":
        plaintext = base64.b64decode(reply["Plaintext"])
        blob = base64.b64decode(reply["CiphertextBlob"])
        if len(plaintext) != 32 or kms.decrypt(CiphertextBlob=blob)["Plaintext"] != plaintext:
            raise RuntimeError("GenerateDataKey returned an unusable data key")


# --- the benchmark ---------------------------------------------------------------------------


def run_once(
    target: Target,
    creds: Credentials,
    script: Path,
    connections: int,
    seconds: int,
    *,
    mode: str = "replay",
    pool: int = 0,
) -> dict[str, Any]:
    # Signed again for every run, so no request is older than one run.
    requests = signed_pool(target, creds, pool) if mode == "fresh" else signed(target, creds)
    write_wrk_script(requests, script)
    load = os.getloadavg()
    cpu_before = tree_cpu_seconds(target.server_pid)
    result = wrk_runner.run(target.endpoint + "/", script, connections, seconds)
    server_cpu = tree_cpu_seconds(target.server_pid) - cpu_before
    per_request = server_cpu * 1e6 / result.requests if result.requests else 0.0
    return {
        "loadavg_before": load,
        "server_cpu_us_per_request": round(per_request, 1),
        **result.to_json(),
    }


def make_targets(
    kms: Any, kms_url: str, noop_url: str | None, pids: tuple[int, int], pool: int = 0
) -> list[Target]:
    """The targets; the no-op gets the very Encrypt requests the KMS gets. ``pool``: how many
    distinct plaintexts (and ciphertexts of them, made now) the fresh mode cycles through."""
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)["CiphertextBlob"]
    encrypt = {"KeyId": key_id, "Plaintext": base64.b64encode(PLAINTEXT).decode()}
    decrypt = {"CiphertextBlob": base64.b64encode(blob).decode()}
    gdk = {"KeyId": key_id, "KeySpec": "AES_256"}
    plaintexts = [os.urandom(len(PLAINTEXT)) for _ in range(pool)]
    encrypts = tuple(
        {"KeyId": key_id, "Plaintext": base64.b64encode(p).decode()} for p in plaintexts
    )
    decrypts = tuple(
        {
            "CiphertextBlob": base64.b64encode(
                kms.encrypt(KeyId=key_id, Plaintext=p)["CiphertextBlob"]
            ).decode()
        }
        for p in plaintexts
    )
    kms_pid, noop_pid = pids
    targets = [
        Target("encrypt1k", kms_url, "Encrypt", encrypt, kms_pid, encrypts),
        Target("decrypt", kms_url, "Decrypt", decrypt, kms_pid, decrypts),
        Target("gdk", kms_url, "GenerateDataKey", gdk, kms_pid),
    ]
    if noop_url is None:
        return targets
    return [Target("noop", noop_url, "Encrypt", encrypt, noop_pid, encrypts), *targets]


def run_rounds(
    targets: list[Target],
    creds: Credentials,
    args: argparse.Namespace,
    script: Path,
    runs: int | None = None,
) -> list[dict[str, Any]]:
    rows = []
    for mode in args.modes:
        for connections in args.connections:
            for run in range(1, (runs or args.runs) + 1):
                # Rotate the order each round so no target always runs first or last.
                shift = (run - 1) % len(targets)
                for target in targets[shift:] + targets[:shift]:
                    row = run_once(
                        target, creds, script, connections, args.seconds, mode=mode, pool=args.pool
                    )
                    row |= {
                        "mode": mode,
                        "connections": connections,
                        "target": target.name,
                        "run": run,
                    }
                    rows.append(row)
                    print(
                        f"  {mode:<6} c={connections:<3} {target.name:<10} run {run}: "
                        f"{row['rps']:8.0f} req/s  p50 {row['p50_ms']:.2f} ms  "
                        f"p99 {row['p99_ms']:.2f} ms  p99.9 {row['p999_ms']:.2f} ms  "
                        f"cpu {row['server_cpu_us_per_request']:.0f} µs/req  "
                        f"load {row['loadavg_before'][0]:.2f}"
                        f"{'' if row['valid'] else '  INVALID'}",
                        flush=True,
                    )
    return rows


def bench_workers(workers: int, args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    """Fresh servers with ``workers`` workers each; every run of every cell."""
    print(f"--- {workers} worker(s) per server")
    data_dir = tmp / f"data-w{workers}"
    kms_port, noop_port = free_port(), free_port()
    kms_url, noop_url = f"http://127.0.0.1:{kms_port}", f"http://127.0.0.1:{noop_port}"
    kms_cmd = [str(STRONGROOM), "serve", "--data-dir", str(data_dir)]
    kms_cmd += f"--port {kms_port} --workers {workers}".split()
    noop_cmd = [sys.executable, str(BENCH_DIR / "noop_app.py")]
    noop_cmd += f"--port {noop_port} --workers {workers}".split()
    kms_log, noop_log = tmp / f"strongroom-w{workers}.log", tmp / f"noop-w{workers}.log"
    with (
        server(kms_cmd, kms_log, lambda: answers(kms_url + "/health")) as kms_pid,
        server(noop_cmd, noop_log, lambda: answers(noop_url + "/", "POST")) as noop_pid,
    ):
        creds = read_credentials(data_dir)
        kms = kms_client(kms_url, creds)
        targets = make_targets(kms, kms_url, noop_url, (kms_pid, noop_pid), args.pool)
        targets = [t for t in targets if t.name in args.targets or t.name == "noop"]
        verify(targets, creds, kms)
        script = tmp / "request.lua"
        for target in targets:  # warm up: every worker's key, material and signing-key caches
            run_once(target, creds, script, max(args.connections), args.warmup)
        rows = run_rounds(targets, creds, args, script)
        return [row | {"workers": workers} for row in rows]


def bench_moto(path: str, args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    """moto's server (a peer) with the same requests, ``--moto-runs`` rounds per cell."""
    print("--- moto")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [path, "-H", "127.0.0.1", "-p", str(port)]
    with server(command, tmp / "moto.log", lambda: answers(url + "/moto-api/")) as pid:
        creds = Credentials(*MOTO_ACCOUNT)
        kms = kms_client(url, creds)
        # moto is slow: a smaller pool of distinct ciphertexts (the requests stay distinct).
        targets = make_targets(kms, url, None, (pid, pid), min(args.pool, 64))
        targets = [t for t in targets if t.name in args.targets]
        script = tmp / "moto.lua"
        for target in targets:
            run_once(target, creds, script, max(args.connections), args.warmup)
        rows = run_rounds(targets, creds, args, script, runs=args.moto_runs)
        return [row | {"workers": 0, "target": "moto-" + row["target"]} for row in rows]


# --- the report ------------------------------------------------------------------------------


def spread(values: list[float], fmt: str) -> str:
    if not values:
        return "INVALID"
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}{DASH}{max(values):{fmt}}]"


def _cell(row: dict[str, Any]) -> tuple[int, str, int, str]:
    return (row["workers"], row["mode"], row["connections"], row["target"])


def _order(cell: tuple[int, str, int, str]) -> tuple[int, int, int, int, int]:
    workers, mode, connections, target = cell
    peer, _, name = target.rpartition("-")
    return (
        workers == 0,
        -workers,
        MODES.index(mode),
        connections,
        bool(peer) * 10 + TARGETS.index(name),
    )


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians over valid runs; ratios to no-op paired by round (same sitting, mode and c);
    peers (moto) as the ratio of Strongroom's median to theirs."""
    summary: list[dict[str, Any]] = []
    medians: dict[tuple[str, int, str], float] = {}
    for cell in sorted({_cell(r) for r in rows}, key=_order):
        workers, mode, connections, target = cell
        mine = [r for r in rows if _cell(r) == cell]
        noop = {
            r["run"]: r
            for r in rows
            if r["valid"] and _cell(r) == (workers, mode, connections, "noop")
        }
        valid = [r for r in mine if r["valid"]]
        ratios = [r["rps"] / noop[r["run"]]["rps"] for r in valid if r["run"] in noop]
        rps = [r["rps"] for r in valid]
        if workers and rps:
            medians[(mode, connections, target)] = statistics.median(rps)
        summary.append(
            {
                "workers": workers,
                "mode": mode,
                "connections": connections,
                "target": target,
                "valid_runs": len(valid),
                "runs": len(mine),
                "rps": rps,
                "p50_ms": [r["p50_ms"] for r in valid],
                "p99_ms": [r["p99_ms"] for r in valid],
                "p999_ms": [r["p999_ms"] for r in valid],
                "ratio_to_noop": ratios,
                "server_cpu_us_per_request": [r["server_cpu_us_per_request"] for r in valid],
                "loadavg_before": [r["loadavg_before"][0] for r in mine],
            }
        )
    for s in summary:  # Strongroom's median req/s over the peer's, same mode, c and operation
        peer_of = s["target"].removeprefix("moto-")
        ours = medians.get((s["mode"], s["connections"], peer_of))
        if s["target"].startswith("moto-") and ours and s["rps"]:
            s["strongroom_over_peer"] = ours / statistics.median(s["rps"])
    return summary


def median_or_nan(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def markdown(summary: list[dict[str, Any]]) -> str:
    lines = [
        f"| workers | mode | target | c | req/s median [min{DASH}max] | p50 ms | p99 ms "
        "| p99.9 ms | ratio to no-op | server CPU µs/req | load before | valid runs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        if s["target"] == "noop":
            ratio = "1"
        elif "strongroom_over_peer" in s:
            ratio = f"Strongroom = {s['strongroom_over_peer']:.0f}x"
        else:
            ratio = spread(s["ratio_to_noop"], ".2f")
        lines.append(
            f"| {s['workers'] or 'peer'} | {s['mode']} | {s['target']} | {s['connections']} "
            f"| {spread(s['rps'], '.0f')} "
            f"| {median_or_nan(s['p50_ms']):.2f} | {median_or_nan(s['p99_ms']):.1f} "
            f"| {median_or_nan(s['p999_ms']):.1f} | {ratio} "
            f"| {median_or_nan(s['server_cpu_us_per_request']):.0f} "
            f"| {min(s['loadavg_before']):.1f}{DASH}{max(s['loadavg_before']):.1f} "
            f"| {s['valid_runs']}/{s['runs']} |"
        )
    return "\n".join(lines)


def source_version() -> dict[str, Any]:
    """The commit measured, and which files under src/ differed from it."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=BENCH_DIR, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "src_changes": git("status", "--porcelain", "--", "../src").splitlines(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[2],
        help="worker counts, each for both servers (default: 2)",
    )
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--runs", type=int, default=3, help="runs per cell (default 3)")
    parser.add_argument("--seconds", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds per target")
    parser.add_argument(
        "--modes", nargs="+", default=list(MODES), choices=MODES, help="request modes"
    )
    parser.add_argument(
        "--pool", type=int, default=2048, help="distinct requests per fresh-mode run"
    )
    parser.add_argument("--moto", default="", help="moto_server to measure as a peer")
    parser.add_argument("--moto-runs", type=int, default=1, help="runs per moto cell")
    parser.add_argument(
        "--targets",
        nargs="+",
        default=list(TARGETS[1:]),
        choices=TARGETS[1:],
        help="KMS targets (no-op always runs)",
    )
    args = parser.parse_args()
    started = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="strongroom-bench-") as tmp:
        for workers in args.workers:
            rows += bench_workers(workers, args, Path(tmp))
        if args.moto:
            rows += bench_moto(args.moto, args, Path(tmp))
    summary = summarize(rows)
    table = markdown(summary)
    print("\n" + table)
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}.json"
    out.write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "host": {
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                },
                "source": source_version(),
                "config": vars(args) | {"plaintext_bytes": len(PLAINTEXT)},
                "summary": summary,
                "runs": rows,
                "table": table,
            },
            indent=2,
        )
    )
    print(f"\nraw results: {out}")


if __name__ == "__main__":
    main()
