"""A private PostgreSQL cluster for the tests: Debian's binaries, a temp dir, a free port.

PostgreSQL refuses to run as root, and the tests run as root here and in CI: the cluster then
belongs to the ``postgres`` system user (made by Debian's package; scripts/test.sh installs it)
and its commands run through ``runuser``. Each test that wants a database gets a new one
(``new_database``), so tests never see each other's rows.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.support.servers import free_port

SUPERUSER = "strongroom"
_SETTINGS = (
    # A test cluster: durability is not what is tested, speed is.
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=300",
    "shared_preload_libraries=pg_stat_statements",
    "listen_addresses=127.0.0.1",
)


def bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path is None:
        raise RuntimeError("PostgreSQL is not installed (scripts/test.sh installs it)")
    return Path(on_path).resolve().parent


@dataclass
class PostgresCluster:
    directory: Path
    port: int
    owner: str | None  # the system user running the server; None: this user
    _names: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.owner, "--"] if self.owner else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, text=True)

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(bin_dir() / "pg_ctl"), "-D", str(self.data), *args)

    def start(self) -> None:
        options = " ".join(f"-c {s}" for s in _SETTINGS)
        options += f" -p {self.port} -c unix_socket_directories={self.directory}"
        self._pg_ctl("-l", str(self.directory / "log"), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "-t", "60", "stop")

    def restart(self, down_for: float = 0.0) -> None:
        """Stop (dropping every connection) and start again after ``down_for`` seconds."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url(), autocommit=True)

    def new_database(self) -> str:
        """A new, empty database; its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def start_cluster() -> PostgresCluster:
    owner = "postgres" if os.geteuid() == 0 else None
    directory = Path(tempfile.mkdtemp(prefix="strongroom-pg-"))
    if owner is not None:
        entry = pwd.getpwnam(owner)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    cluster = PostgresCluster(directory, free_port(), owner)
    cluster._run(
        str(bin_dir() / "initdb"),
        "-D",
        str(cluster.data),
        "-U",
        SUPERUSER,
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--no-sync",
    )
    cluster.start()
    return cluster


def remove_cluster(cluster: PostgresCluster) -> None:
    try:
        cluster.stop("immediate")
    finally:
        shutil.rmtree(cluster.directory, ignore_errors=True)
