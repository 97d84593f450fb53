"""How the ASGI application is served: one uvicorn configuration for ``serve`` and for tests.

Everything a listening socket needs is decided here from :class:`Settings`: uvloop + httptools
with the connection limits of ``http_limits``, the keep-alive timeout, and the file-descriptor
limit the connection limit must fit under.
"""

from __future__ import annotations

import logging
import resource
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

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
    server = uvicorn.Server(config)
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        server.run()
