"""Real Strongroom servers for tests: in-process (one worker, movable clock) or as a process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import uvicorn
from botocore.config import Config

from strongroom.kms.api.http_server import http_limits, uvicorn_config
from strongroom.kms.app import create_app, initialize
from strongroom.kms.audit.log import MemoryAuditLog
from strongroom.kms.config import Settings, config_file
from strongroom.kms.domain.clock import ManualClock
from strongroom.kms.service.admin import IssuedAccessKey

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    endpoint: str
    data_dir: Path
    admin_key: IssuedAccessKey
    region: str = REGION

    def client(
        self, key: IssuedAccessKey | None = None, region: str | None = None, **config: Any
    ) -> Any:
        chosen = key or self.admin_key
        return boto3.client(
            "kms",
            endpoint_url=self.endpoint,
            region_name=region or self.region,
            aws_access_key_id=chosen.access_key_id,
            aws_secret_access_key=chosen.secret_access_key,
            config=Config(retries={"max_attempts": 1}, **config),
        )


@dataclass
class InProcessServer(RunningServer):
    clock: ManualClock = field(default_factory=ManualClock)
    audit: MemoryAuditLog = field(default_factory=MemoryAuditLog)
    settings: Settings = field(default_factory=Settings)


@contextmanager
def in_process_server(
    data_dir: Path,
    *,
    chained_audit: bool = False,
    database_url: str = "",
    join: RunningServer | None = None,
    **settings_overrides: Any,
) -> Iterator[InProcessServer]:
    """One worker in a thread of the test process, with a clock the test can move.

    With ``chained_audit`` the server writes the real hash-chained trail into the database
    (``server.audit`` then stays empty) instead of keeping events in memory. An empty
    ``database_url`` is the embedded default (SQLite in the data directory). With ``join``,
    this is another node of that server: same database, a copy of its root key file, the
    same admin credentials.
    ``settings_overrides`` are further settings (limits, quotas).
    """
    if database_url:
        # So that the CLI (`--data-dir`) finds the same database as the server.
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        config_file(data_dir).write_text(f"database_url = {json.dumps(database_url)}\n")
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        port=free_port(),
        workers=1,
        scheduler_seconds=0.1,
        cache_poll_seconds=0.05,
        **{"request_quotas": "off", **settings_overrides},
    ).validated()
    clock = ManualClock()
    if join is not None:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copy2(join.data_dir / "root.key", data_dir / "root.key")
    data, issued = initialize(settings, clock)
    data.db.engine.dispose()
    if join is not None:
        issued = join.admin_key
    assert issued is not None
    audit = MemoryAuditLog()
    app = create_app(settings, clock, None if chained_audit else audit)
    config = uvicorn_config(app, settings, http_limits(settings), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("in-process server did not start")
        time.sleep(0.02)
    try:
        yield InProcessServer(
            f"http://127.0.0.1:{settings.port}",
            data_dir,
            issued,
            clock=clock,
            audit=audit,
            settings=settings,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@dataclass
class ServerProcess(RunningServer):
    process: subprocess.Popen[str] | None = None
    banner: str = ""


def read_credentials(data_dir: Path) -> IssuedAccessKey:
    values = {}
    for line in (data_dir / "aws" / "credentials").read_text().splitlines():
        if "=" in line:
            name, value = (part.strip() for part in line.split("=", 1))
            values[name] = value
    return IssuedAccessKey(values["aws_access_key_id"], values["aws_secret_access_key"], "", "")


def wait_healthy(endpoint: str, process: subprocess.Popen[Any], timeout: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{endpoint}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not become healthy")


@contextmanager
def server_process(data_dir: Path, workers: int = 2, *extra: str) -> Iterator[ServerProcess]:
    """``strongroom serve`` as a real process tree, stopped with SIGTERM afterwards."""
    port = free_port()
    # Tests create keys faster than AWS's 5 CreateKey/s; tests of quotas turn them on.
    env = {"STRONGROOM_REQUEST_QUOTAS": "off", **os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("STRONGROOM_DATA_DIR", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "strongroom.cli.main",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--workers",
            str(workers),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(endpoint, process)
        yield ServerProcess(endpoint, data_dir, read_credentials(data_dir), process=process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
