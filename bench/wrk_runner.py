"""Run wrk once and parse what it prints (``--latency`` adds the percentile distribution)."""

from __future__ import annotations

import re
import resource
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_PERCENTILE = re.compile(r"^\s+(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_TOTALS = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)(B|KB|MB|GB|TB) read")
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SCRIPT_PERCENTILE = re.compile(r"^PERCENTILE ([\d.]+) (\d+)$", re.M)  # sign_request.DONE, µs
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True, slots=True)
class WrkResult:
    rps: float
    requests: int
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float  # from the script's done() (sign_request.DONE); NaN if it printed none
    bytes_per_request: float
    non_2xx: int
    socket_errors: int
    wrk_cpu_us_per_request: float

    @property
    def valid(self) -> bool:
        """A run counts only if every response was 2xx/3xx and no socket failed."""
        return self.requests > 0 and self.non_2xx == 0 and self.socket_errors == 0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "valid": self.valid}


def parse(output: str, wrk_cpu_seconds: float = 0.0) -> WrkResult:
    percentiles = {p: float(v) * _TIME_UNITS_MS[u] for p, v, u in _PERCENTILE.findall(output)}
    totals = _TOTALS.search(output)
    rps = _RPS.search(output)
    if totals is None or rps is None or len(percentiles) != 4:
        raise ValueError(f"cannot parse wrk output:\n{output}")
    requests = int(totals[1])
    read_bytes = float(totals[4]) * _SIZE_UNITS[totals[5]]
    from_script = {p: int(us) / 1000 for p, us in _SCRIPT_PERCENTILE.findall(output)}
    non_2xx = _NON_2XX.search(output)
    socket = _SOCKET.search(output)
    return WrkResult(
        rps=float(rps[1]),
        requests=requests,
        p50_ms=percentiles["50"],
        p75_ms=percentiles["75"],
        p90_ms=percentiles["90"],
        p99_ms=percentiles["99"],
        p999_ms=from_script.get("99.9", float("nan")),
        bytes_per_request=read_bytes / requests if requests else 0.0,
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(map(int, socket.groups())) if socket else 0,
        wrk_cpu_us_per_request=wrk_cpu_seconds * 1e6 / requests if requests else 0.0,
    )


def run(url: str, script: Path, connections: int, seconds: int, threads: int = 1) -> WrkResult:
    """``wrk -t1 -c<c> -d<s>s --latency -s <script> <url>``, with wrk's own CPU time."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return parse(done.stdout, cpu)
