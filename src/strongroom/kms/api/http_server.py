"""How the ASGI application is served: one uvicorn configuration for ``serve`` and for tests.

Everything a listening socket needs is decided here from :class:`Settings`: uvloop + httptools
with the connection limits of ``http_limits``, the keep-alive timeout, and the file-descriptor
limit the connection limit must fit under.

With several workers, each listens on a socket of its own, all bound to the port with
``SO_REUSEPORT``, so the kernel spreads new connections over the workers. On one shared socket
(uvicorn's way) the worker that wakes first accepts every connection waiting: 16 connections
opened together were measured split 2/15, 16/0 and 6/11 between two workers, and one worker
then served almost everything while the other idled (ADR 37).
"""

from __future__ import annotations

import logging
import resource
import socket
import sys
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import Process

from strongroom.kms.api.http_limits import HttpLimits, LimitsConfig
from strongroom.kms.config import Settings

log = logging.getLogger(__name__)

# Descriptors a worker needs besides its connections: database, WAL, HSM, logs, listening socket.
RESERVED_DESCRIPTORS = 128
_UNLIMITED_CAP = 1 << 20


def raise_descriptor_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (inherited by workers); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _UNLIMITED_CAP if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as error:
            log.warning("could not raise the open-file limit from %d: %s", soft, error)
    return _UNLIMITED_CAP if soft == resource.RLIM_INFINITY else soft


def http_limits(settings: Settings, descriptor_limit: int | None = None) -> HttpLimits:
    """The limits of ``settings``; the connection limit lowered to fit ``descriptor_limit``."""
    connections = settings.max_connections
    if descriptor_limit is not None and connections > descriptor_limit - RESERVED_DESCRIPTORS:
        fitted = max(descriptor_limit - RESERVED_DESCRIPTORS, 1)
        log.warning(
            "max_connections %d does not fit the open-file limit %d; using %d per worker",
            connections,
            descriptor_limit,
            fitted,
        )
        connections = fitted
    return HttpLimits(
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
        header_timeout=settings.header_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        max_connections=connections,
    )


def uvicorn_config(
    app: Any, settings: Settings, limits: HttpLimits, **overrides: Any
) -> LimitsConfig:
    """The uvicorn configuration of a Strongroom listener (``app``: object or import string)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "loop": "uvloop",
        "lifespan": "on",
        "access_log": False,
        "log_level": settings.log_level,
        "timeout_keep_alive": settings.keep_alive_timeout_seconds,
        "timeout_graceful_shutdown": 10,
    }
    options.update(overrides)
    return LimitsConfig(app, http_limits=limits, **options)


def run(config: LimitsConfig) -> None:
    """Serve until stopped: in this process, or in ``config.workers`` worker processes."""
    if config.workers > 1:
        ReusePortMultiprocess(config, sockets=reuse_port_sockets(config)).run()
    else:
        uvicorn.Server(config).run()


def reuse_port_sockets(config: Config) -> list[socket.socket]:
    """One listening socket per worker on ``config``'s address, all with ``SO_REUSEPORT``.

    The address must be free first: a plain bind is tried and released, so a port another
    server holds fails as it always did, instead of joining that server's group (Linux lets
    sockets of the same user share a port when all of them ask to)."""
    family = socket.AF_INET6 if config.host and ":" in config.host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        with socket.socket(family=family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((config.host, config.port))
            port = probe.getsockname()[1]
        for _ in range(config.workers):
            sock = socket.socket(family=family)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((config.host, port))
            sock.set_inheritable(True)
    except OSError as error:
        for sock in sockets:
            sock.close()
        log.error("%s", error)
        sys.exit(STARTUP_FAILURE)
    scheme = "https" if config.is_ssl else "http"
    log.info("listening on %s://%s:%d, one socket per worker", scheme, config.host, port)
    return sockets


class ReusePortMultiprocess(Multiprocess):
    """uvicorn's supervisor, with worker ``i`` on listening socket ``i`` (a replacement takes
    over its predecessor's socket, and the connections queued on it)."""

    def init_processes(self) -> None:
        for slot in range(self.processes_num):
            self.processes.append(self._start(slot))

    def restart_all(self) -> None:
        """Like uvicorn's: each worker's replacement serves before the old one is retired."""
        for slot, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(slot)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    log.error("worker [%s] was not ready in time; restart aborted", new.pid)
                return
            old.terminate()
            old.join()
            self.processes[slot] = new

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for slot, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung: stop it
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # It failed before serving (the app, TLS or the socket is broken): every
                # restart would fail the same way.
                log.error("worker [%s] failed to start; stopping", process.pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            log.info("worker [%s] died; starting another", process.pid)
            self.processes[slot] = self._start(slot)

    def _start(self, slot: int) -> Process:
        process = Process(self.config, [self.sockets[slot]])
        process.start()
        return process
