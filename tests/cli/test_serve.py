"""``strongroom serve`` as an operator runs it: first start, files and modes, restart, stop."""

from __future__ import annotations

import configparser
import os
import signal
import socket
import stat
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import (
    LOOPBACK_HEX,
    OutputDrain,
    children,
    cmdline,
    group_members,
    listening,
    non_loopback_addresses,
    strongroom,
    uvicorn_workers,
    wait_group_gone,
)
from tests.support.servers import ServerProcess, free_port, server_process

BANNER_END = "aws kms create-key --endpoint-url"


@dataclass
class FirstStart:
    server: ServerProcess
    port: int
    banner: str


@pytest.fixture(scope="module")
def first_start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstStart]:
    data_dir = tmp_path_factory.mktemp("serve") / "data"  # does not exist yet
    with server_process(data_dir) as running:
        assert running.process is not None
        output = OutputDrain(running.process)
        text = output.wait_for(BANNER_END)
        # The banner's last line is complete once its newline is there.
        deadline = time.monotonic() + 5
        while not text[text.index(BANNER_END) :].count("\n") and time.monotonic() < deadline:
            time.sleep(0.02)
            text = output.text()
        port = int(running.endpoint.rsplit(":", 1)[1])
        yield FirstStart(running, port, text)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_banner_names_endpoint_credentials_config_and_an_example(first_start: FirstStart) -> None:
    data_dir = first_start.server.data_dir.resolve()
    banner, port = first_start.banner, first_start.port
    endpoint = f"http://127.0.0.1:{port}"
    assert endpoint in banner
    assert str(data_dir / "aws" / "credentials") in banner
    assert str(data_dir / "aws" / "config") in banner
    example = [line.strip() for line in banner.splitlines() if BANNER_END in line]
    assert example == [f"aws kms create-key --endpoint-url {endpoint}"]
    # The banner comes before the server's own log lines.
    assert banner.index(endpoint) < banner.index(BANNER_END)


def test_aws_files_are_in_shared_file_format(first_start: FirstStart) -> None:
    aws_dir = first_start.server.data_dir / "aws"
    credentials = configparser.ConfigParser()
    credentials.read_string((aws_dir / "credentials").read_text())
    assert credentials.sections() == ["default"]
    assert set(credentials["default"]) == {"aws_access_key_id", "aws_secret_access_key"}
    assert credentials["default"]["aws_access_key_id"].startswith("AKIA")
    assert len(credentials["default"]["aws_secret_access_key"]) >= 16
    config = configparser.ConfigParser()
    config.read_string((aws_dir / "config").read_text())
    assert config.sections() == ["default"]
    assert config["default"]["region"] == "us-east-1"
    # ... and they are the credentials the server accepts.
    kms = first_start.server.client()
    assert kms.list_keys()["Keys"] == []


def test_secrets_are_readable_by_owner_only(first_start: FirstStart) -> None:
    data_dir = first_start.server.data_dir
    root_key = data_dir / "root.key"
    assert len(root_key.read_bytes()) == 32
    assert mode(root_key) == 0o600
    assert mode(data_dir / "aws" / "credentials") == 0o600
    assert mode(data_dir / "aws" / "config") & 0o077 == 0
    assert mode(data_dir) & 0o077 == 0
    db_files = sorted(data_dir.glob("strongroom.db*"))  # with -wal and -shm while running
    assert data_dir / "strongroom.db" in db_files
    for path in db_files:
        assert mode(path) & 0o007 == 0, f"{path.name} is accessible by others: {mode(path):04o}"
    # Nothing the server wrote (database, audit log, ...) is for anyone but its owner.
    for path in data_dir.rglob("*"):
        assert mode(path) & 0o077 == 0, f"{path} has mode {mode(path):04o}"


def test_listens_on_loopback_only(first_start: FirstStart) -> None:
    port = first_start.port
    sockets = listening(port)
    assert sockets["tcp"], f"nothing listens on port {port}"
    assert set(sockets["tcp"]) == {LOOPBACK_HEX}
    assert sockets["tcp6"] == []

    addresses = non_loopback_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback address to try")
    for family, address in addresses:
        # Control: the address is reachable here, so a refusal below means something.
        with socket.socket(family, socket.SOCK_STREAM) as control:
            control.bind((address, 0))
            control.listen()
            probe = socket.create_connection((address, control.getsockname()[1]), timeout=2)
            probe.close()
        with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
            pass


