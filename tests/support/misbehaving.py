"""Clients that break the rules on purpose, over raw sockets, and ways to watch the server."""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


def address(endpoint: str) -> tuple[str, int]:
    parts = urlsplit(endpoint)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def connect(endpoint: str, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(address(endpoint), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


@dataclass(frozen=True)
class Ending:
    """How the server ended a connection: what it sent, whether it reset, and when."""

    data: bytes
    reset: bool
    seconds: float

    @property
    def status(self) -> int | None:
        if not self.data.startswith(b"HTTP/1.1 "):
            return None
        return int(self.data[9:12])


def read_until_closed(sock: socket.socket, started: float, limit: float = 30.0) -> Ending:
    """Read until the server closes (EOF or reset), at most ``limit`` seconds."""
    chunks: list[bytes] = []
    reset = False
    sock.settimeout(0.2)
    while time.monotonic() - started < limit:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            reset = True
            break
        if not chunk:
            break
        chunks.append(chunk)
    else:
        raise AssertionError(f"the server kept the connection open for {limit} s")
    return Ending(b"".join(chunks), reset, time.monotonic() - started)


def trickle(
    sock: socket.socket, pieces: list[bytes], interval: float, started: float, limit: float
) -> Ending:
    """Send ``pieces`` one every ``interval`` seconds until the server answers or closes."""
    for piece in pieces:
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        readable, _, _ = select.select([sock], [], [], interval)
        if readable:
            break
    return read_until_closed(sock, started, limit)


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


def open_descriptor_limits(pid: int) -> tuple[int, int]:
    """(soft, hard) RLIMIT_NOFILE of ``pid``."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError(f"no open-file limit for {pid}")
