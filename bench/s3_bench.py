"""Object store throughput: Strongroom's S3 API against moto's S3 server and a raw file copy.

Side by side in one run, through boto3 (one client per thread, keep-alive):

- small objects (4 KiB, 1 MiB): PUT then GET request rates for ``--seconds`` each, with
  ``--threads`` client threads, per SSE mode: SSE-S3 (when the KMS serves alias/aws/s3),
  SSE-KMS, SSE-KMS with an S3 Bucket Key, SSE-C; moto gets the same requests without SSE
  (it stores SSE headers but encrypts nothing);
- one large object (``--large-mib``, default 256): PUT (multipart, 64 MiB parts) and GET, MB/s;
- the physical limit: ``cat`` of the same file to a new file (write) and to /dev/null (read).

Run: ``.venv/bin/python bench/s3_bench.py [--moto /path/to/venv/bin/moto_server]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.servers import free_port, read_credentials, wait_healthy

MiB = 1024 * 1024


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
    """Requests per second of ``work(thread, i)`` run by ``threads`` threads for ``seconds``."""
    counts = [0] * threads
    deadline = time.monotonic() + seconds

    def loop(thread: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            work(thread, i)
            i += 1
        counts[thread] = i

    pool = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
    start = time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.monotonic() - start)


def small(s3: Any, bucket: str, size: int, extra: dict[str, str], args: Any) -> tuple[float, float]:
    body = os.urandom(size)
    written: set[tuple[int, int]] = set()

    def put(thread: int, i: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"s/{size}/{thread}/{i}", Body=body, **extra)
        written.add((thread, i))

    def get(thread: int, i: int) -> None:
        count = max(1, sum(1 for t, _ in written if t == thread))
        s3.get_object(Bucket=bucket, Key=f"s/{size}/{thread}/{i % count}", **get_extra(extra))[
            "Body"
        ].read()

    return rate(args.threads, args.seconds, put), rate(args.threads, args.seconds, get)


def get_extra(extra: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in extra.items() if k.startswith("SSECustomer")}


def large(s3: Any, bucket: str, path: Path, extra: dict[str, str]) -> tuple[float, float]:
    size = path.stat().st_size
    config = TransferConfig(multipart_threshold=64 * MiB, multipart_chunksize=64 * MiB)
    start = time.monotonic()
    s3.upload_file(str(path), bucket, "large", ExtraArgs=extra or None, Config=config)
    put = size / (time.monotonic() - start) / MiB
    start = time.monotonic()
    body = s3.get_object(Bucket=bucket, Key="large", **get_extra(extra))["Body"]
    got = 0
    for piece in body.iter_chunks(MiB):
        got += len(piece)
    assert got == size
    return put, size / (time.monotonic() - start) / MiB


def raw_copy(path: Path, tmp: Path) -> tuple[float, float]:
    size = path.stat().st_size
    target = tmp / "copy.bin"
    start = time.monotonic()
    subprocess.run(f"cat {path} > {target} && sync {target}", shell=True, check=True)
    write = size / (time.monotonic() - start) / MiB
    start = time.monotonic()
    subprocess.run(f"cat {path} > /dev/null", shell=True, check=True)
    read = size / (time.monotonic() - start) / MiB
    target.unlink()
    return write, read


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


def run(targets: list[tuple[str, Any, str, dict[str, str]]], source: Path, args: Any) -> None:
    print(f"load before: {os.getloadavg()[0]:.1f}; {args.threads} threads, {args.seconds} s/cell")
    print(
        "| target | PUT 4 KiB req/s | GET 4 KiB req/s | PUT 1 MiB req/s | GET 1 MiB req/s |"
        f" PUT {args.large_mib} MiB MB/s | GET {args.large_mib} MiB MB/s |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, target, bucket, extra in targets:
        p4, g4 = small(target, bucket, 4096, extra, args)
        p1, g1 = small(target, bucket, MiB, extra, args)
        pl, gl = large(target, bucket, source, extra)
        row = f"| {name} | {p4:.0f} | {g4:.0f} | {p1:.1f} | {g1:.1f} | {pl:.0f} | {gl:.0f} |"
        print(row, flush=True)
    write, read = raw_copy(source, source.parent)
    print(f"| raw copy (cat) | | | | | {write:.0f} | {read:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--large-mib", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--moto", default=shutil.which("moto_server") or "")
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
        moto = None
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
            targets = [
                (f"strongroom {m}", s3, b, e) for m, (b, e) in strongroom_buckets(s3, kms).items()
            ]
            if args.moto:
                moto, moto_s3 = start_moto(args.moto, args.threads)
                targets.append(("moto (no SSE)", moto_s3, "bench-moto", {}))
            run(targets, source, args)
        finally:
            for process in (server, moto):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=20)


if __name__ == "__main__":
    main()