def test_restart_keeps_keys_and_does_not_rewrite_credentials(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with server_process(data_dir, 1) as first:
        kms = first.client()
        key_id = kms.create_key(Description="survives restarts")["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"old secret", EncryptionContext={"k": "v"})[
            "CiphertextBlob"
        ]
    credentials = data_dir / "aws" / "credentials"
    before = credentials.read_bytes(), credentials.stat().st_mtime_ns, credentials.stat().st_ino

    with server_process(data_dir, 1) as second:
        after = credentials.read_bytes(), credentials.stat().st_mtime_ns, credentials.stat().st_ino
        assert after == before
        assert second.admin_key.access_key_id == first.admin_key.access_key_id
        kms = second.client()
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        assert (meta["Description"], meta["KeyState"]) == ("survives restarts", "Enabled")
        decrypted = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})
        assert decrypted["Plaintext"] == b"old secret"
        assert decrypted["KeyId"] == meta["Arn"]
        assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [key_id]

    # A key file opened up between two starts stops the next one.
    (data_dir / "root.key").chmod(0o644)
    result = strongroom(
        "serve", "--data-dir", str(data_dir), "--port", str(free_port()), timeout=15
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("strongroom: root key file"), result.stderr
    assert "0644" in result.stderr


def test_sigterm_stops_the_whole_process_tree_with_status_zero(tmp_path: Path) -> None:
    with server_process(tmp_path / "data", 2) as running:
        process = running.process
        assert process is not None
        output = OutputDrain(process)
        assert os.getpgid(process.pid) == process.pid  # its own group: see server_process
        workers = uvicorn_workers(process.pid)
        assert len(workers) == 2, cmdline_report(process.pid)
        members = group_members(process.pid)
        assert set(workers) | {process.pid} <= set(members)
        assert len(running.client().generate_random(NumberOfBytes=4)["Plaintext"]) == 4

        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=10)
        elapsed = time.monotonic() - started
        left = wait_group_gone(process.pid, timeout=max(0.0, 5 - elapsed))
        text = output.join()
    assert status == 0, text
    assert elapsed < 5, f"took {elapsed:.1f} s to stop"
    assert left == [], f"still running after SIGTERM: {left}"
    assert "Traceback" not in text


def cmdline_report(pid: int) -> str:
    return "\n".join(f"{child}: {cmdline(child)}" for child in children(pid))


@pytest.mark.parametrize("bad_mode", [0o644, 0o640], ids=["0644", "0640"])
def test_serve_refuses_a_root_key_readable_by_others(tmp_path: Path, bad_mode: int) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    root_key = data_dir / "root.key"
    root_key.write_bytes(os.urandom(32))
    root_key.chmod(bad_mode)
    result = strongroom(
        "serve", "--data-dir", str(data_dir), "--port", str(free_port()), timeout=15
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "root key file" in result.stderr
    assert f"{bad_mode:04o}" in result.stderr
    assert f"chmod 600 {root_key}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Strongroom KMS on" not in result.stdout  # no banner: it did not start
    assert mode(root_key) == bad_mode  # and it left the file alone
    assert not (data_dir / "aws").exists()


def _answering_workers(endpoint: str, connections: int) -> set[str]:
    """The workers that answered ``connections`` fresh connections, by request-id prefix (a
    random prefix per process, kms/domain/ids.py)."""
    prefixes = set()
    for _ in range(connections):
        # A connection the kernel gives a worker still starting waits for it: seconds.
        with urllib.request.urlopen(endpoint + "/health", timeout=60) as response:
            prefixes.add(response.headers["x-amzn-requestid"].rsplit("-", 1)[0])
    return prefixes


def _until_both_answer(endpoint: str) -> None:
    """A worker's socket takes connections once the worker listens on it: the server answers
    as soon as one does, a second may still be starting (seconds on a loaded machine)."""
    deadline = time.monotonic() + 60
    while len(answering := _answering_workers(endpoint, 24)) < 2:  # one of two: odds 2**-23
        assert time.monotonic() < deadline, f"only {answering} answer"
        time.sleep(0.2)


def test_connections_are_spread_over_the_workers_and_a_dead_workers_socket_is_taken_over(
    tmp_path: Path,
) -> None:
    """Each worker listens on a socket of its own (SO_REUSEPORT): fresh connections reach
    both; a worker killed is replaced on its socket, so no connection waits on an orphan."""
    with server_process(tmp_path / "data", 2) as running:
        process = running.process
        assert process is not None
        _until_both_answer(running.endpoint)
        (victim, survivor) = uvicorn_workers(process.pid)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            workers = uvicorn_workers(process.pid)
            if len(workers) == 2 and victim not in workers:
                break
            assert time.monotonic() < deadline, f"no replacement for {victim}: {workers}"
            time.sleep(0.2)
        # Every connection is answered (none waits on the dead worker's socket past the
        # replacement's start), and by both workers again.
        _until_both_answer(running.endpoint)
        assert survivor in uvicorn_workers(process.pid)
