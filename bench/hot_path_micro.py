"""What one request costs inside the Strongroom ASGI app, stage by stage, without a socket.

Builds the real app (``create_app``) on a temporary data directory, signs requests with
botocore, and times the whole ``KmsApi.handle`` plus each of its stages with
``timeit`` (best of ``--repeat``; µs per call). The no-op ASGI app is timed the same way, so
"app minus no-op" is the server-side cost the KMS adds on top of the HTTP stack. Reads private
attributes of ``KmsApi``: a measuring tool, not an API user.

    .venv/bin/python bench/hot_path_micro.py
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from noop_app import app as noop_app
from sign_request import SignedRequest, sign
from strongroom.kms.api.server import _json_default
from strongroom.kms.app import create_app, initialize
from strongroom.kms.config import load_settings
from strongroom.kms.service.caller import Caller

ENDPOINT = "http://127.0.0.1:8080"
PLAINTEXT = bytes(range(256)) * 4


def scope_of(request: SignedRequest) -> dict[str, Any]:
    headers = [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
    headers.append((b"content-length", str(len(request.body)).encode()))
    return {
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
    }


def asgi_us(
    app: Callable[..., Any], scope: dict[str, Any], body: bytes, number: int, repeat: int
) -> float:
    """µs per request through ``app`` with in-memory receive/send; ``number`` per loop run."""
    loop = asyncio.new_event_loop()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"status {message['status']}")

    async def many() -> None:
        for _ in range(number):
            await app(scope, receive, send)

    try:
        return best_us(lambda: loop.run_until_complete(many()), 1, repeat) / number
    finally:
        loop.close()


def best_us(func: Callable[[], object], number: int, repeat: int) -> float:
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def time_operation(
    api: Any,
    caller: Caller,
    op: str,
    body: dict[str, Any],
    *,
    noop_us: float,
    credentials: tuple[str, str],
    number: int,
    repeat: int,
) -> None:
    request = sign(ENDPOINT, *credentials, op, body)
    scope, raw = scope_of(request), request.body
    headers = scope["headers"]
    full = asgi_us(api.handle, scope, raw, number, repeat)
    decoded = api._decoders[op].decode(orjson.loads(raw))
    operation = api._operations[op]
    response = api._pipeline.execute(operation, decoded, caller, "r")
    stages: dict[str, Callable[[], object]] = {
        "uuid4 request id": lambda: str(uuid.uuid4()),
        "SigV4 verify": lambda: api._verifier.verify("POST", b"/", b"", headers, raw)[0],
        "target + orjson.loads + model decode": lambda: (
            api._operation(headers),
            api._decoders[op].decode(orjson.loads(raw)),
        ),
        "pipeline.execute (incl. audit record)": lambda: api._pipeline.execute(
            operation, decoded, caller, "r"
        ),
        "orjson.dumps response": lambda: orjson.dumps(response, default=_json_default),
    }
    print(f"\n{op}: KmsApi.handle {full:6.1f} µs  (minus no-op app: {full - noop_us:6.1f} µs)")
    for name, func in stages.items():
        print(f"  {name:<40} {best_us(func, number, repeat):6.1f} µs")


def time_audit_flush(api: Any, caller: Caller, key_id: str, events: int) -> None:
    sink = api._pipeline._audit
    sink.flush()
    for _ in range(events):
        api._pipeline.execute(
            api._operations["Encrypt"], {"KeyId": key_id, "Plaintext": PLAINTEXT}, caller, "r"
        )
    started = time.perf_counter()
    sink.flush()
    elapsed = time.perf_counter() - started
    print(
        f"\naudit flush of {events} events: {elapsed * 1000:.1f} ms in one call "
        f"({elapsed * 1e6 / events:.2f} µs/event), on the event loop"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000, help="calls per timing")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--audit-events",
        type=int,
        default=5000,
        help="events per audit flush (about 1 s of traffic per worker)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strongroom-micro-") as tmp:
        # Quotas off: thousands of calls a second from one account would be throttled
        # (their cost per request is bench/quota_bench.py's).
        # Buffered audit with a deep queue: this harness starts no writer thread, so with
        # before-response every call would wait for a commit that never comes (503). The
        # commit's own cost is timed apart below (time_audit_flush).
        settings = load_settings(Path(tmp) / "data").with_overrides(
            request_quotas="off", audit_durability="buffered", audit_max_pending=10_000_000
        )
        _, issued = initialize(settings)
        assert issued is not None
        app = create_app(settings)
        api = app.api
        credentials = (issued.access_key_id, issued.secret_access_key)
        probe = sign(ENDPOINT, *credentials, "CreateKey", {})
        credential, _ = api._verifier.verify(
            "POST", b"/", b"", scope_of(probe)["headers"], probe.body
        )
        caller = Caller.from_credential(credential, "127.0.0.1", "us-east-1")
        ops = api._operations
        created = api._pipeline.execute(ops["CreateKey"], {}, caller, "r")
        key_id = created["KeyMetadata"]["KeyId"]  # type: ignore[index]
        blob = api._pipeline.execute(
            ops["Encrypt"], {"KeyId": key_id, "Plaintext": PLAINTEXT}, caller, "r"
        )["CiphertextBlob"]
        b64 = base64.b64encode
        bodies: dict[str, dict[str, Any]] = {
            "Encrypt": {"KeyId": key_id, "Plaintext": b64(PLAINTEXT).decode()},
            "Decrypt": {"CiphertextBlob": b64(blob).decode()},  # type: ignore[arg-type]
            "GenerateDataKey": {"KeyId": key_id, "KeySpec": "AES_256"},
        }
        noop_request = sign(ENDPOINT, *credentials, "Encrypt", bodies["Encrypt"])
        noop_us = asgi_us(
            noop_app, scope_of(noop_request), noop_request.body, args.number, args.repeat
        )
        print(f"no-op ASGI app (same Encrypt request): {noop_us:6.1f} µs")
        for op, body in bodies.items():
            time_operation(
                api,
                caller,
                op,
                body,
                noop_us=noop_us,
                credentials=credentials,
                number=args.number,
                repeat=args.repeat,
            )
        time_audit_flush(api, caller, key_id, args.audit_events)
        app._on_shutdown()


if __name__ == "__main__":
    main()
