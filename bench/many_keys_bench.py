"""Encrypt with many keys: uniform and Zipf use of ``--keys`` keys against one key.

Builds the real app (``create_app``, its audit writer running, ``before-response``) on a
temporary data directory, creates the keys (records written through the key repository, each
with its own wrapped material and the default key policy; faster than 100,000 CreateKey calls,
and the same rows), pre-signs ``--requests`` Encrypt requests per mix (botocore SigV4, each with
its own key and plaintext), and sends them through the ASGI app in memory with
``--concurrency`` tasks: first one request for every key (cold: what a key new to the worker
costs, reported apart), then each mix, measured. It reports CPU µs per request of the whole
process (writer thread included), the ratio to the single-key mix, database reads per request
(SELECTs, from an engine event), cache evictions and the process's peak RSS.

    .venv/bin/python bench/many_keys_bench.py --keys 100000 --requests 50000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from hot_path_micro import scope_of
from sign_request import SignedRequest, sign
from strongroom.kms.app import create_app, initialize
from strongroom.kms.config import load_settings
from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.ids import new_key_id, new_material_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.service.keys import default_key_policy
from strongroom.kms.storage.keys import KeyRepository

ENDPOINT = "http://127.0.0.1:8080"
_CHUNK = 10_000  # requests signed at a time


def create_keys(app: Any, count: int, account_id: str) -> list[str]:
    ctx = app.api._pipeline.ctx  # a measuring tool reaches into the app it measures
    repo = KeyRepository(ctx.db)
    policy = default_key_policy(account_id)
    ids = []
    for _ in range(count):
        record = KeyRecord(
            new_key_id(),
            account_id,
            ctx.default_region,
            ctx.clock.now(),
            KeyState.ENABLED,
            current_material_id=new_material_id(),
            policy=policy,
        )
        wrapped = ctx.store.new_material(record.arn, record.current_material_id or "")
        repo.create_key(record, ctx.store.store_id, wrapped, {})
        ids.append(record.key_id)
    return ids


def zipf_weights(count: int, exponent: float) -> list[float]:
    return [1.0 / (rank**exponent) for rank in range(1, count + 1)]


def signed_mix(keys: list[str], picks: list[str], credentials: tuple[str, str]) -> list[Any]:
    out = []
    for key_id in picks:
        body = {"KeyId": key_id, "Plaintext": base64.b64encode(os.urandom(1024)).decode()}
        request: SignedRequest = sign(
            ENDPOINT, *credentials, "Encrypt", body, invocation_id=str(random.random())
        )
        out.append((scope_of(request), request.body))
    return out


async def send_all(app: Any, requests: list[Any], concurrency: int) -> None:
    queue = iter(requests)

    async def worker() -> None:
        for scope, body in queue:

            async def receive(body: bytes = body) -> dict[str, Any]:
                return {"type": "http.request", "body": body, "more_body": False}

            status = [200]

            async def send(message: dict[str, Any], status: list[int] = status) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                elif status[0] != 200:
                    raise RuntimeError(f"status {status[0]}: {message.get('body', b'')!r}")

            await app(scope, receive, send)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def lifespan(app: Any, messages: asyncio.Queue[dict[str, Any]]) -> asyncio.Task[None]:
    started = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    task = asyncio.create_task(app({"type": "lifespan"}, messages.get, send))
    await messages.put({"type": "lifespan.startup"})
    await started.wait()
    return task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=20_000, help="per mix and pass")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strongroom-many-keys-") as tmp:
        os.environ["STRONGROOM_REQUEST_QUOTAS"] = "off"
        settings = load_settings(data_dir=Path(tmp))
        _, issued = initialize(settings)
        assert issued is not None
        credentials = (issued.access_key_id, issued.secret_access_key)
        app = create_app(settings)
        ctx = app.api._pipeline.ctx
        reads = [0]

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            reads[0] += statement.lstrip().upper().startswith("SELECT")

        event.listen(ctx.db.engine, "before_cursor_execute", count)
        started = time.perf_counter()
        keys = create_keys(app, args.keys, issued.account_id)
        print(f"created {len(keys)} keys in {time.perf_counter() - started:.0f} s")
        rng = random.Random(17)
        mixes = {
            "single key": [keys[0]] * args.requests,
            f"uniform over {len(keys)}": [rng.choice(keys) for _ in range(args.requests)],
            f"Zipf {args.zipf} over {len(keys)}": rng.choices(
                keys, weights=zipf_weights(len(keys), args.zipf), k=args.requests
            ),
        }

        async def run() -> None:
            messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            task = await lifespan(app, messages)
            # The keys' creation is in the change feed, which this worker reads 10,000 changes
            # a poll: read all of it first, as a worker started after the keys were made would
            # have. Otherwise the feed, still catching up during the cold pass, forgets keys
            # that pass has just read (~1,000 of 100,000), and the uniform mix pays them cold.
            created = await asyncio.to_thread(ctx.db.last_change_seq)
            while ctx.cache.last_seq < created:
                await asyncio.sleep(0.05)
            single = None
            every_key = {"cold: each key once": rng.sample(keys, len(keys))}
            for name, picks in (every_key | mixes).items():
                cpu, sent_reads, evictions0 = 0.0, 0, ctx.cache.evictions
                # Signed a chunk at a time, just before it is sent: on a slow machine a pass
                # of 100,000 requests outlasts SigV4's 5 minutes.
                for start in range(0, len(picks), _CHUNK):
                    requests = signed_mix(keys, picks[start : start + _CHUNK], credentials)
                    # Signing blocked this loop, and so the change feed's poller: until it has
                    # run again the cache refuses to answer (DependencyTimeoutException).
                    signed_at = time.monotonic()
                    while (ctx.cache.feed_read_at or 0.0) < signed_at:
                        await asyncio.sleep(0.05)
                    cpu0, reads0 = time.process_time(), reads[0]
                    await send_all(app, requests, args.concurrency)
                    cpu += time.process_time() - cpu0
                    sent_reads += reads[0] - reads0  # background jobs' reads included
                cpu = cpu * 1e6 / len(picks)
                single = single or (cpu if name == "single key" else None)
                ratio = f"{single / cpu:4.2f}" if single else "   -"
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(
                    f"{name:<28} {cpu:7.1f} µs CPU/req  ratio to single key {ratio}  "
                    f"DB reads/req {sent_reads / len(picks):.4f}  "
                    f"evictions {ctx.cache.evictions - evictions0}  peak RSS {rss:.0f} MiB"
                )
            await messages.put({"type": "lifespan.shutdown"})
            await task

        asyncio.run(run())


if __name__ == "__main__":
    main()
