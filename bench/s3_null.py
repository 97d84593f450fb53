"""A null S3 endpoint for ``s3_bench.py``: the client's ceiling on this machine.

Raw ASGI on uvicorn, like Strongroom. It answers the requests the benchmark sends without
storing, hashing or encrypting anything: a PUT (object or part) drains its body, multipart
creation and completion answer minimal XML, a GET sends bytes from memory. The size of a GET
comes from the key (``s/<size>/...``) or, for any other key, ``S3_NULL_LARGE`` bytes. It checks
no signature. What boto3 and the HTTP path cost on their own shows in its row.

    uvicorn --app-dir bench s3_null:app --workers 2
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
LARGE = int(os.environ.get("S3_NULL_LARGE", str(256 * 1024 * 1024)))
_PIECE = 1024 * 1024
_DATA = os.urandom(_PIECE)
_INITIATED = (
    b"<InitiateMultipartUploadResult><UploadId>n</UploadId></InitiateMultipartUploadResult>"
)
_COMPLETED = b'<CompleteMultipartUploadResult><ETag>"n-1"</ETag></CompleteMultipartUploadResult>'


def _size(path: str) -> int:
    parts = path.split("/")
    if len(parts) > 3 and parts[2] == "s" and parts[3].isdigit():
        return int(parts[3])
    return LARGE


async def app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    method, query = scope["method"], scope.get("query_string", b"")
    body = b""
    if method == "POST" and query.startswith(b"uploads"):
        body = _INITIATED
    elif method == "POST":
        body = (
            b'<CompleteMultipartUploadResult><ETag>"null-1"</ETag></CompleteMultipartUploadResult>'
        )
    if method != "GET" or scope["path"].count("/") < 2:
        headers = [(b"content-length", str(len(body)).encode()), (b"etag", b'"null"')]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    size = _size(scope["path"])
    headers = [(b"content-length", str(size).encode()), (b"etag", b'"null"')]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    sent = 0
    while sent < size:
        piece = _DATA if size - sent >= _PIECE else _DATA[: size - sent]
        sent += len(piece)
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
