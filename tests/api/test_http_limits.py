"""Misbehaving clients over raw sockets against a real ``strongroom serve`` (one worker).

Each attack must end in bounded time and memory, with the refusal AWS-shaped where the client
sent enough to be answered, while boto3 requests on other connections keep working.
"""

from __future__ import annotations

import contextlib
import json
import resource
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.misbehaving import (
    Ending,
    connect,
    cpu_seconds,
    open_descriptor_limits,
    read_until_closed,
    rss_bytes,
    trickle,
)
from tests.support.processes import OutputDrain
from tests.support.servers import ServerProcess, server_process

MAX_HEADER_BYTES = 8192
MAX_HEADERS = 40
HEADER_TIMEOUT = 2
BODY_TIMEOUT = 2
KEEP_ALIVE = 2
MAX_CONNECTIONS = 60
# A deadline is noticed by a sweep once a second; a loaded machine adds its own delay.
SLACK = 4.0

SETTINGS = f"""
max_header_bytes = {MAX_HEADER_BYTES}
max_headers = {MAX_HEADERS}
header_timeout_seconds = {HEADER_TIMEOUT}
body_timeout_seconds = {BODY_TIMEOUT}
keep_alive_timeout_seconds = {KEEP_ALIVE}
max_connections = {MAX_CONNECTIONS}
"""

HEAD = b"POST / HTTP/1.1\r\nHost: kms\r\nContent-Type: application/x-amz-json-1.1\r\n"


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir: Path = tmp_path_factory.mktemp("limits") / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / "strongroom.toml").write_text(SETTINGS)
    with server_process(data_dir, 1) as running:
        assert running.process is not None
        OutputDrain(running.process)
        yield running


def _pid(server: ServerProcess) -> int:
    assert server.process is not None
    return server.process.pid


def _error(ending: Ending) -> dict[str, Any]:
    head, _, body = ending.data.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower()
    return dict(json.loads(body))


def _still_serves(server: ServerProcess) -> None:
    kms = server.client()
    assert kms.list_keys()["Keys"] is not None


def test_oversized_header_is_refused_with_431(limited: ServerProcess) -> None:
    sock = connect(limited.endpoint)
    started = time.monotonic()
    sock.sendall(HEAD + b"X-Big: " + b"a" * (MAX_HEADER_BYTES + 1000))
    ending = read_until_closed(sock, started)
    assert ending.status == 431
    assert _error(ending)["__type"] == "RequestHeaderSectionTooLarge"
    assert ending.seconds < SLACK
    _still_serves(limited)


def test_header_stream_of_200_mb_costs_bounded_time_memory_and_cpu(
    limited: ServerProcess,
) -> None:
    pid = _pid(limited)
    rss_before, cpu_before = rss_bytes(pid), cpu_seconds(pid)
    sock = connect(limited.endpoint)
    started = time.monotonic()
    chunk = b"a" * 65536
    sent = 0
    try:
        sock.sendall(HEAD + b"X-Big: ")
        while sent < 200 * 1024 * 1024 and time.monotonic() - started < 20:
            sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.close()
    # The server stopped reading at the budget: the kernel's buffers took the rest.
    assert sent < 32 * 1024 * 1024
    assert time.monotonic() - started < 20
    assert cpu_seconds(pid) - cpu_before < 2.0
    assert rss_bytes(pid) - rss_before < 16 * 1024 * 1024
    _still_serves(limited)


def test_too_many_headers_are_refused_with_431(limited: ServerProcess) -> None:
    sock = connect(limited.endpoint)
    started = time.monotonic()
    many = b"".join(b"X-H%d: v\r\n" % n for n in range(MAX_HEADERS + 5))
    sock.sendall(HEAD + many + b"Content-Length: 2\r\n\r\n{}")
    ending = read_until_closed(sock, started)
    assert ending.status == 431
    assert _error(ending)["message"] == f"A request may carry at most {MAX_HEADERS} headers."


def test_slowloris_head_is_ended_after_the_header_timeout(limited: ServerProcess) -> None:
    sock = connect(limited.endpoint)
    started = time.monotonic()
    pieces = [HEAD] + [b"X-Slow-%d: v\r\n" % n for n in range(60)]
    ending = trickle(sock, pieces, 0.25, started, limit=30)
    assert ending.status == 408
    assert _error(ending)["__type"] == "RequestTimeout"
    assert HEADER_TIMEOUT - 0.5 < ending.seconds < HEADER_TIMEOUT + SLACK


