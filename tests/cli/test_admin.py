"""``strongroom admin``: accounts, users and access keys, offline and against a running server."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import time
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from strongroom.cli.main import main
from strongroom.kms.app import initialize
from strongroom.kms.config import Settings
from strongroom.kms.service.admin import IssuedAccessKey
from tests.support.processes import strongroom, uvicorn_workers
from tests.support.raw_kms import connect_to_each_worker, kept_alive
from tests.support.servers import RunningServer, server_process

ACCOUNT_ID = "123456789012"


def run_admin(data_dir: Path, *args: str, separate: bool) -> tuple[int, str, str]:
    """``strongroom admin --data-dir D ARGS``: (exit status, stdout, stderr).

    ``separate`` runs the real command in its own process (as an operator does, and as is
    needed next to a running server); otherwise ``main`` runs here, which is much faster.
    """
    argv = ["admin", "--data-dir", str(data_dir), *args]
    if separate:
        result = strongroom(*argv)
        return result.returncode, result.stdout, result.stderr
    out, err = io.StringIO(), io.StringIO()
    umask = os.umask(0o022)  # main() sets the process umask; keep the test process's
    os.umask(umask)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                status = main(argv)
            except SystemExit as exit_:  # argparse
                status = int(exit_.code or 0)
    finally:
        os.umask(umask)
    return status, out.getvalue(), err.getvalue()


def admin(data_dir: Path, *args: str, separate: bool = False) -> Any:
    """Run an admin command that must succeed; return its JSON output (None if it printed none)."""
    status, stdout, stderr = run_admin(data_dir, *args, separate=separate)
    assert status == 0, stderr
    assert stderr == ""
    return json.loads(stdout) if stdout.strip() else None


def admin_fails(data_dir: Path, *args: str, separate: bool = False) -> str:
    """Run an admin command that must be refused; return its message."""
    status, stdout, stderr = run_admin(data_dir, *args, separate=separate)
    assert status == 2, (status, stdout, stderr)
    assert stdout == ""
    assert "Traceback" not in stderr
    assert stderr.startswith("strongroom: "), stderr
    assert stderr.count("\n") == 1, stderr  # one line
    return stderr.strip()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An initialized data directory (root key, database, default account), no server.

    (Overrides the conftest fixture of the same name, which does not create anything.)
    """
    directory = tmp_path / "data"
    data, issued = initialize(Settings(data_dir=directory).validated())
    data.db.engine.dispose()
    assert issued is not None
    return directory


def recent(stamp: str) -> bool:
    created = datetime.fromisoformat(stamp)
    return created.tzinfo is not None and abs(datetime.now(UTC) - created) < timedelta(minutes=2)


def test_accounts_create_and_list(data_dir: Path) -> None:
    acme = admin(data_dir, "accounts", "create", "--name", "acme", "--id", ACCOUNT_ID)
    assert set(acme) == {"AccountId", "Name", "CreateDate"}
    assert (acme["AccountId"], acme["Name"]) == (ACCOUNT_ID, "acme")
    assert recent(acme["CreateDate"])

    other = admin(data_dir, "accounts", "create", "--name", "other")
    assert re.fullmatch(r"[1-9][0-9]{11}", other["AccountId"]), other
    assert other["AccountId"] != ACCOUNT_ID

    listed = admin(data_dir, "accounts", "list")
    assert [(a["Name"], a["AccountId"]) for a in listed] == [
        ("default", listed[0]["AccountId"]),
        ("acme", ACCOUNT_ID),
        ("other", other["AccountId"]),
    ]
    assert listed[1] == acme


def test_account_duplicates_and_bad_ids_are_refused(data_dir: Path) -> None:
    admin(data_dir, "accounts", "create", "--name", "acme", "--id", ACCOUNT_ID)
    message = admin_fails(
        data_dir, "accounts", "create", "--name", "again", "--id", ACCOUNT_ID, separate=True
    )
    assert message == f"strongroom: account {ACCOUNT_ID} exists already"
    message = admin_fails(
        data_dir, "accounts", "create", "--name", "short", "--id", "12345678901", separate=True
    )
    assert message == "strongroom: account id '12345678901' is not 12 digits"
    message = admin_fails(data_dir, "accounts", "create", "--name", "x", "--id", "12345678901a")
    assert "is not 12 digits" in message
    assert [a["Name"] for a in admin(data_dir, "accounts", "list")] == ["default", "acme"]


