"""The no-op endpoint: the same server stack as ``strongroom serve`` with nothing behind it.

It reads the whole request body and answers a fixed ~120-byte AWS JSON 1.1 reply, under
uvicorn with the options of ``src/strongroom/cli/serve.py`` (uvloop, httptools, lifespan on,
no access log). Its throughput is the ceiling any KMS operation on this stack can reach.

    python bench/noop_app.py --port 8081 --workers 2
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

REPLY = (
    b'{"KeyId":"arn:aws:kms:us-east-1:000000000000:key/00000000-0000-4000-8000-000000000000",'
    b'"EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}'
)
HEADERS = [
    (b"content-type", b"application/x-amz-json-1.1"),
    (b"content-length", str(len(REPLY)).encode()),
]


async def app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more_body = True
    while more_body:
        message = await receive()
        more_body = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": REPLY})


def main() -> None:
    parser = argparse.ArgumentParser(description="run the no-op endpoint")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    uvicorn.run(
        "noop_app:app",
        app_dir=str(Path(__file__).parent),
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="info",
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
