"""The limited protocol writes a response's head and body in one write (CoalescingCycle)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from uvicorn.server import ServerState

from strongroom.kms.api.http_limits import (
    HttpLimits,
    LimitedHttpToolsProtocol,
    LimitsConfig,
)


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _app(body: bytes, *, parts: int = 1) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        step = len(body) // parts
        for i in range(parts):
            chunk = body[i * step :] if i == parts - 1 else body[i * step : (i + 1) * step]
            await send({"type": "http.response.body", "body": chunk, "more_body": i < parts - 1})

    return app


def _serve(app: Any, requests: bytes) -> FakeTransport:
    """Feed ``requests`` to one connection of the limited protocol; what it wrote."""
    loop = asyncio.new_event_loop()
    try:
        config = LimitsConfig(app, http_limits=HttpLimits(), lifespan="off", log_level="warning")
        config.load()
        protocol = LimitedHttpToolsProtocol(config, ServerState(), {}, _loop=loop)
        transport = FakeTransport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.data_received(requests)

        async def settle() -> None:
            while protocol.tasks or (protocol.cycle and not protocol.cycle.response_complete):
                await asyncio.sleep(0)

        loop.run_until_complete(asyncio.wait_for(settle(), 5))
        protocol.connection_lost(None)
        return transport
    finally:
        loop.close()


def _request(method: bytes = b"POST", body: bytes = b"{}") -> bytes:
    return method + b" / HTTP/1.1\r\nHost: kms\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def test_head_and_body_go_out_in_one_write() -> None:
    transport = _serve(_app(b'{"KeyId":"k"}'), _request())
    assert len(transport.writes) == 1
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 13" in head
    assert body == b'{"KeyId":"k"}'


def test_each_response_on_a_kept_alive_connection_is_one_write() -> None:
    transport = _serve(_app(b"[1]"), _request() + _request())
    assert [w.count(b"HTTP/1.1 200 OK") for w in transport.writes] == [1, 1]
    assert all(w.endswith(b"\r\n\r\n[1]") for w in transport.writes)


def test_a_body_in_parts_sends_the_head_with_the_first_part() -> None:
    transport = _serve(_app(b"abcdef", parts=3), _request())
    assert len(transport.writes) == 3
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK") and transport.writes[0].endswith(
        b"\r\n\r\nab"
    )
    assert transport.writes[1:] == [b"cd", b"ef"]


def test_a_large_body_is_not_copied_behind_the_head() -> None:
    body = b"x" * (256 * 1024)
    transport = _serve(_app(body), _request())
    assert len(transport.writes) == 2
    assert transport.writes[0].endswith(b"\r\n\r\n") and transport.writes[1] == body


@pytest.mark.parametrize("method", [b"HEAD"])
def test_a_response_without_body_bytes_still_sends_its_head(method: bytes) -> None:
    transport = _serve(_app(b"{}"), _request(method, b""))
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK") and transport.writes[0].endswith(
        b"\r\n\r\n"
    )


def test_the_stand_in_transports_answer_for_the_transport() -> None:
    from strongroom.kms.api.http_limits import _HeadFirst, _HeldHead

    transport = FakeTransport()
    held = _HeldHead(transport)  # type: ignore[arg-type]
    first = _HeadFirst(transport, b"head")  # type: ignore[arg-type]
    assert held.is_closing() is False and first.is_closing() is False
    transport.close()
    assert held.is_closing() is True and first.get_extra_info("peername")[0] == "127.0.0.1"