def test_users_create_and_list(data_dir: Path) -> None:
    admin(data_dir, "accounts", "create", "--name", "acme", "--id", ACCOUNT_ID)
    bob = admin(data_dir, "users", "create", "--account", ACCOUNT_ID, "bob")
    assert set(bob) == {"UserName", "Arn", "CreateDate"}
    assert (bob["UserName"], bob["Arn"]) == ("bob", f"arn:aws:iam::{ACCOUNT_ID}:user/bob")
    assert recent(bob["CreateDate"])
    admin(data_dir, "users", "create", "--account", ACCOUNT_ID, "alice")

    listed = admin(data_dir, "users", "list", "--account", ACCOUNT_ID)
    assert [u["UserName"] for u in listed] == ["alice", "bob"]
    assert listed[1] == bob

    message = admin_fails(data_dir, "users", "create", "--account", ACCOUNT_ID, "bob")
    assert message == f"strongroom: user arn:aws:iam::{ACCOUNT_ID}:user/bob exists already"
    message = admin_fails(data_dir, "users", "create", "--account", "999999999999", "carol")
    assert message == "strongroom: account 999999999999 does not exist"
    message = admin_fails(data_dir, "users", "list", "--account", "999999999999")
    assert message == "strongroom: account 999999999999 does not exist"
    message = admin_fails(data_dir, "users", "create", "--account", ACCOUNT_ID, "no spaces")
    assert "is not a valid IAM user name" in message


def test_access_keys_create_list_delete(data_dir: Path) -> None:
    admin(data_dir, "accounts", "create", "--name", "acme", "--id", ACCOUNT_ID)
    admin(data_dir, "users", "create", "--account", ACCOUNT_ID, "bob")
    chosen_secret = "ChosenSecret" + secrets.token_hex(12)
    chosen = admin(
        data_dir,
        "access-keys",
        "create",
        "--account",
        ACCOUNT_ID,
        "--user",
        "bob",
        "--access-key-id",
        "AKIACHOSEN0000000001",
        "--secret-access-key",
        chosen_secret,
    )
    assert chosen == {
        "AccessKeyId": "AKIACHOSEN0000000001",
        "SecretAccessKey": chosen_secret,
        "AccountId": ACCOUNT_ID,
        "UserName": "bob",
    }
    made = admin(data_dir, "access-keys", "create", "--account", ACCOUNT_ID, "--user", "bob")
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", made["AccessKeyId"]), made
    assert len(made["SecretAccessKey"]) == 40
    assert (made["AccountId"], made["UserName"]) == (ACCOUNT_ID, "bob")

    status, listed, _ = run_admin(
        data_dir, "access-keys", "list", "--account", ACCOUNT_ID, separate=False
    )
    assert status == 0
    assert chosen_secret not in listed and made["SecretAccessKey"] not in listed
    rows = json.loads(listed)
    assert [r["AccessKeyId"] for r in rows] == ["AKIACHOSEN0000000001", made["AccessKeyId"]]
    assert all(
        set(r) == {"AccessKeyId", "AccountId", "UserName", "Status", "CreateDate"} for r in rows
    )
    assert all(
        (r["AccountId"], r["UserName"], r["Status"]) == (ACCOUNT_ID, "bob", "Active") for r in rows
    )
    everyone = admin(data_dir, "access-keys", "list")
    assert [(r["UserName"], r["AccountId"] == ACCOUNT_ID) for r in everyone] == [
        ("admin", False),
        ("bob", True),
        ("bob", True),
    ]

    message = admin_fails(
        data_dir,
        "access-keys",
        "create",
        "--account",
        ACCOUNT_ID,
        "--user",
        "bob",
        "--access-key-id",
        "AKIACHOSEN0000000001",
    )
    assert message == "strongroom: access key AKIACHOSEN0000000001 exists already"
    message = admin_fails(
        data_dir, "access-keys", "create", "--account", ACCOUNT_ID, "--user", "nobody"
    )
    assert message == f"strongroom: user nobody does not exist in account {ACCOUNT_ID}"
    message = admin_fails(
        data_dir,
        "access-keys",
        "create",
        "--account",
        ACCOUNT_ID,
        "--user",
        "bob",
        "--access-key-id",
        "akia-lower-case-id",
    )
    assert "16-128 upper-case letters and digits" in message

    assert admin(data_dir, "access-keys", "delete", "AKIACHOSEN0000000001") is None
    remaining = admin(data_dir, "access-keys", "list", "--account", ACCOUNT_ID)
    assert [r["AccessKeyId"] for r in remaining] == [made["AccessKeyId"]]
    message = admin_fails(data_dir, "access-keys", "delete", "AKIACHOSEN0000000001")
    assert message == "strongroom: access key AKIACHOSEN0000000001 does not exist"

    # The secrets are sealed under the root key: not in the database in plaintext.
    stored = b"".join(p.read_bytes() for p in sorted(data_dir.glob("strongroom.db*")))
    assert made["AccessKeyId"].encode() in stored  # the database is where we are looking
    assert made["SecretAccessKey"].encode() not in stored
    assert chosen_secret.encode() not in stored


