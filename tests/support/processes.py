"""Looking at server process trees from the outside: output, children, groups, sockets (Linux).

Everything here reads ``/proc``; nothing signals or changes a process.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_SIOCGIFADDR = 0x8915
_TCP_ESTABLISHED = "01"
_TCP_LISTEN = "0A"


class OutputDrain:
    """Reads a process's (text) stdout in a thread, so the pipe never fills, and keeps it."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self._stream = process.stdout
        self._chunks: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        for line in self._stream:
            with self._lock:
                self._chunks.append(line)

    def text(self) -> str:
        with self._lock:
            return "".join(self._chunks)

    def wait_for(self, marker: str, timeout: float = 10.0) -> str:
        """The output so far once it contains ``marker`` (raises after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if marker in text:
                return text
            if not self._thread.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(f"{marker!r} not in the process output:\n{self.text()}")

    def join(self, timeout: float = 10.0) -> str:
        """All output, after the process closed its end of the pipe."""
        self._thread.join(timeout)
        return self.text()


@dataclass(frozen=True, slots=True)
class ProcStat:
    pid: int
    state: str
    ppid: int
    pgrp: int
    cpu_ticks: int


def proc_stat(pid: int) -> ProcStat | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    rest = raw[raw.rindex(")") + 2 :].split()
    return ProcStat(pid, rest[0], int(rest[1]), int(rest[2]), int(rest[11]) + int(rest[12]))


def all_processes() -> list[ProcStat]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat is not None:
                found.append(stat)
    return found


def is_running(pid: int) -> bool:
    """Exists and is not a zombie (a zombie has exited; only its parent has not reaped it)."""
    stat = proc_stat(pid)
    return stat is not None and stat.state != "Z"


def children(pid: int) -> list[int]:
    return sorted(p.pid for p in all_processes() if p.ppid == pid and p.state != "Z")


def group_members(pgid: int) -> list[int]:
    return sorted(p.pid for p in all_processes() if p.pgrp == pgid and p.state != "Z")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def uvicorn_workers(server_pid: int) -> list[int]:
    """The worker processes uvicorn spawned (its resource tracker child is not one)."""
    return [pid for pid in children(server_pid) if "spawn_main" in cmdline(pid)]


def wait_until_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid in pids if is_running(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def wait_group_gone(pgid: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = group_members(pgid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


# --- sockets ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TcpEntry:
    local_address: str  # as in /proc/net/tcp: hex, network order per 32-bit word
    local_port: int
    remote_port: int
    state: str
    inode: int


def tcp_table(family: str = "tcp") -> list[TcpEntry]:
    """``/proc/net/tcp`` (or ``tcp6``) of this network namespace."""
    entries = []
    lines = Path(f"/proc/net/{family}").read_text().splitlines()[1:]
    for line in lines:
        fields = line.split()
        local, remote = fields[1], fields[2]
        local_address, local_port = local.rsplit(":", 1)
        entries.append(
            TcpEntry(
                local_address,
                int(local_port, 16),
                int(remote.rsplit(":", 1)[1], 16),
                fields[3],
                int(fields[9]),
            )
        )
    return entries


def listening(port: int) -> dict[str, list[str]]:
    """Addresses listening on ``port``, per family, as hex strings from /proc/net."""
    return {
        family: [
            e.local_address
            for e in tcp_table(family)
            if e.local_port == port and e.state == _TCP_LISTEN
        ]
        for family in ("tcp", "tcp6")
    }


LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp prints it (little-endian)


def socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        names = os.listdir(fd_dir)
    except (FileNotFoundError, ProcessLookupError):
        return inodes
    for name in names:
        try:
            target = os.readlink(fd_dir / name)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def connection_owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the server side of the connection from ``client_port``."""
    inodes = {
        e.inode
        for e in tcp_table()
        if e.local_port == server_port
        and e.remote_port == client_port
        and e.state == _TCP_ESTABLISHED
    }
    for pid in pids:
        if socket_inodes(pid) & inodes:
            return pid
    return None


def non_loopback_addresses() -> list[tuple[int, str]]:
    """This machine's (family, address) pairs that are neither loopback nor link-local."""
    found: list[tuple[int, str]] = []
    for _, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                packed = fcntl.ioctl(
                    sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name[:15].encode())
                )
            except OSError:
                continue
        address = socket.inet_ntoa(packed[20:24])
        if not address.startswith("127."):
            found.append((socket.AF_INET, address))
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        fields = line.split()
        scope = int(fields[3], 16)
        if scope == 0:  # global scope only: loopback is 0x10, link-local 0x20
            raw = bytes.fromhex(fields[0])
            found.append((socket.AF_INET6, socket.inet_ntop(socket.AF_INET6, raw)))
    return found


# --- the strongroom command ----------------------------------------------------------------


def strongroom(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``strongroom ARGS`` to completion, as an operator would."""
    env = {**os.environ}
    env.pop("STRONGROOM_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