def test_slow_body_is_ended_after_the_body_timeout(limited: ServerProcess) -> None:
    sock = connect(limited.endpoint)
    started = time.monotonic()
    head = HEAD + b"X-Amz-Target: TrentService.ListKeys\r\nContent-Length: 1000\r\n\r\n"
    ending = trickle(sock, [head] + [b" " * 5] * 100, 0.25, started, limit=30)
    assert ending.status == 408
    assert BODY_TIMEOUT - 0.5 < ending.seconds < BODY_TIMEOUT + SLACK


def test_silent_connection_is_closed_after_the_header_timeout(limited: ServerProcess) -> None:
    sock = connect(limited.endpoint)
    ending = read_until_closed(sock, time.monotonic())
    assert ending.data == b""
    assert HEADER_TIMEOUT - 0.5 < ending.seconds < HEADER_TIMEOUT + SLACK


def test_idle_keep_alive_connection_is_closed(limited: ServerProcess) -> None:
    sock = connect(limited.endpoint)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: kms\r\n\r\n")
    first = b""
    while not first.endswith(b'{"status":"ok"}'):  # the whole response, however it is split
        first += sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    ending = read_until_closed(sock, time.monotonic())
    assert ending.data == b""
    assert KEEP_ALIVE - 0.5 < ending.seconds < KEEP_ALIVE + SLACK


def test_slow_connections_below_the_limit_do_not_stop_boto3(limited: ServerProcess) -> None:
    slow = [connect(limited.endpoint) for _ in range(MAX_CONNECTIONS - 10)]
    for sock in slow:
        sock.sendall(HEAD + b"X-Slow: ")
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(0.3):
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.send(b"a")

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    try:
        kms = limited.client()
        for _ in range(20):
            assert isinstance(kms.list_keys()["Keys"], list)
    finally:
        stop.set()
        dripper.join()
    started = time.monotonic()
    endings = [read_until_closed(sock, started) for sock in slow]
    assert {ending.status for ending in endings} == {408}
    assert max(ending.seconds for ending in endings) < HEADER_TIMEOUT + SLACK


def test_connections_beyond_the_limit_get_503_and_the_server_recovers(
    limited: ServerProcess,
) -> None:
    held = [connect(limited.endpoint) for _ in range(MAX_CONNECTIONS)]
    time.sleep(0.3)  # let the worker accept them all
    extra = connect(limited.endpoint)
    started = time.monotonic()
    extra.sendall(b"GET /health HTTP/1.1\r\nHost: kms\r\n\r\n")
    ending = read_until_closed(extra, started)
    assert ending.status == 503
    assert _error(ending)["__type"] == "ServiceUnavailable"
    silent = connect(limited.endpoint)
    assert read_until_closed(silent, time.monotonic()).seconds < SLACK
    for sock in held:
        sock.close()
    deadline = time.monotonic() + SLACK
    while True:
        try:
            _still_serves(limited)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_refused_connections_do_not_leak(limited: ServerProcess) -> None:
    before = len(list(Path(f"/proc/{_pid(limited)}/fd").iterdir()))
    for _ in range(50):
        with connect(limited.endpoint) as sock:
            sock.sendall(HEAD + b"X-Big: " + b"a" * (MAX_HEADER_BYTES + 10))
            read_until_closed(sock, time.monotonic())
    with connect(limited.endpoint) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: kms\r\nConnection: close\r\n\r\n")
        assert read_until_closed(sock, time.monotonic()).status == 200
    after = len(list(Path(f"/proc/{_pid(limited)}/fd").iterdir()))
    assert after <= before + 2


def test_pipelined_head_after_a_request_has_its_own_budget(limited: ServerProcess) -> None:
    sock = connect(limited.endpoint)
    started = time.monotonic()
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: kms\r\n\r\n" + HEAD + b"X-Big: ")
    time.sleep(0.1)  # the health request is answered; the next head is counted afresh
    sock.sendall(b"a" * (MAX_HEADER_BYTES + 100))  # nothing after it: no reset
    ending = read_until_closed(sock, started)
    first, _, rest = ending.data.partition(b'{"status":"ok"}')
    assert first.startswith(b"HTTP/1.1 200")
    assert rest.startswith(b"HTTP/1.1 431")


def test_serve_raises_the_soft_open_file_limit_to_the_hard_limit(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(256, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        with server_process(tmp_path / "data", 1) as running:
            assert running.process is not None
            OutputDrain(running.process)
            assert open_descriptor_limits(running.process.pid) == (hard, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert hard > low, "the hard limit of this machine is too low to show the raise"
