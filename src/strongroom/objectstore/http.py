"""One S3 request and one S3 response, as the handlers see them (no ASGI in handlers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from strongroom.client.principal import Principal

Body = AsyncIterator[bytes]


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


@dataclass(slots=True)
class S3Request:
    """A routed, authenticated request. ``body`` yields the decoded payload (aws-chunked framing
    removed, chunk signatures and trailing checksums verified while it is read)."""

    method: str
    bucket: str | None
    key: str | None
    query: Mapping[str, str]
    headers: Mapping[str, str]
    principal: Principal
    request_id: str
    body: Body = field(default_factory=_empty)
    # The checksum headers from the aws-chunked trailer, once the body has been read.
    trailer: dict[str, str] = field(default_factory=dict)
    # The length of the decoded payload (Content-Length, or x-amz-decoded-content-length).
    content_length: int | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    async def read_all(self, limit: int) -> bytes:
        """The whole body, for small XML documents; larger than ``limit`` raises."""
        from strongroom.objectstore.errors import MalformedXML

        chunks: list[bytes] = []
        size = 0
        async for chunk in self.body:
            size += len(chunk)
            if size > limit:
                raise MalformedXML("The XML you provided was larger than the maximum allowed.")
            chunks.append(chunk)
        return b"".join(chunks)


@dataclass(slots=True)
class S3Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # A streamed body (GetObject): the length is in ``headers``; ``body`` is then unused.
    stream: Callable[[], AsyncIterator[bytes]] | None = None
    # Runs after the response is sent (releases what the stream held).
    after: Callable[[], Awaitable[None]] | None = None


def decode_query(query_string: bytes) -> dict[str, str]:
    """Query parameters, percent-decoded; the last value of a repeated name wins."""
    out: dict[str, str] = {}
    for piece in query_string.decode("latin-1").split("&"):
        if piece:
            name, _, value = piece.partition("=")
            out[unquote(name)] = unquote(value.replace("+", " "))
    return out
