"""The ASGI entry point of a node: which API answers a request, and the lifespan.

HTTP goes to the KMS API (``server.py``), or to the XKS proxy, the web console or the object
store (``side``) when one claims the request. A plain KMS request can also be answered without
ASGI: :meth:`AsgiApp.direct_handler` tells the HTTP protocol (``http_limits.py``) when (ADR 33).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from strongroom.client.served import Served
from strongroom.kms.api.http_limits import DIRECT_MAX_BODY, DirectHandler
from strongroom.kms.api.server import KmsApi, Receive, Scope, Send, is_probe
from strongroom.kms.log_limits import RateLimitedLog, describe_failure, is_environmental

if TYPE_CHECKING:
    from strongroom.xks.api import XksApi

log = logging.getLogger(__name__)

CONSOLE_PREFIX = "/console"
# Headers whose handling lives on the ASGI path (uvicorn's middleware and cycle).
_ASGI_PATH_HEADERS = frozenset(
    (b"x-forwarded-for", b"x-forwarded-proto", b"transfer-encoding", b"expect")
)


def _is_console(path: str) -> bool:
    """``/console`` and below: never a bucket named ``consoles`` or ``console-logs``."""
    return path.startswith(CONSOLE_PREFIX) and path[
        len(CONSOLE_PREFIX) : len(CONSOLE_PREFIX) + 1
    ] in ("", "/")


class SideApi(Protocol):
    """Another API served on the same port (the object store's S3 API)."""

    def claims(self, scope: Scope) -> bool:
        """Whether the request is for this API; must be cheap (it runs for every request)."""
        ...

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> Served:
        """Answer the request; returns what it was, for the node's metrics and log."""
        ...


class AsgiApp:
    """ASGI entry point: HTTP goes to the API, or to the XKS proxy, the web console or the
    object store (``side``) when one claims the request;
    lifespan starts and stops background tasks."""

    def __init__(
        self,
        api: KmsApi,
        background: Sequence[tuple[Callable[[], Awaitable[None]], float]],
        on_shutdown: Callable[[], None],
        *,
        on_startup: Callable[[], None] | None = None,
        xks: XksApi | None = None,
        side: SideApi | None = None,
        console: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None,
    ) -> None:
        """``console``: the web console's ASGI app, served under ``/console``."""
        self.api = api
        self.xks = xks
        self.side = side
        self._console = console
        self._background = background
        self._on_shutdown = on_shutdown
        self._on_startup = on_startup
        self._tasks: list[asyncio.Task[None]] = []
        self._direct_max_body = min(api.max_body, DIRECT_MAX_BODY)

    def direct_handler(self, scope: Scope) -> DirectHandler | None:
        """The KMS's own handler for a plain KMS request, answered without ASGI by the HTTP
        protocol (ADR 33); None sends the request down :meth:`__call__` instead. Plain means:
        ``POST /`` with a ``TrentService.`` target, a declared body that uvicorn keeps whole
        without flow control, no proxy headers (uvicorn's middleware reads them on the ASGI
        path), no ``Expect`` and no chunked body, and not claimed by the object store."""
        if scope["method"] != "POST" or scope["path"] != "/" or scope["query_string"]:
            return None
        kms_target = False
        length = -1
        for name, value in scope["headers"]:
            if name == b"x-amz-target":
                kms_target = value.startswith(b"TrentService.")
            elif name == b"content-length":
                length = int(value) if value.isdigit() else -1
            elif name in _ASGI_PATH_HEADERS:
                return None
        if not kms_target or not 0 <= length <= self._direct_max_body:
            return None
        side = self.side
        if side is not None and side.claims(scope):
            return None
        return self.api.answer_direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            xks, side = self.xks, self.side
            if xks is not None and scope["path"].startswith("/xks/") and xks.claims(scope):
                started = time.perf_counter()
                served = await xks.handle(scope, receive, send)
                self.api.record(served, time.perf_counter() - started)
            elif self._console is not None and _is_console(scope["path"]):
                await self._console(scope, receive, send)
            elif side is not None and not is_probe(scope) and side.claims(scope):
                started = time.perf_counter()
                served = await side.handle(scope, receive, send)
                self.api.record(served, time.perf_counter() - started)
            else:
                await self.api.handle(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Objects that live as long as the process (model, caches' code, modules) are
                # moved out of the collector's sight, so collections on the hot path are short.
                gc.freeze()
                if self._on_startup is not None:
                    self._on_startup()
                self._tasks = [
                    asyncio.create_task(_every(job, period)) for job, period in self._background
                ]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self._tasks:
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                self._on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _every(job: Callable[[], Awaitable[None]], period: float) -> None:
    """Run ``job`` now and then every ``period`` seconds; log and survive its failures.

    A job that keeps failing (a full disk) logs its first traceback, then one line at most
    every 30 s, naming the failure without quoting data (log_limits.py). The engine hides
    statement parameters from database errors, so no traceback quotes a record either.
    """
    name = getattr(job, "__qualname__", repr(job))
    alert = RateLimitedLog(log, 30.0)
    failing = False
    while True:
        try:
            await job()
        except Exception as error:
            if not failing:
                # The first failure of a streak; a traceback only for what is not a failure of
                # the machine (a full disk is not a bug, and repeats until space returns).
                failing = True
                log.error(
                    "background job %s failed: %s",
                    name,
                    describe_failure(error),
                    exc_info=not is_environmental(error),
                )
            else:
                alert.log(
                    logging.ERROR,
                    f"background job {name} still fails: {describe_failure(error)}",
                )
        else:
            if failing:
                failing = False
                alert.reset()
                log.warning("background job %s succeeds again", name)
        await asyncio.sleep(period)
