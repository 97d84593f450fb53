"""Limits against anyone who can open a connection, enforced before the application runs.

uvicorn's httptools protocol has no bound on a request head (httptools concatenates a header
as it arrives: a 200 MB header cost 85 s of CPU and 496 MB), no timeout before the first
request or while a head or body trickles in, and a concurrency limit that is checked only once
a head is complete. This subclass adds, per connection:

- a byte budget for the request head (request line + headers) and a count of headers, checked
  *before* bytes reach the parser (431 ``RequestHeaderSectionTooLarge``);
- a deadline: the head must arrive within ``header_timeout`` of the connection or of its first
  byte, the body within ``body_timeout`` of the head (408 ``RequestTimeout``, or a silent close
  when nothing was sent); idle keep-alive is uvicorn's ``timeout_keep_alive``;
- a connection limit per worker: a connection beyond it is answered 503 ``ServiceUnavailable``
  as soon as its first bytes arrive (or closed after one sweep if none do), which botocore
  retries; it holds its descriptor for at most about one sweep.

It also writes a response's head and the first part of its body in one ``write`` (uvicorn
writes the head as soon as the application starts the response: two system calls and two
TCP segments per KMS reply, for the server and for the client; :class:`CoalescingCycle`).

A KMS request (``POST /`` with a ``TrentService.`` target and a small declared body) is
answered *directly* when the application offers it (:class:`DirectApp`): the protocol hands
the complete body to the application's handler and writes the whole response in one call,
without the ASGI messages, the proxy-headers middleware or the routing in between (ADR 33).
uvicorn's cycle still carries the request, so keep-alive, pipelining, flow control, the
deadlines here and a graceful shutdown work as for any request. Anything else (proxied,
chunked, ``Expect``, large, another API's) takes the ASGI path.

Deadlines are checked by one sweep per worker every second over the open connections, not by a
timer per request, so the request path pays one ``loop.time()`` per phase and no timer churn.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httptools
from uvicorn.config import Config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from strongroom.kms.api.wire_errors import error_response
from strongroom.kms.errors import (
    KmsError,
    RequestHeaderSectionTooLarge,
    RequestTimeout,
    ServiceUnavailable,
)

SWEEP_SECONDS = 1.0
# A response head is written together with a first body part up to this size (a copy of it).
_COALESCE_BYTES = 64 * 1024
_CLOSED = -1  # header budget once the head is complete: nothing is counted
_sweeping: weakref.WeakKeyDictionary[ServerState, bool] = weakref.WeakKeyDictionary()
log = logging.getLogger(__name__)

# The largest body a request answered directly may declare: uvicorn's read high-water mark.
# Above it uvicorn pauses reading until the ASGI application asks for more, which only the
# ASGI path does.
DIRECT_MAX_BODY = HIGH_WATER_LIMIT
# A whole response: status, headers (lower-case names, no content-length), body.
DirectResponse = tuple[int, list[tuple[bytes, bytes]], bytes]
DirectHandler = Callable[[dict[str, Any], bytes], Awaitable[DirectResponse]]


class DirectApp(Protocol):
    """An ASGI application that can also answer some requests without ASGI (ADR 33)."""

    def direct_handler(self, scope: dict[str, Any]) -> DirectHandler | None:
        """The handler for this request (head complete, body not yet read), or None for the
        ASGI path. Called once per request: must be cheap and must not read the body."""
        ...


def direct_app(app: Any) -> DirectApp | None:
    """``app`` itself, or under uvicorn's proxy-headers middleware, if it answers directly.

    Any other wrapper (uvicorn's trace-level message logger, say) keeps every request on the
    ASGI path, so what it does is not skipped."""
    if isinstance(app, ProxyHeadersMiddleware):
        app = app.app
    return app if callable(getattr(app, "direct_handler", None)) else None


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """Per-connection limits of one worker (settings in ``kms/config.py``)."""

    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 1000


class LimitsConfig(Config):
    """A uvicorn ``Config`` that carries the limits to every worker process (it is pickled)."""

    def __init__(self, app: Any, *, http_limits: HttpLimits, **kwargs: Any) -> None:
        super().__init__(app, http=LimitedHttpToolsProtocol, ws="none", **kwargs)
        self.http_limits = http_limits


class _LimitExceeded(Exception):
    """Raised inside a parser callback to stop parsing; the refusal is already chosen."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head limits, deadlines and a connection limit."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: HttpLimits = getattr(config, "http_limits", None) or HttpLimits()
        self._header_budget = self.limits.max_header_bytes
        self._tail = b""  # the last bytes of the head so far: a terminator may straddle reads
        self.deadline = 0.0  # loop time by which the current phase must end; 0: none
        self._over_limit = False
        self._refusal: KmsError | None = None
        # Copied out of ``limits``: read on every request, one attribute lookup each.
        self._max_headers = self.limits.max_headers
        self._header_timeout = self.limits.header_timeout
        self._body_timeout = self.limits.body_timeout
        self._direct = direct_app(self.app)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.deadline = self.loop.time() + self.limits.header_timeout
        if len(self.connections) > self.limits.max_connections:
            self._over_limit = True
            self.deadline = self.loop.time() + SWEEP_SECONDS
        if self.server_state not in _sweeping:
            _sweeping[self.server_state] = True
            self.loop.call_later(SWEEP_SECONDS, _sweep, self.loop, self.server_state)

    def data_received(self, data: bytes) -> None:
        if self._over_limit:
            self._refuse(ServiceUnavailable())
            return
        budget = self._header_budget
        if budget == _CLOSED and self.cycle is not None and not self.cycle.more_body:
            # The previous request is all in: these bytes begin the next one (kept alive or
            # pipelined), whose head gets a fresh budget and deadline.
            budget = self.limits.max_header_bytes
            self._tail = b""
            self.deadline = 0.0
        if budget != _CLOSED:
            if len(data) > budget and not self._head_ends_within(data, budget):
                self._refuse(RequestHeaderSectionTooLarge())
                return
            remaining = budget - len(data)
            self._header_budget = remaining if remaining > 0 else 0
            self._tail = data[-3:]
            if not self.deadline:
                self.deadline = self.loop.time() + self._header_timeout
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.send_400_response("Upgrades are not supported.")
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(self._refusal)
                return
            message = "Invalid HTTP request received."
            self.logger.warning(message)
            self.send_400_response(message)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        # Every cycle is uvicorn's, made in uvicorn's on_headers_complete (or taken from the
        # pipeline queue once the previous response is complete); this subclass changes how
        # its response reaches the transport, and may answer it directly.
        cycle.__class__ = CoalescingCycle
        assert isinstance(cycle, CoalescingCycle)
        direct = self._direct
        if direct is not None and app is self.app:
            handler = direct.direct_handler(cycle.scope)  # type: ignore[arg-type]
            if handler is not None:
                cycle.direct = handler
                if not cycle.more_body:  # a pipelined request: its body is already in
                    self._start_direct(cycle, handler)
                # else: on_message_complete starts it
                return
        super()._start_asgi_task(cycle, app)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        cycle = self.cycle
        if isinstance(cycle, CoalescingCycle) and cycle.direct is not None:
            self._start_direct(cycle, cycle.direct)

    def _start_direct(self, cycle: CoalescingCycle, handler: DirectHandler) -> None:
        cycle.direct = None  # started once
        task = self.loop.create_task(cycle.run_direct(handler))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    def _head_ends_within(self, data: bytes, budget: int) -> bool:
        tail = self._tail
        return (tail + data[:budget]).find(b"\r\n\r\n", 0, len(tail) + budget) >= 0

    def on_headers_complete(self) -> None:
        # Counted once the head is complete, not per header (a call per header on the hot
        # path): the byte budget already bounds what a long list of headers can cost.
        if len(self.headers) > self._max_headers:
            self._refusal = RequestHeaderSectionTooLarge(
                f"A request may carry at most {self.limits.max_headers} headers."
            )
            raise _LimitExceeded
        self._header_budget = _CLOSED
        self.deadline = self.loop.time() + self._body_timeout
        super().on_headers_complete()

    def expire(self) -> None:
        """Past the deadline: refuse a late head or body; close a connection that sent nothing.

        Once a request's body is all in, the application runs without a deadline here (some
        operations take seconds); the sweep leaves that phase alone.
        """
        budget = self._header_budget
        if budget == _CLOSED and self.cycle is not None and not self.cycle.more_body:
            self.deadline = 0.0
            return
        if self._over_limit or budget == self.limits.max_header_bytes:
            self.deadline = 0.0
            self.transport.close()
        else:
            self._refuse(RequestTimeout())

    def _refuse(self, error: KmsError) -> None:
        """Answer ``error`` (unless a response is half sent) and close the connection."""
        self.deadline = 0.0
        self._header_budget = _CLOSED
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            status, body = error_response(error)
            self.transport.write(
                b"".join(
                    (
                        STATUS_LINE[status],
                        b"content-type: application/x-amz-json-1.1\r\n",
                        b"content-length: %d\r\n" % len(body),
                        b"connection: close\r\n\r\n",
                        body,
                    )
                )
            )
        self.transport.close()


class _HeldHead:
    """Stands in for the transport while uvicorn writes a response head: keeps the bytes
    (anything else, e.g. ``is_closing`` from a concurrent ``receive``, is the transport's)."""

    __slots__ = ("data", "transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class _HeadFirst:
    """Stands in for the transport while uvicorn writes the first body part: the held head
    goes in front of it, in the same write."""

    __slots__ = ("head", "transport")

    def __init__(self, transport: asyncio.Transport, head: bytes) -> None:
        self.transport = transport
        self.head = head

    def write(self, data: bytes) -> None:
        head, self.head = self.head, b""
        if len(data) > _COALESCE_BYTES:  # a large body part: no copy, one more write
            self.transport.write(head)
            self.transport.write(data)
        else:
            self.transport.write(head + data)

    def close(self) -> None:
        if self.head:  # a body write that wrote nothing (HEAD): the head still goes out
            self.transport.write(self.head)
            self.head = b""
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class CoalescingCycle(RequestResponseCycle):
    """uvicorn's request/response cycle, but the response head waits for the first body part
    (or the end of the response) and goes out in the same ``write``: one system call and one
    segment for a whole KMS reply. Everything else (checks, keep-alive, flow control) is
    uvicorn's own ``send``, run against a stand-in transport."""

    _held: bytes | None = None
    # Set while a directly answered request waits for the rest of its body.
    direct: DirectHandler | None = None

    async def run_direct(self, handler: DirectHandler) -> None:
        """Answer the request with ``handler`` (the body is complete): one ``write``."""
        try:
            status, headers, body = await handler(self.scope, bytes(self.body))  # type: ignore[arg-type]
            self.body = bytearray()
            await self.write_whole(status, headers, body)
        except BaseException as exc:
            log.error("Exception in the direct handler", exc_info=exc)
            if not self.response_started:
                await self.send_500_response()
            else:
                self.transport.close()
        finally:
            self.on_response = _nothing

    async def write_whole(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        """The whole response in one ``write``: what uvicorn's ``send`` does for a start and
        a final body message, for headers this server makes (no checks for CR/LF needed)."""
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        self.response_started = True
        self.waiting_for_100_continue = False
        parts = [STATUS_LINE[status]]
        for name, value in self.default_headers:
            parts += (name, b": ", value, b"\r\n")
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        if not self.keep_alive:
            parts.append(b"connection: close\r\n")
        parts += (b"content-length: %d\r\n\r\n" % len(body), body)
        self.transport.write(b"".join(parts))
        self.response_complete = True
        self.message_event.set()
        if not self.keep_alive:
            self.transport.close()
        self.on_response()

    async def send(self, message: Any) -> None:
        transport = self.transport
        if not self.response_started and message["type"] == "http.response.start":
            held = _HeldHead(transport)
            self.transport = held  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = transport
            if held.data:
                self._held = held.data
            return
        head = self._held
        if head is None:
            await super().send(message)
            return
        self._held = None
        first = _HeadFirst(transport, head)
        self.transport = first  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = transport
            if first.head and not self.disconnected:
                transport.write(first.head)  # nothing was written (HEAD, or an error)


def _nothing() -> None:
    pass


def _sweep(loop: asyncio.AbstractEventLoop, state: ServerState) -> None:
    """Expire connections past their deadline; runs every SWEEP_SECONDS on each worker."""
    now = loop.time()
    for connection in list(state.connections):
        if isinstance(connection, LimitedHttpToolsProtocol):
            deadline = connection.deadline
            if deadline and now > deadline:
                connection.expire()
    if not loop.is_closed():
        loop.call_later(SWEEP_SECONDS, _sweep, loop, state)
