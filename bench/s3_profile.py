"""Where an S3 request's CPU goes inside Strongroom, without a socket or a client.

Builds the real app (``create_app``) on a temporary data directory and sends it signed S3
requests (botocore's S3 SigV4, ``UNSIGNED-PAYLOAD``) through ASGI in memory, so the figures are
the server's own CPU per request: no HTTP parsing, no boto3, no other process. For each case it
prints the process CPU time per request (``time.process_time``, median of ``--repeat`` runs)
and, for the large objects, CPU MB/s next to the raw reference done in the same process:
AES-256-GCM of the same bytes in 64 KiB chunks (the cipher alone) plus write + fsync of the
ciphertext to the same filesystem. ``--profile CASE`` prints cProfile's top functions.

    .venv/bin/python bench/s3_profile.py [--number 200] [--profile put4k-kms]

CPU time per request is what load on a shared machine changes least; wall-clock req/s are
``s3_bench.py``'s (a quiet machine).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import hashlib
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from strongroom.kms.app import create_app, initialize
from strongroom.kms.audit.log import MemoryAuditLog
from strongroom.kms.config import Settings
from strongroom.kms.domain.clock import SystemClock

HOST = "127.0.0.1:8080"
KiB, MiB = 1024, 1024 * 1024


class Client:
    """Signed S3 requests straight into the ASGI app."""

    def __init__(self, app: Any, access_key: str, secret: str) -> None:
        self._app = app
        self._credentials = Credentials(access_key, secret)
        self._loop = asyncio.new_event_loop()
        # CPU and wall time inside the app only (signing the request is the client's work).
        self.cpu = 0.0
        self.wall = 0.0

    def call(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        return self.call_many([(method, path, body, headers)])[0]

    def call_many(
        self, requests: list[tuple[str, str, bytes, dict[str, str] | None]]
    ) -> list[tuple[int, bytes]]:
        """Send ``requests`` at once (concurrently inside the app, as a server's connections)."""
        prepared = [self._prepare(*r) for r in requests]

        async def together() -> list[tuple[int, bytes]]:
            return await asyncio.gather(*(p() for p in prepared))

        cpu, wall = time.process_time(), time.perf_counter()
        results = self._loop.run_until_complete(together())
        self.cpu += time.process_time() - cpu
        self.wall += time.perf_counter() - wall
        return list(results)

    def _prepare(
        self, method: str, path: str, body: bytes, headers: dict[str, str] | None
    ) -> Callable[[], Awaitable[tuple[int, bytes]]]:
        raw_path, _, query = path.partition("?")
        request = AWSRequest(
            method=method,
            url=f"http://{HOST}{path}",
            data=body,
            headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD", **(headers or {})},
        )
        S3SigV4Auth(self._credentials, "s3", "us-east-1").add_auth(request)
        scope = {
            "type": "http",
            "method": method,
            "scheme": "http",
            "path": raw_path,
            "raw_path": raw_path.encode(),
            "query_string": query.encode(),
            "headers": [
                *((k.lower().encode(), str(v).encode()) for k, v in request.headers.items()),
                (b"host", HOST.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 50000),
        }
        pieces = [body[i : i + 64 * KiB] for i in range(0, len(body), 64 * KiB)] or [b""]
        out: dict[str, Any] = {"status": 0, "body": []}

        async def receive() -> dict[str, Any]:
            piece = pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
            elif message["type"] == "http.response.body":
                out["body"].append(message.get("body", b""))

        async def run() -> tuple[int, bytes]:
            await self._app(scope, receive, send)
            return out["status"], b"".join(out["body"])

        return run


def cpu_per_call(
    client: Client, work: Callable[[int], None], number: int, repeat: int
) -> tuple[float, float]:
    """Median (CPU seconds, wall seconds) per call spent inside the app."""
    cpus, walls = [], []
    for _ in range(repeat):
        cpu, wall = client.cpu, client.wall
        for i in range(number):
            work(i)
        cpus.append((client.cpu - cpu) / number)
        walls.append((client.wall - wall) / number)
    return statistics.median(cpus), statistics.median(walls)


def raw_reference(directory: Path, size: int, repeat: int) -> float:
    """CPU seconds to AES-GCM ``size`` bytes in 64 KiB chunks and write + fsync them."""
    data, aead = os.urandom(size), AESGCM(os.urandom(32))
    runs = []
    for n in range(repeat):
        start = time.process_time()
        fd = os.open(directory / f"raw-{n}", os.O_WRONLY | os.O_CREAT, 0o600)
        for i in range(0, size, 64 * KiB):
            os.write(fd, aead.encrypt(i.to_bytes(12, "big"), data[i : i + 64 * KiB], b""))
        os.fsync(fd)
        os.close(fd)
        runs.append(time.process_time() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200, help="small requests per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--large-mib", type=int, default=32)
    parser.add_argument("--profile", default="", help="case name to profile with cProfile")
    parser.add_argument("--small-kib", type=int, default=4, help="size of the small objects")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="small requests in the app at once (gathered)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        try:  # as every server worker does (app_from_env); older trees (before/after runs)
            from strongroom.kms import allocator
        except ImportError:
            pass
        else:
            allocator.tune()
        settings = Settings(
            data_dir=directory / "d", port=8080, workers=1, request_quotas="off"
        ).validated()
        data, issued = initialize(settings, SystemClock())
        data.db.engine.dispose()
        assert issued is not None
        app = create_app(settings, SystemClock(), MemoryAuditLog())
        client = Client(app, issued.access_key_id, issued.secret_access_key)
        run(client, args, directory)


def run(client: Client, args: argparse.Namespace, directory: Path) -> None:
    key_id = _create_key(client)
    ssec_key = os.urandom(32)
    ssec = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(ssec_key).decode(),
        "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(
            hashlib.md5(ssec_key).digest()
        ).decode(),
    }
    modes: dict[str, dict[str, str]] = {
        "s3": {"x-amz-server-side-encryption": "AES256"},
        "kms": {
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": key_id,
        },
        "kms-bk": {
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": key_id,
            "x-amz-server-side-encryption-bucket-key-enabled": "true",
        },
        "ssec": ssec,
    }
    bucket = "bench-profile"
    at_once = args.concurrency
    assert client.call("PUT", f"/{bucket}")[0] == 200
    small = os.urandom(args.small_kib * KiB)
    tag = f"{args.small_kib}k"
    cases: dict[str, Callable[[int], None]] = {}
    for mode, headers in modes.items():

        def put(i: int, headers: dict[str, str] = headers, mode: str = mode) -> None:
            keys = [f"/{bucket}/{mode}-{(i * at_once + j) % 50}" for j in range(at_once)]
            for status, body in client.call_many([("PUT", k, small, headers) for k in keys]):
                assert status == 200, body

        def get(i: int, headers: dict[str, str] = headers, mode: str = mode) -> None:
            extra = headers if mode == "ssec" else {}
            keys = [f"/{bucket}/{mode}-{(i * at_once + j) % 50}" for j in range(at_once)]
            for status, body in client.call_many([("GET", k, b"", extra) for k in keys]):
                assert status == 200 and body == small, (status, body[:200])

        cases[f"put{tag}-{mode}"] = put
        cases[f"get{tag}-{mode}"] = get
    print(
        f"CPU per request, median of {args.repeat} runs of {args.number} (ASGI in memory,"
        f" {at_once} at once)"
    )
    for name, work in cases.items():
        if name.startswith("get"):
            for i in range(-(-50 // at_once)):
                cases[name.replace("get", "put")](i)
        per, _ = cpu_per_call(client, work, args.number // at_once, args.repeat)
        per /= at_once
        print(f"  {name:<14} {per * 1e6:9.0f} µs  ({1 / per:7.0f} req/s per core)")
    large = os.urandom(args.large_mib * MiB)
    headers = modes["kms"]

    def put_large(_: int) -> None:
        assert client.call("PUT", f"/{bucket}/large", large, headers)[0] == 200

    def get_large(_: int) -> None:
        status, body = client.call("GET", f"/{bucket}/large")
        assert status == 200 and len(body) == len(large)

    raw = raw_reference(directory, len(large), args.repeat)
    put_cpu, put_wall = cpu_per_call(client, put_large, 1, args.repeat)
    get_cpu, get_wall = cpu_per_call(client, get_large, 1, args.repeat)
    mb = len(large) / 1e6
    print(f"large object ({args.large_mib} MiB, SSE-KMS, payload SHA-256 signed), MB/s:")
    print(f"  raw AES-GCM 64 KiB + write + fsync  CPU {mb / raw:6.0f}")
    for name, cpu, wall in (("PUT", put_cpu, put_wall), ("GET", get_cpu, get_wall)):
        print(f"  {name}  CPU {mb / cpu:6.0f} ({raw / cpu:.0%} of raw)  wall {mb / wall:6.0f}")
    cases["put-large"], cases["get-large"] = put_large, get_large
    if args.profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for i in range(args.number if "large" not in args.profile else 2):
            cases[args.profile](i)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumtime").print_stats(45)


def _create_key(client: Client) -> str:
    """A customer key, through the KMS's JSON API on the same app (service kms)."""
    import json

    from botocore.auth import SigV4Auth

    request = AWSRequest(
        method="POST",
        url=f"http://{HOST}/",
        data=b'{"Description":"bench"}',
        headers={
            "X-Amz-Target": "TrentService.CreateKey",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    SigV4Auth(client._credentials, "kms", "us-east-1").add_auth(request)
    out: dict[str, Any] = {"body": []}
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [
            *((k.lower().encode(), str(v).encode()) for k, v in request.headers.items()),
            (b"host", HOST.encode()),
            (b"content-length", str(len(request.body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": request.body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            out["body"].append(message.get("body", b""))

    client._loop.run_until_complete(client._app(scope, receive, send))
    return str(json.loads(b"".join(out["body"]))["KeyMetadata"]["Arn"])


if __name__ == "__main__":
    main()
