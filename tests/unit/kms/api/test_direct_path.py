"""KMS requests answered without ASGI (ADR 33): the protocol hands the whole body to the
application's direct handler and writes the response in one call; uvicorn's cycle still
carries keep-alive, pipelining and the connection's end."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.server import ServerState

from strongroom.kms.api.http_limits import (
    DirectHandler,
    DirectResponse,
    HttpLimits,
    LimitedHttpToolsProtocol,
    LimitsConfig,
    direct_app,
)
from tests.unit.kms.api.test_http_limits import FakeTransport


class DirectTestApp:
    """Answers ``POST /direct`` directly (echoing the body) and everything else via ASGI."""

    def __init__(self, *, fail: bool = False, wait: asyncio.Event | None = None) -> None:
        self.direct_bodies: list[bytes] = []
        self.asgi_paths: list[str] = []
        self._fail = fail
        self._wait = wait

    def direct_handler(self, scope: dict[str, Any]) -> DirectHandler | None:
        return self._answer if scope["path"] == "/direct" else None

    async def _answer(self, scope: dict[str, Any], body: bytes) -> DirectResponse:
        if self._wait is not None:
            await self._wait.wait()
        if self._fail:
            raise RuntimeError("handler failed")
        self.direct_bodies.append(body)
        return 200, [(b"content-type", b"application/x-amz-json-1.1")], b"echo:" + body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.asgi_paths.append(scope["path"])
        while (await receive()).get("more_body"):
            pass
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]}
        )
        await send({"type": "http.response.body", "body": b"asgi"})


def _request(path: bytes, body: bytes = b"{}", extra: bytes = b"") -> bytes:
    head = b"POST %s HTTP/1.1\r\nHost: kms\r\nContent-Length: %d\r\n" % (path, len(body))
    return head + extra + b"\r\n" + body


class Connection:
    """One connection of the limited protocol on a loop of its own, fed by the test."""

    def __init__(self, app: Any) -> None:
        self.loop = asyncio.new_event_loop()
        config = LimitsConfig(app, http_limits=HttpLimits(), lifespan="off", log_level="critical")
        config.load()  # wraps the app in uvicorn's proxy-headers middleware
        state = ServerState()
        state.default_headers = [(b"server", b"strongroom-test")]  # a running server's date etc.
        self.protocol = LimitedHttpToolsProtocol(config, state, {}, _loop=self.loop)
        self.transport = FakeTransport()
        self.protocol.connection_made(self.transport)  # type: ignore[arg-type]

    def feed(self, data: bytes) -> None:
        self.protocol.data_received(data)
        self.settle()

    def settle(self) -> None:
        async def idle() -> None:
            for _ in range(50):
                await asyncio.sleep(0)

        self.loop.run_until_complete(idle())

    def close(self) -> None:
        self.protocol.connection_lost(None)
        self.settle()
        self.loop.close()


def test_the_proxy_headers_middleware_is_seen_through() -> None:
    app = DirectTestApp()
    config = LimitsConfig(app, http_limits=HttpLimits(), lifespan="off")
    config.load()
    assert config.loaded_app is not app and direct_app(config.loaded_app) is app
    assert direct_app(object()) is None


def test_a_direct_request_is_answered_whole_in_one_write() -> None:
    app = DirectTestApp()
    connection = Connection(app)
    connection.feed(_request(b"/direct", b'{"KeyId":"k"}'))
    assert app.direct_bodies == [b'{"KeyId":"k"}'] and app.asgi_paths == []
    (written,) = connection.transport.writes
    head, _, body = written.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert head.endswith(b"\r\ncontent-length: 18") and b"\r\nserver: strongroom-test\r\n" in head
    assert b"content-type: application/x-amz-json-1.1" in head
    assert body == b'echo:{"KeyId":"k"}'
    assert not connection.transport.closed  # kept alive
    connection.close()


def test_a_body_in_several_reads_reaches_the_handler_whole() -> None:
    app = DirectTestApp()
    connection = Connection(app)
    request = _request(b"/direct", b'{"Plaintext":"aGVsbG8="}')
    connection.feed(request[:40])
    assert app.direct_bodies == [] and connection.transport.writes == []
    connection.feed(request[40:-5])
    assert app.direct_bodies == []
    connection.feed(request[-5:])
    assert app.direct_bodies == [b'{"Plaintext":"aGVsbG8="}']
    connection.close()


def test_pipelined_requests_are_answered_in_order() -> None:
    app = DirectTestApp()
    connection = Connection(app)
    connection.feed(
        _request(b"/direct", b"1") + _request(b"/other", b"2") + _request(b"/direct", b"3")
    )
    assert app.direct_bodies == [b"1", b"3"] and app.asgi_paths == ["/other"]
    bodies = [w.partition(b"\r\n\r\n")[2] for w in connection.transport.writes]
    assert bodies == [b"echo:1", b"asgi", b"echo:3"]
    connection.close()


def test_a_request_the_app_declines_takes_the_asgi_path() -> None:
    app = DirectTestApp()
    connection = Connection(app)
    connection.feed(_request(b"/other"))
    assert app.asgi_paths == ["/other"] and app.direct_bodies == []
    assert connection.transport.writes[-1].endswith(b"\r\n\r\nasgi")
    connection.close()


def test_connection_close_is_honoured() -> None:
    app = DirectTestApp()
    connection = Connection(app)
    connection.feed(_request(b"/direct", b"x", b"Connection: close\r\n"))
    (written,) = connection.transport.writes
    assert b"\r\nconnection: close\r\n" in written and written.endswith(b"echo:x")
    assert connection.transport.closed
    connection.close()


def test_a_failing_handler_answers_500() -> None:
    connection = Connection(DirectTestApp(fail=True))
    connection.feed(_request(b"/direct"))
    (written,) = connection.transport.writes
    assert written.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    connection.close()


def test_a_client_gone_before_the_answer_gets_nothing_written() -> None:
    release = asyncio.Event()
    app = DirectTestApp(wait=release)
    connection = Connection(app)
    connection.feed(_request(b"/direct", b"late"))
    assert connection.transport.writes == []
    connection.protocol.connection_lost(None)
    release.set()
    connection.settle()
    assert app.direct_bodies == [b"late"] and connection.transport.writes == []
    connection.loop.close()
