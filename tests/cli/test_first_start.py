"""A first start killed at any point is finished by the next start, with working credentials.

Two ways in: every crash point between the steps, rebuilt with the real steps (deterministic),
and real SIGKILLs of ``strongroom serve`` at spread delays after it starts writing the data
directory (what the break test did: 6 of 20 such kills used to lose the admin's secret).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from strongroom.kms.app import DataDir, initialize, open_data_dir
from strongroom.kms.config import Settings
from strongroom.kms.first_start import ADMIN_USER, DEFAULT_ACCOUNT_NAME, STATE, write_private
from strongroom.kms.rootkey.key_file import create_root_key_file
from strongroom.kms.service.admin import ADMINISTRATOR_POLICY, ADMINISTRATOR_POLICY_NAME
from strongroom.kms.service.credentials import CredentialCache
from strongroom.kms.storage.identity import IdentityRepository
from tests.support.servers import free_port, read_credentials, server_process


def _settings(directory: Path) -> Settings:
    return Settings(data_dir=directory).validated()


def _check_finished(directory: Path) -> str:
    """The next start finishes the first start: the credentials file holds a key that the
    server's own credential lookup accepts, and it is the admin's only key. Returns its id."""
    data, _ = initialize(_settings(directory))
    try:
        issued = read_credentials(directory)
        credential = CredentialCache(IdentityRepository(data.db), data.store).lookup(
            issued.access_key_id
        )
        assert credential is not None
        assert credential.secret.reveal() == issued.secret_access_key.encode()
        assert credential.principal.name == ADMIN_USER
        [account] = data.admin.list_accounts()
        assert account.name == DEFAULT_ACCOUNT_NAME
        assert [k.access_key_id for k in data.admin.list_access_keys()] == [issued.access_key_id]
        assert data.admin.list_user_policies(account.account_id, ADMIN_USER) == [
            ADMINISTRATOR_POLICY_NAME
        ]
        with data.db.read() as tx:
            assert tx.meta.get(STATE) == "done"
        assert (directory / "aws" / "credentials").stat().st_mode & 0o777 == 0o600
        assert not list((directory / "aws").glob(".*.tmp"))
        return issued.access_key_id
    finally:
        data.db.engine.dispose()


def _opened(directory: Path) -> DataDir:
    directory.mkdir(mode=0o700)
    create_root_key_file(directory / "root.key")
    return open_data_dir(_settings(directory), create_root_key=True)


def _account(data: DataDir) -> str:
    data.db.init_meta(STATE, "pending")
    return data.admin.create_account(DEFAULT_ACCOUNT_NAME).account_id


def _user(data: DataDir) -> str:
    account = _account(data)
    data.admin.create_user(account, ADMIN_USER)
    return account


def _policy(data: DataDir) -> str:
    account = _user(data)
    data.admin.put_user_policy(account, ADMIN_USER, ADMINISTRATOR_POLICY_NAME, ADMINISTRATOR_POLICY)
    return account


def _access_key(data: DataDir) -> None:
    data.admin.create_access_key(_policy(data), ADMIN_USER)


def _half_written_credentials(data: DataDir) -> None:
    _access_key(data)
    (data.settings.data_dir / "aws").mkdir(mode=0o700)
    write_private(data.settings.data_dir / "aws" / "credentials", "[default]\n")
    (data.settings.data_dir / "aws" / ".credentials.tmp").write_text("[def")


CRASH_POINTS: dict[str, Callable[[DataDir], object]] = {
    "database created": lambda data: None,
    "marked pending": lambda data: data.db.init_meta(STATE, "pending"),
    "account made": _account,
    "user made": _user,
    "policy put": _policy,
    "access key made": _access_key,
    "credentials half written": _half_written_credentials,
}


@pytest.mark.parametrize("point", sorted(CRASH_POINTS))
def test_a_first_start_stopped_between_steps_is_finished_by_the_next(
    tmp_path: Path, point: str
) -> None:
    directory = tmp_path / "d"
    data = _opened(directory)
    CRASH_POINTS[point](data)
    made = [k.access_key_id for k in data.admin.list_access_keys()]
    data.db.engine.dispose()
    assert not (directory / "aws" / "credentials").exists() or point.startswith("credentials")
    key_id = _check_finished(directory)
    if made:  # the key the killed start made, not a second one
        assert made == [key_id]


def test_a_root_key_written_aside_and_never_linked_is_replaced(tmp_path: Path) -> None:
    directory = tmp_path / "d"
    directory.mkdir(mode=0o700)
    (directory / ".root.key.tmp").write_bytes(b"\x01" * 7)  # killed while writing the key
    _check_finished(directory)
    assert len((directory / "root.key").read_bytes()) == 32
    assert not (directory / ".root.key.tmp").exists()


def test_a_finished_first_start_never_writes_the_secret_again(tmp_path: Path) -> None:
    directory = tmp_path / "d"
    _check_finished(directory)
    (directory / "aws" / "credentials").unlink()  # the operator moved it somewhere safe
    data, issued = initialize(_settings(directory))
    data.db.engine.dispose()
    assert issued is None
    assert not (directory / "aws" / "credentials").exists()


def _start(directory: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ}
    env.pop("STRONGROOM_DATA_DIR", None)
    command = "serve", "--data-dir", str(directory), "--port", str(free_port()), "--workers", "1"
    return subprocess.Popen(
        [sys.executable, "-m", "strongroom.cli.main", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )


def _has_account(database: Path) -> bool:
    """Whether the first start has committed the default account (read-only, never waits)."""
    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.05)
        try:
            return bool(conn.execute("SELECT count(*) FROM accounts").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return False


# (what the kill waits for, then how long after it). The account is committed a few
# milliseconds before the credentials used to be written: before this was fixed, every kill
# timed from it lost the admin's secret.
KILLS = (
    ("directory", 0.02),
    ("account", 0.0),
    ("account", 0.004),
    ("account", 0.01),
    ("account", 0.03),
    ("account", 0.08),
)


def test_sigkill_during_the_first_start_never_loses_the_admin_secret(tmp_path: Path) -> None:
    outcomes = []
    for n, (trigger, delay) in enumerate(KILLS):
        directory = tmp_path / f"d{n}"
        process = _start(directory)
        deadline = time.monotonic() + 60
        while not (
            directory.exists()
            if trigger == "directory"
            else _has_account(directory / "strongroom.db")
        ):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.001)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        outcomes.append((directory / "aws" / "credentials").exists())
        _check_finished(directory)
    # Some kills landed after the account was made and before the credentials were written.
    assert not all(outcomes), outcomes


def test_a_killed_first_start_serves_with_the_recovered_credentials(tmp_path: Path) -> None:
    directory = tmp_path / "d"
    data = _opened(directory)
    _access_key(data)
    data.db.engine.dispose()
    with server_process(directory, workers=1) as server:
        keys = server.client().list_keys()["Keys"]
        assert keys == []