def test_well_known_development_keys_only_when_asked(data_dir: Path) -> None:
    admin(data_dir, "accounts", "create", "--name", "dev", "--id", ACCOUNT_ID)
    admin(data_dir, "users", "create", "--account", ACCOUNT_ID, "dev")
    owner = ("access-keys", "create", "--account", ACCOUNT_ID, "--user", "dev")
    short = (*owner, "--access-key-id", "test", "--secret-access-key", "test")
    message = admin_fails(data_dir, *short)
    assert "16-128 upper-case letters and digits" in message and "--well-known" in message
    made = admin(data_dir, *short, "--well-known")
    assert (made["AccessKeyId"], made["SecretAccessKey"]) == ("test", "test")
    assert "test" in [r["AccessKeyId"] for r in admin(data_dir, "access-keys", "list")]
    message = admin_fails(data_dir, *owner, "--access-key-id", "no-dashes", "--well-known")
    assert "1-128 letters and digits" in message


def test_admin_on_a_data_directory_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    message = admin_fails(missing, "accounts", "list", separate=True)
    assert str(missing) in message


# --- against a running server ---------------------------------------------------------------


def error_code(call: Callable[[], object]) -> str | None:
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return None


def fresh_list_keys(server: RunningServer, key: IssuedAccessKey) -> str | None:
    """ListKeys on a new client, so a new connection (the kernel picks the worker)."""
    return error_code(lambda: server.client(key).list_keys())


