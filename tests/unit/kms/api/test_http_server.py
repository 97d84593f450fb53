"""The listener's configuration: limits from settings, fitted under the open-file limit."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from strongroom.kms.api.http_limits import LimitedHttpToolsProtocol
from strongroom.kms.api.http_server import (
    RESERVED_DESCRIPTORS,
    http_limits,
    reuse_port_sockets,
    uvicorn_config,
)
from strongroom.kms.config import ConfigError, Settings


def test_limits_come_from_the_settings() -> None:
    settings = Settings(
        max_header_bytes=4096,
        max_headers=20,
        header_timeout_seconds=3,
        body_timeout_seconds=4,
        max_connections=50,
    )
    limits = http_limits(settings, descriptor_limit=100_000)
    assert (limits.max_header_bytes, limits.max_headers) == (4096, 20)
    assert (limits.header_timeout, limits.body_timeout, limits.max_connections) == (3, 4, 50)


def test_connection_limit_is_fitted_under_the_descriptor_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        limits = http_limits(Settings(max_connections=1000), descriptor_limit=300)
    assert limits.max_connections == 300 - RESERVED_DESCRIPTORS
    assert "does not fit the open-file limit 300" in caplog.text


def test_uvicorn_config_uses_the_limited_protocol_and_keep_alive(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, keep_alive_timeout_seconds=7)
    config = uvicorn_config("x:y", settings, http_limits(settings))
    assert config.http is LimitedHttpToolsProtocol
    assert config.timeout_keep_alive == 7
    assert config.http_limits.max_header_bytes == settings.max_header_bytes


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_header_bytes", 512),
        ("max_headers", 5),
        ("header_timeout_seconds", 0.5),
        ("body_timeout_seconds", 601),
        ("keep_alive_timeout_seconds", 0),
        ("max_connections", 0),
    ],
)
def test_out_of_range_limits_are_refused(name: str, value: float) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings(**{name: value}).validated()  # type: ignore[arg-type]


def test_each_worker_gets_a_listening_socket_of_its_own_on_one_port() -> None:
    config = uvicorn_config(
        object(), Settings(host="127.0.0.1", port=0, workers=3), http_limits(Settings())
    )
    sockets = reuse_port_sockets(config)
    try:
        ports = {sock.getsockname() for sock in sockets}
        assert len(sockets) == 3 and len(ports) == 1  # port 0: the first one's port for all
        for sock in sockets:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            assert sock.get_inheritable()
        # Each of them accepts: the kernel spreads connections over the group.
        for sock in sockets:
            sock.listen()
        port = sockets[0].getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(30)]
        accepted: list[list[socket.socket]] = []
        for sock in sockets:
            sock.setblocking(False)
            accepted.append([])
            while True:
                try:
                    accepted[-1].append(sock.accept()[0])
                except BlockingIOError:
                    break
        # All 30 arrive, and each socket gets some (one left without any: odds of about 2e-5).
        assert sum(map(len, accepted)) == 30 and all(accepted), [len(a) for a in accepted]
        for conn in [c for group in accepted for c in group] + clients:
            conn.close()
    finally:
        for sock in sockets:
            sock.close()


def test_a_port_another_server_holds_is_refused_not_shared() -> None:
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # even one that would share
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = other.getsockname()[1]
        config = uvicorn_config(
            object(), Settings(host="127.0.0.1", port=taken, workers=2), http_limits(Settings())
        )
        with pytest.raises(SystemExit) as exit_info:
            reuse_port_sockets(config)
    assert exit_info.value.code == 3  # uvicorn's start-up failure: the supervisor gives up
