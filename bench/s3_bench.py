"""Object store throughput: Strongroom's S3 API against moto's S3 server and a raw file copy.

Side by side in one run, through boto3 (one client per thread, keep-alive):

- small objects (4 KiB, 1 MiB): PUT then GET request rates for ``--seconds`` each, with
  ``--threads`` client threads, per SSE mode: SSE-S3 (when the KMS serves alias/aws/s3),
  SSE-KMS, SSE-KMS with an S3 Bucket Key, SSE-C; moto gets the same requests without SSE
  (it stores SSE headers but encrypts nothing);
- one large object (``--large-mib``, default 256): PUT (multipart, 64 MiB parts) and GET, MB/s;
- the physical limit: ``cat`` of the same file to a new file followed by ``sync`` (a durable
  copy, what an acknowledged PUT must match), the same without ``sync`` (page cache), and to
  /dev/null (read only);
- the client's ceiling: a null S3 endpoint (``s3_null.py``: raw ASGI on uvicorn, stores and
  hashes nothing) under the same requests;
- CPU per request of the client (this process) and of the server (its process group), per
  cell: the client runs on the same cores and takes its share of them.

Run: ``.venv/bin/python bench/s3_bench.py [--moto /path/to/venv/bin/moto_server]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.servers import free_port, read_credentials, wait_healthy

MiB = 1024 * 1024
ERRORS: list[str] = []  # failed requests of the current cell


def group_cpu(pgid: int | None) -> float:
    """CPU seconds (user + system) of every live process in process group ``pgid``."""
    if pgid is None:
        return 0.0
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Cpu:
    """Client and server CPU seconds spent between :meth:`start` and :meth:`stop`."""

    def __init__(self, pgid: int | None) -> None:
        self.pgid = pgid
        self.client = self.server = 0.0

    def start(self) -> None:
        self._client, self._server = own_cpu(), group_cpu(self.pgid)

    def stop(self) -> tuple[float, float]:
        return own_cpu() - self._client, group_cpu(self.pgid) - self._server


def client(endpoint: str, key_id: str, secret: str, threads: int) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(
            retries={"max_attempts": 1},
            s3={"addressing_style": "path"},
            max_pool_connections=threads + 2,
        ),
    )


def rate(threads: int, seconds: float, work: Callable[[int, int], None]) -> float:
    """Requests per second of ``work(thread, i)`` run by ``threads`` threads for ``seconds``;
    a failed request is counted in :data:`ERRORS` (and not in the rate)."""
    counts = [0] * threads
    deadline = time.monotonic() + seconds

    def loop(thread: int) -> None:
        i = done = 0
        while time.monotonic() < deadline:
            try:
                work(thread, i)
                done += 1
            except Exception as error:
                ERRORS.append(f"{type(error).__name__}: {error}"[:200])
            i += 1
        counts[thread] = done

    pool = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
    start = time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.monotonic() - start)


def small(
    s3: Any, bucket: str, size: int, extra: dict[str, str], args: Any, *, cpu: Cpu
) -> tuple[float, float, list[str]]:
    """(PUT req/s, GET req/s, [client/server CPU ms per request for PUT and GET])."""
    body = os.urandom(size)
    written: dict[int, list[int]] = {t: [] for t in range(args.threads)}

    def put(thread: int, i: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"s/{size}/{thread}/{i}", Body=body, **extra)
        written[thread].append(i)

    def get(thread: int, i: int) -> None:
        mine = written[thread] or [0]
        s3.get_object(
            Bucket=bucket, Key=f"s/{size}/{thread}/{mine[i % len(mine)]}", **get_extra(extra)
        )["Body"].read()

    shares = []
    rates = []
    for work in (put, get):
        cpu.start()
        per_second = rate(args.threads, args.seconds, work)
        client, server = cpu.stop()
        requests = per_second * args.seconds
        rates.append(per_second)
        shares.append(f"{client / requests * 1e3:.2f}/{server / requests * 1e3:.2f}")
    return rates[0], rates[1], shares


def get_extra(extra: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in extra.items() if k.startswith("SSECustomer")}


def large(
    s3: Any, bucket: str, path: Path, extra: dict[str, str], cpu: Cpu
) -> tuple[float, float, list[str]]:
    """(PUT MB/s, GET MB/s, [client/server CPU s per GB for PUT and GET])."""
    size = path.stat().st_size
    config = TransferConfig(multipart_threshold=64 * MiB, multipart_chunksize=64 * MiB)
    cpu.start()
    start = time.monotonic()
    s3.upload_file(str(path), bucket, "large", ExtraArgs=extra or None, Config=config)
    put = size / (time.monotonic() - start) / MiB
    shares = ["{:.2f}/{:.2f}".format(*(t / size * 1e9 for t in cpu.stop()))]
    cpu.start()
    start = time.monotonic()
    body = s3.get_object(Bucket=bucket, Key="large", **get_extra(extra))["Body"]
    got = 0
    for piece in body.iter_chunks(MiB):
        got += len(piece)
    assert got == size
    get = size / (time.monotonic() - start) / MiB
    shares.append("{:.2f}/{:.2f}".format(*(t / size * 1e9 for t in cpu.stop())))
    return put, get, shares


def raw_copy(path: Path, tmp: Path) -> tuple[float, float, float]:
    """MB/s of ``cat`` into a new file + ``sync`` (durable), without ``sync``, and to /dev/null."""
    size = path.stat().st_size
    speeds = []
    for n, command in enumerate(
        (
            f"cat {path} > {tmp}/copy-0.bin && sync {tmp}/copy-0.bin",
            f"cat {path} > {tmp}/copy-1.bin",
            f"cat {path} > /dev/null",
        )
    ):
        start = time.monotonic()
        subprocess.run(command, shell=True, check=True)
        speeds.append(size / (time.monotonic() - start) / MiB)
        (tmp / f"copy-{n}.bin").unlink(missing_ok=True)
    return speeds[0], speeds[1], speeds[2]


def ssec() -> dict[str, str]:
    key = os.urandom(32)
    return {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(key).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }


def strongroom_buckets(s3: Any, kms: Any) -> dict[str, tuple[str, dict[str, str]]]:
    """One bucket per SSE mode; SSE-S3 only when the KMS serves the managed key."""
    key = kms.create_key()["KeyMetadata"]["Arn"]
    try:
        kms.describe_key(KeyId="alias/aws/s3")
        managed = True
    except Exception:
        managed = False
    modes: dict[str, tuple[str, dict[str, str]]] = {}
    for mode in ("SSE-S3", "SSE-KMS", "SSE-KMS+BK", "SSE-C"):
        if mode == "SSE-S3" and not managed:
            continue
        bucket = f"bench-{mode.lower().replace('+', '-')}"
        s3.create_bucket(Bucket=bucket)
        extra: dict[str, str] = {}
        if mode.startswith("SSE-KMS"):
            default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
            rule = {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": "BK" in mode}
            s3.put_bucket_encryption(
                Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]}
            )
        elif mode == "SSE-C":
            extra = ssec()
        modes[mode] = (bucket, extra)
    return modes


def start_moto(path: str, threads: int) -> tuple[subprocess.Popen[bytes], Any]:
    port = free_port()
    process = subprocess.Popen(
        [path, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    s3 = client(f"http://127.0.0.1:{port}", "testing", "testing", threads)
    for _ in range(200):
        try:
            s3.create_bucket(Bucket="bench-moto")
            return process, s3
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("moto_server did not start")


# (name, boto3 client, bucket, extra arguments, server process group, /metrics URL or "")
Target = tuple[str, Any, str, dict[str, str], int | None, str]


def kms_calls(metrics: str) -> float:
    """KMS calls the server has audited so far (S3's calls to the KMS are audited, one event
    each; nothing else calls the KMS during a cell). Workers publish their counters once a
    second, so this waits for the last second's to be in."""
    if not metrics:
        return 0.0
    time.sleep(1.5)
    with urllib.request.urlopen(metrics, timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("strongroom_audit_events_committed_total "):
                return float(line.split()[1])
    return 0.0


def run(targets: list[Target], source: Path, args: Any) -> None:
    print(f"load before: {os.getloadavg()[0]:.1f}; {args.threads} threads, {args.seconds} s/cell")
    print(
        "| target | PUT 4 KiB req/s | GET 4 KiB req/s | PUT 1 MiB req/s | GET 1 MiB req/s |"
        f" PUT {args.large_mib} MiB MB/s | GET {args.large_mib} MiB MB/s |"
    )
    print("|---|---|---|---|---|---|---|")
    cpu_rows = []
    for name, target, bucket, extra, pgid, metrics in targets:
        cpu = Cpu(pgid)
        before = kms_calls(metrics)
        p4, g4, c4 = small(target, bucket, 4096, extra, args, cpu=cpu)
        calls = (kms_calls(metrics) - before) / ((p4 + g4) * args.seconds) * 1000
        p1, g1, c1 = small(target, bucket, MiB, extra, args, cpu=cpu)
        pl, gl, cl = large(target, bucket, source, extra, cpu)
        row = f"| {name} | {p4:.0f} | {g4:.0f} | {p1:.1f} | {g1:.1f} | {pl:.0f} | {gl:.0f} |"
        if ERRORS:
            row += f" {len(ERRORS)} failed requests, first: {ERRORS[0]}"
            ERRORS.clear()
        print(row, flush=True)
        audited = f"{calls:.1f}" if metrics else ""
        cpu_rows.append(f"| {name} | {' | '.join(c4 + c1 + cl)} | {audited} |")
    durable, cached, read = raw_copy(source, source.parent)
    print(
        f"| raw copy: cat > file && sync (PUT) / cat > /dev/null (GET) | | | | | {durable:.0f}"
        f" | {read:.0f} |"
    )
    print(f"| raw copy: cat > file, page cache only | | | | | {cached:.0f} | {cached:.0f} |")
    print()
    print("CPU per request, client/server: ms for the small objects, s per GB for the large one")
    print(
        "| target | PUT 4 KiB | GET 4 KiB | PUT 1 MiB | GET 1 MiB | PUT large | GET large |"
        " KMS calls per 1,000 4 KiB requests |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in cpu_rows:
        print(row)


def start_null(threads: int, workers: int, large: int) -> tuple[subprocess.Popen[bytes], Any]:
    """The null endpoint (s3_null.py) on uvicorn with ``workers`` workers."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(Path(__file__).parent),
            "s3_null:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        env={**os.environ, "S3_NULL_LARGE": str(large)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    s3 = client(f"http://127.0.0.1:{port}", "null", "null", threads)
    for _ in range(200):
        try:
            s3.head_bucket(Bucket="bench-null")
            return process, s3
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("the null endpoint did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--large-mib", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--moto", default=shutil.which("moto_server") or "")
    parser.add_argument(
        "--no-null", action="store_true", help="leave out the null endpoint (client ceiling)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "large.bin"
        with source.open("wb") as handle:
            for _ in range(args.large_mib):
                handle.write(os.urandom(MiB))
        port, data = free_port(), tmp / "data"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "strongroom.cli.main",
                "serve",
                "--data-dir",
                str(data),
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        moto = null = None
        try:
            endpoint = f"http://127.0.0.1:{port}"
            wait_healthy(endpoint, server)
            creds = read_credentials(data)
            s3 = client(endpoint, creds.access_key_id, creds.secret_access_key, args.threads)
            kms = boto3.client(
                "kms",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id=creds.access_key_id,
                aws_secret_access_key=creds.secret_access_key,
            )
            targets: list[Target] = [
                (f"strongroom {m}", s3, b, e, server.pid, f"{endpoint}/metrics")
                for m, (b, e) in strongroom_buckets(s3, kms).items()
            ]
            if args.moto:
                moto, moto_s3 = start_moto(args.moto, args.threads)
                targets.append(("moto (no SSE)", moto_s3, "bench-moto", {}, moto.pid, ""))
            if not args.no_null:
                null, null_s3 = start_null(args.threads, args.workers, args.large_mib * MiB)
                targets.append(
                    ("null endpoint (client ceiling)", null_s3, "bench-null", {}, null.pid, "")
                )
            run(targets, source, args)
        finally:
            for process in (server, moto, null):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=20)


if __name__ == "__main__":
    main()