def test_admin_changes_reach_a_running_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    tenant_id = "210987654321"
    tenant_key = IssuedAccessKey(
        "AKIATENANT0000000001", "TenantSecret" + secrets.token_hex(12), tenant_id, "app"
    )
    with server_process(data_dir, 2) as running:
        assert running.process is not None
        workers = uvicorn_workers(running.process.pid)
        assert len(workers) == 2
        admin_kms = running.client()
        admin_key_id = admin_kms.create_key()["KeyMetadata"]["KeyId"]

        # Both workers look the unknown access key up (and may remember that it is unknown).
        pinned = connect_to_each_worker(running.endpoint, running.admin_key, workers)
        for conn in pinned.values():
            reply = conn.call("ListKeys", {}, tenant_key)
            assert reply.error_code == "UnrecognizedClientException", reply
        assert fresh_list_keys(running, tenant_key) == "UnrecognizedClientException"

        account = admin(
            data_dir, "accounts", "create", "--name", "tenant", "--id", tenant_id, separate=True
        )
        assert account["AccountId"] == tenant_id
        admin(data_dir, "users", "create", "--account", tenant_id, "app", separate=True)
        # A new user may do nothing until a policy allows it, as in IAM.
        admin(
            data_dir,
            "users",
            "put-policy",
            "--account",
            tenant_id,
            "--user",
            "app",
            "--name",
            "KmsAll",
            "--document",
            '{"Version": "2012-10-17", "Statement": '
            '[{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}',
            separate=True,
        )
        issued = admin(
            data_dir,
            "access-keys",
            "create",
            "--account",
            tenant_id,
            "--user",
            "app",
            "--access-key-id",
            tenant_key.access_key_id,
            "--secret-access-key",
            tenant_key.secret_access_key,
            separate=True,
        )
        created_at = time.monotonic()
        assert issued["AccessKeyId"] == tenant_key.access_key_id

        # Accepted by every worker within a poll interval or so (allow up to 2 s). The workers
        # are what remembers; new connections to them (idle ones may have been closed).
        pinned = connect_to_each_worker(running.endpoint, running.admin_key, workers)
        accepted: dict[int, float] = {}
        while len(accepted) < len(pinned) and time.monotonic() - created_at < 2.0:
            for pid, conn in pinned.items():
                if pid not in accepted and conn.call("ListKeys", {}, tenant_key).status == 200:
                    accepted[pid] = time.monotonic() - created_at
            time.sleep(0.02)
        assert set(accepted) == set(workers), f"accepted by {accepted} of {workers} after 2 s"
        assert all(fresh_list_keys(running, tenant_key) is None for _ in range(6))

        # The tenant's keys and the default account's keys do not see each other.
        tenant_kms = running.client(tenant_key)
        meta = tenant_kms.create_key(Description="tenant key")["KeyMetadata"]
        assert meta["AWSAccountId"] == tenant_id
        assert meta["Arn"].startswith(f"arn:aws:kms:us-east-1:{tenant_id}:key/")
        tenant_key_id = meta["KeyId"]
        assert error_code(lambda: admin_kms.describe_key(KeyId=tenant_key_id)) == (
            "NotFoundException"
        )
        assert error_code(lambda: admin_kms.encrypt(KeyId=tenant_key_id, Plaintext=b"x")) == (
            "NotFoundException"
        )
        assert [k["KeyId"] for k in admin_kms.list_keys()["Keys"]] == [admin_key_id]
        assert [k["KeyId"] for k in tenant_kms.list_keys()["Keys"]] == [tenant_key_id]
        assert error_code(lambda: tenant_kms.describe_key(KeyId=admin_key_id)) == (
            "NotFoundException"
        )

        # Every worker has the key in use when it is deleted ...
        pinned = connect_to_each_worker(running.endpoint, running.admin_key, workers)
        for conn in pinned.values():
            assert conn.call("ListKeys", {}, tenant_key).status == 200
        with kept_alive(pinned.values()):
            deleted = admin(
                data_dir, "access-keys", "delete", tenant_key.access_key_id, separate=True
            )
        assert deleted is None
        deleted_at = time.monotonic()

        # ... and every worker refuses it within 2 s.
        refused: dict[int, float] = {}
        while len(refused) < len(pinned) and time.monotonic() - deleted_at < 2.0:
            for pid, conn in pinned.items():
                if pid not in refused:
                    reply = conn.call("ListKeys", {}, tenant_key)
                    if reply.error_code == "UnrecognizedClientException":
                        refused[pid] = time.monotonic() - deleted_at
                    else:
                        assert reply.status == 200, reply
            time.sleep(0.02)
        assert set(refused) == set(workers), f"refused by {refused} of {workers} after 2 s"
        for pid, conn in pinned.items():  # and keeps refusing it
            assert conn.call("ListKeys", {}, tenant_key).error_code == (
                "UnrecognizedClientException"
            ), pid
        assert [fresh_list_keys(running, tenant_key) for _ in range(6)] == [
            "UnrecognizedClientException"
        ] * 6
        # The default admin is not affected.
        assert fresh_list_keys(running, running.admin_key) is None

        # No secret in the database, also while the server holds it open (WAL files).
        stored = b"".join(p.read_bytes() for p in sorted(data_dir.glob("strongroom.db*")))
        assert tenant_key.access_key_id.encode() in stored
        assert tenant_key.secret_access_key.encode() not in stored
        assert running.admin_key.secret_access_key.encode() not in stored
        # Nor anywhere else in the data directory (audit log included).
        for path in data_dir.rglob("*"):
            if path.is_file():
                assert tenant_key.secret_access_key.encode() not in path.read_bytes(), path
