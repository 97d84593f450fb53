"""What the connection limits cost per request: uvicorn's httptools protocol vs ours.

Drives each protocol class with the same keep-alive stream of botocore-signed Encrypt requests
(1 KiB plaintext, as sent by boto3) through a stub transport and a no-op ASGI app on a real
uvloop loop: parse, ASGI task, response. Runs alternate between the two classes (``--rounds``
interleaved rounds, median per class), so load on the shared machine hits both alike.

    .venv/bin/python bench/http_limits_bench.py [--rounds 9] [--requests 20000]
    valgrind --tool=callgrind .venv/bin/python bench/http_limits_bench.py --only limited ...
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from sign_request import sign
from strongroom.kms.api.http_limits import HttpLimits, LimitedHttpToolsProtocol, LimitsConfig

REPLY = b'{"KeyId":"k","CiphertextBlob":"AAAA","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}'


async def noop(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(REPLY)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": REPLY})


class StubTransport(asyncio.Transport):
    """Counts what is written; never closes unless told."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0
        self.closing = False

    def write(self, data: Any) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def raw_request() -> bytes:
    body = {"KeyId": "k", "Plaintext": "A" * 1368}
    signed = sign("http://127.0.0.1:8080", "AKIDEXAMPLE", "secret", "Encrypt", body)
    head = [b"POST / HTTP/1.1"] + [f"{k}: {v}".encode() for k, v in signed.headers.items()]
    head.append(b"Content-Length: %d" % len(signed.body))
    return b"\r\n".join(head) + b"\r\n\r\n" + signed.body


async def one_run(cls: type[HttpToolsProtocol], request: bytes, requests: int) -> float:
    config = LimitsConfig(noop, http_limits=HttpLimits(), log_level="warning")
    config.load()
    protocol = cls(config, ServerState(), {})
    transport = StubTransport()
    protocol.connection_made(transport)
    started = time.perf_counter()
    for _ in range(requests):
        protocol.data_received(request)
        while protocol.tasks:
            await asyncio.sleep(0)
    elapsed = time.perf_counter() - started
    assert transport.written > requests * len(REPLY), "responses were not written"
    protocol.connection_lost(None)
    return elapsed / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--only", choices=("uvicorn", "limited"))
    args = parser.parse_args()
    classes = {"uvicorn": HttpToolsProtocol, "limited": LimitedHttpToolsProtocol}
    if args.only:
        classes = {args.only: classes[args.only]}
    request = raw_request()
    results: dict[str, list[float]] = {name: [] for name in classes}
    loop = uvloop.new_event_loop()
    for _ in range(args.rounds):
        for name, cls in classes.items():
            results[name].append(loop.run_until_complete(one_run(cls, request, args.requests)))
    for name, values in results.items():
        print(
            f"{name:8} µs/request median {statistics.median(values):.2f} "
            f"[{min(values):.2f}-{max(values):.2f}] over {args.rounds} runs"
        )


if __name__ == "__main__":
    main()
