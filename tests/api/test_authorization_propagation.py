"""Authorization changes reach every worker of a 2-worker server within one second.

Each worker caches keys (with their policies), identity policies and grants, and learns about
changes made elsewhere (another worker, the admin command) from the change feed. As in
``test_multiworker.py``: warm both workers, make the change, then every request sent more than
DEADLINE s after the change was acknowledged must see it, on every worker and on new
connections.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from strongroom.kms.app import DataDir, open_data_dir
from strongroom.kms.config import Settings
from strongroom.kms.service.admin import IssuedAccessKey
from tests.support.policies import (
    USER_ACTIONS,
    allow,
    enable_iam,
    iam_policy,
    iam_statement,
    key_policy,
    user_arn,
)
from tests.support.processes import OutputDrain, strongroom, uvicorn_workers
from tests.support.propagation import OK, Request, check_deadline, outcome, warm, watch
from tests.support.raw_kms import RawKms, Reply, connect_to_each_worker
from tests.support.servers import ServerProcess, server_process

DENIED = "AccessDeniedException"


@dataclass
class Cluster:
    server: ServerProcess
    workers: list[int]
    data: DataDir
    account: str
    keyuser: IssuedAccessKey
    nobody: IssuedAccessKey

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def pin(self, key: IssuedAccessKey | None = None) -> dict[int, RawKms]:
        return connect_to_each_worker(
            self.server.endpoint, key or self.server.admin_key, self.workers
        )

    def create_key(self, policy: str | None = None) -> dict[str, str]:
        request = {} if policy is None else {"Policy": policy}
        meta = self.server.client().create_key(**request)["KeyMetadata"]
        return {"KeyId": meta["KeyId"], "Arn": meta["Arn"]}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    data_dir = tmp_path_factory.mktemp("authorization-propagation") / "data"
    with server_process(data_dir, 2) as running:
        assert running.process is not None
        output = OutputDrain(running.process)
        workers = uvicorn_workers(running.process.pid)
        assert len(workers) == 2
        data = open_data_dir(Settings(data_dir=data_dir))
        try:
            admin = data.admin
            account = admin.list_accounts()[0].account_id
            keys = {}
            for name in ("keyuser", "nobody"):
                admin.create_user(account, name)
                keys[name] = admin.create_access_key(account, name)
            yield Cluster(running, workers, data, account, keys["keyuser"], keys["nobody"])
        finally:
            data.db.engine.dispose()
    assert "Traceback" not in output.join(), output.text()


def encrypt_with(key_ref: str, **extra: object) -> Request:
    def request(conn: RawKms) -> Reply:
        payload = {"KeyId": key_ref, "Plaintext": base64.b64encode(b"x").decode(), **extra}
        return conn.call("Encrypt", payload)

    return request


def wait_until_ok(pinned: dict[int, RawKms], request: Request, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    for conn in pinned.values():
        while outcome(request(conn)) != OK:
            assert time.monotonic() < deadline, "a worker never allowed the request"
            time.sleep(0.02)


def test_a_key_policy_change_reaches_every_worker_within_a_second(cluster: Cluster) -> None:
    keyuser = user_arn(cluster.account, "keyuser")
    meta = cluster.create_key(key_policy(enable_iam(cluster.account), allow(keyuser, USER_ACTIONS)))
    request = encrypt_with(meta["Arn"])
    pinned, control = cluster.pin(cluster.keyuser), cluster.pin()
    warm(pinned, cluster.server.endpoint, cluster.keyuser, request, OK)

    def change() -> None:
        reply = control[cluster.workers[0]].call(
            "PutKeyPolicy",
            {"KeyId": meta["KeyId"], "Policy": key_policy(enable_iam(cluster.account))},
        )
        assert reply.status == 200, reply

    attempts = watch(pinned, cluster.server.endpoint, cluster.keyuser, request, change)
    check_deadline(attempts, cluster.workers, OK, DENIED)


def test_an_inline_policy_deleted_with_the_admin_command_reaches_every_worker_within_a_second(
    cluster: Cluster,
) -> None:
    meta = cluster.create_key()  # the default policy: IAM decides
    cluster.data.admin.put_user_policy(
        cluster.account,
        "keyuser",
        "UseOneKey",
        iam_policy(iam_statement("Allow", "kms:Encrypt", meta["Arn"])),
    )
    request = encrypt_with(meta["KeyId"])
    pinned = cluster.pin(cluster.keyuser)
    endpoint = cluster.server.endpoint
    wait_until_ok(pinned, request)  # the policy was put after the workers started
    warm(pinned, endpoint, cluster.keyuser, request, OK)

    def change() -> None:
        done = strongroom(
            "admin", "--data-dir", str(cluster.data_dir), "users", "delete-policy",
            "--account", cluster.account, "--user", "keyuser", "--name", "UseOneKey",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    attempts = watch(pinned, endpoint, cluster.keyuser, request, change)
    check_deadline(attempts, cluster.workers, OK, DENIED)
    assert cluster.data.admin.list_user_policies(cluster.account, "keyuser") == []


def test_a_revoked_grant_reaches_every_worker_within_a_second(cluster: Cluster) -> None:
    meta = cluster.create_key()
    grant = cluster.server.client().create_grant(
        KeyId=meta["KeyId"],
        GranteePrincipal=user_arn(cluster.account, "nobody"),
        Operations=["Encrypt"],
    )
    request = encrypt_with(meta["Arn"])
    pinned, control = cluster.pin(cluster.nobody), cluster.pin()
    endpoint = cluster.server.endpoint
    wait_until_ok(pinned, request)  # the grant was made through one worker
    warm(pinned, endpoint, cluster.nobody, request, OK)

    def change() -> None:
        reply = control[cluster.workers[1]].call(
            "RevokeGrant", {"KeyId": meta["KeyId"], "GrantId": grant["GrantId"]}
        )
        assert reply.status == 200, reply

    attempts = watch(pinned, endpoint, cluster.nobody, request, change)
    check_deadline(attempts, cluster.workers, OK, DENIED)


def test_a_new_grant_works_at_once_with_its_token_and_everywhere_within_a_second(
    cluster: Cluster,
) -> None:
    meta = cluster.create_key()
    request = encrypt_with(meta["Arn"])
    pinned, control = cluster.pin(cluster.nobody), cluster.pin()
    endpoint = cluster.server.endpoint
    # Both workers have looked up (and cached) the key's grants: none.
    warm(pinned, endpoint, cluster.nobody, request, DENIED)
    token = ""

    def change() -> None:
        nonlocal token
        reply = control[cluster.workers[0]].call(
            "CreateGrant",
            {
                "KeyId": meta["KeyId"],
                "GranteePrincipal": user_arn(cluster.account, "nobody"),
                "Operations": ["Encrypt"],
            },
        )
        assert reply.status == 200, reply
        token = reply.body["GrantToken"]
        # With its token, the grant works at once in the other worker.
        other = pinned[cluster.workers[1]]
        assert outcome(encrypt_with(meta["Arn"], GrantTokens=[token])(other)) == OK

    attempts = watch(pinned, endpoint, cluster.nobody, request, change)
    check_deadline(attempts, cluster.workers, DENIED, OK)
    for conn in pinned.values():
        assert outcome(encrypt_with(meta["Arn"], GrantTokens=[token])(conn)) == OK
