"""The tenant's own M-of-N approval for lowering protection (docs/adr/0009).

Several IAM users of one account, each with their own access key: each approval is that
user's own SigV4-signed ``ApproveProtectionChange``. The from-hsm path runs as the real
command against a SoftHSM2 token; every test has an account of its own, so policies do not
meet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from strongroom.kms.app import DataDir, open_data_dir
from strongroom.kms.config import Settings
from strongroom.kms.keystores.pkcs11 import TokenConnection
from strongroom.kms.service.admin import (
    ADMINISTRATOR_POLICY,
    ADMINISTRATOR_POLICY_NAME,
    IssuedAccessKey,
)
from tests.support.byok import error_of, external_key, import_material, state
from tests.support.cli import run as run_cli
from tests.support.raw_kms import RawKms, Reply
from tests.support.servers import InProcessServer, in_process_server
from tests.support.softhsm import SoftHsmToken

REGION = "us-east-1"
PEOPLE = ("alice", "bob", "carol", "dave")  # dave is no approver


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with in_process_server(tmp_path_factory.mktemp("protection")) as running:
        yield running


@pytest.fixture(scope="module")
def data(server: InProcessServer) -> Iterator[DataDir]:
    opened = open_data_dir(server.settings)
    yield opened
    opened.db.engine.dispose()


@dataclass
class Tenant:
    server: InProcessServer
    account: str
    keys: dict[str, IssuedAccessKey]

    def arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account}:user/{name}"

    def client(self, name: str) -> Any:
        return self.server.client(self.keys[name])

    def call(self, name: str, operation: str, payload: dict[str, Any]) -> Reply:
        return self.call_as(self.keys[name], operation, payload)

    def call_as(self, key: IssuedAccessKey, operation: str, payload: dict[str, Any]) -> Reply:
        """One signed call on a fresh connection (the server drops idle keep-alive
        connections after a few seconds; the commands in between take that long)."""
        conn = RawKms(self.server.endpoint, key)
        try:
            return conn.call(operation, payload)
        finally:
            conn.close()

    def approve(self, name: str, change_id: str) -> Reply:
        return self.call(name, "ApproveProtectionChange", {"ChangeId": change_id})

    def policy(self) -> dict[str, Any]:
        reply = self.call("alice", "GetProtectionPolicy", {})
        assert reply.status == 200, reply.body
        return reply.body


@contextmanager
def new_tenant(server: InProcessServer, data: DataDir, name: str) -> Iterator[Tenant]:
    admin = data.admin
    account = admin.create_account(f"tenant-{name[:40]}").account_id
    keys = {}
    for person in PEOPLE:
        admin.create_user(account, person)
        admin.put_user_policy(account, person, ADMINISTRATOR_POLICY_NAME, ADMINISTRATOR_POLICY)
        keys[person] = admin.create_access_key(account, person)
    yield Tenant(server, account, keys)


@pytest.fixture
def tenant(
    server: InProcessServer, data: DataDir, request: pytest.FixtureRequest
) -> Iterator[Tenant]:
    with new_tenant(server, data, request.node.name) as made:
        yield made


@pytest.fixture
def own_tenant(tmp_path: Path) -> Iterator[Tenant]:
    """A tenant on a server of its own, for a test that moves the server's clock."""
    with in_process_server(tmp_path / "own") as running:
        opened = open_data_dir(Settings(data_dir=running.data_dir))
        try:
            with new_tenant(running, opened, "own") as made:
                yield made
        finally:
            opened.db.engine.dispose()


def two_of_three(tenant: Tenant) -> None:
    reply = tenant.call(
        "alice",
        "PutProtectionPolicy",
        {
            "RequiredApprovals": 2,
            "Approvers": [tenant.arn("alice"), tenant.arn("bob"), tenant.arn("carol")],
        },
    )
    assert (reply.status, reply.body["Status"]) == (200, "APPLIED")


def byok_cli(
    tenant: Tenant, who: str, tmp: Path, *args: str, pin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``strongroom byok ARGS`` as its own process, with ``who``'s credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STRONGROOM_"))}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-credentials"),
        AWS_CONFIG_FILE=str(tmp / "no-config"),
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ACCESS_KEY_ID=tenant.keys[who].access_key_id,
        AWS_SECRET_ACCESS_KEY=tenant.keys[who].secret_access_key,
        STRONGROOM_PKCS11_PIN=pin,
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "strongroom.cli.main",
            "byok",
            *args,
            "--endpoint-url",
            tenant.server.endpoint,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def from_hsm(
    tenant: Tenant, who: str, tmp: Path, token: SoftHsmToken, key_id: str
) -> subprocess.CompletedProcess[str]:
    return byok_cli(
        tenant,
        who,
        tmp,
        "from-hsm",
        "--key-id",
        key_id,
        "--module",
        token.module,
        "--token-label",
        token.label,
        "--key-label",
        "exported",
        pin=token.pin,
    )


def token_has_key(token: SoftHsmToken, label: str) -> bool:
    connection = TokenConnection.open(token.module, token.label, token.pin)
    try:
        return connection.find_aes_key(label) is not None
    finally:
        connection.close()


def flags(tenant: Tenant, key_arn: str) -> list[str]:
    status, out, err = run_cli(
        "report",
        "exposure",
        "--data-dir",
        str(tenant.server.data_dir),
        "--account",
        tenant.account,
        "--format",
        "json",
    )
    assert status == 0, err
    (row,) = [k for k in json.loads(out)["Keys"] if k["KeyArn"] == key_arn]
    return list(row["Flags"])


def test_lowering_protection_waits_for_m_distinct_approvers(
    tenant: Tenant, softhsm_token: SoftHsmToken, tmp_path: Path
) -> None:
    two_of_three(tenant)
    dave = tenant.client("dave")
    key_id = external_key(dave)
    key_arn = dave.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]

    # dave runs from-hsm: the server opens a pending change, nothing leaves the token
    pending = from_hsm(tenant, "dave", tmp_path, softhsm_token, key_id)
    assert pending.returncode == 3, pending.stderr
    change = json.loads(pending.stdout)
    assert change["Status"] == "PENDING_APPROVAL" and change["RequiredApprovals"] == 2
    assert change["Approvals"] == [] and change["KeyLabel"] == "exported"
    change_id = change["ChangeId"]
    assert state(dave, key_id) == "PendingImport"
    assert not token_has_key(softhsm_token, "exported")  # not even generated
    assert flags(tenant, key_arn) == []
    (listed,) = tenant.policy()["PendingChanges"]
    assert listed["ChangeId"] == change_id and listed["KeyArn"] == key_arn
    assert listed["Kind"] == "RecordKeyLineage" and listed["RequestedBy"] == tenant.arn("dave")
    assert listed["Parameters"]["token_label"] == softhsm_token.label

    # no material may be imported into the key while the change waits
    code, _, message = error_of(lambda: import_material(dave, tmp_path, key_id, os.urandom(32)))
    assert code == "KMSInvalidStateException" and change_id in message

    # refusals: a principal who is no approver, a second approval by the same approver
    reply = tenant.approve("dave", change_id)
    assert (reply.status, reply.error_code) == (400, "AccessDeniedException")
    reply = tenant.approve("alice", change_id)
    assert reply.status == 200, reply.body
    assert (reply.body["Status"], reply.body["Approvals"]) == (
        "PENDING_APPROVAL",
        [tenant.arn("alice")],
    )
    reply = tenant.approve("alice", change_id)
    assert (reply.status, reply.error_code) == (400, "AlreadyExistsException")

    # below M nothing is executed: running again shows the same pending change
    again = from_hsm(tenant, "dave", tmp_path, softhsm_token, key_id)
    assert again.returncode == 3 and json.loads(again.stdout)["ChangeId"] == change_id
    assert json.loads(again.stdout)["Approvals"] == [tenant.arn("alice")]
    assert state(dave, key_id) == "PendingImport" and flags(tenant, key_arn) == []

    # bob looks at what he approves and approves it with the command: the lineage is recorded
    shown = byok_cli(tenant, "bob", tmp_path, "pending")
    assert shown.returncode == 0, shown.stderr
    (seen,) = json.loads(shown.stdout)["PendingChanges"]
    assert seen["ChangeId"] == change_id and seen["Approvals"] == [tenant.arn("alice")]
    approved = byok_cli(tenant, "bob", tmp_path, "approve", "--change-id", change_id)
    assert approved.returncode == 0, approved.stderr
    answer = json.loads(approved.stdout)
    assert answer["Status"] == "EXECUTED"
    assert answer["Approvals"] == [tenant.arn("alice"), tenant.arn("bob")]
    (flag,) = flags(tenant, key_arn)
    assert flag.startswith(
        f"protection lowered: material exported from HSM token {softhsm_token.label}"
    )
    assert tenant.policy()["PendingChanges"] == []
    reply = tenant.approve("carol", change_id)
    assert (reply.status, reply.error_code) == (400, "KMSInvalidStateException")
    assert "executed already" in reply.body["message"]

    # now the export and import go through
    done = from_hsm(tenant, "dave", tmp_path, softhsm_token, key_id)
    assert done.returncode == 0, done.stderr
    assert token_has_key(softhsm_token, "exported")
    assert json.loads(done.stdout)["Lineage"] == "RECORDED_BEFORE"
    blob = dave.encrypt(KeyId=key_id, Plaintext=b"approved")["CiphertextBlob"]
    assert dave.decrypt(CiphertextBlob=blob)["Plaintext"] == b"approved"

    # every step is audited, with who did it and how it ended
    events = [
        (e.operation, e.principal_arn.rsplit("/", 1)[-1], e.error_code)
        for e in tenant.server.audit.events
        if e.account_id == tenant.account
        and e.operation in ("RecordKeyLineage", "ApproveProtectionChange")
    ]
    assert events == [
        ("RecordKeyLineage", "dave", None),
        ("ApproveProtectionChange", "dave", "AccessDeniedException"),
        ("ApproveProtectionChange", "alice", None),
        ("ApproveProtectionChange", "alice", "AlreadyExistsException"),
        ("RecordKeyLineage", "dave", None),
        ("ApproveProtectionChange", "bob", None),
        ("ApproveProtectionChange", "carol", "KMSInvalidStateException"),
        ("RecordKeyLineage", "dave", "AlreadyExistsException"),
    ]
    approvals = [
        e.request_parameters
        for e in tenant.server.audit.events
        if e.account_id == tenant.account and e.operation == "ApproveProtectionChange"
    ]
    assert approvals[0] == {"ChangeId": change_id}
    (recorded, *_) = [
        dict(e.request_parameters or {})
        for e in tenant.server.audit.events
        if e.account_id == tenant.account and e.operation == "RecordKeyLineage"
    ]
    assert recorded["TokenLabel"] == softhsm_token.label and recorded["KeyLabel"] == "exported"


def test_an_expired_change_cannot_be_approved(own_tenant: Tenant) -> None:
    tenant = own_tenant
    two_of_three(tenant)
    key_id = external_key(tenant.client("dave"))
    reply = tenant.call(
        "dave",
        "RecordKeyLineage",
        {"KeyId": key_id, "TokenLabel": "t", "TokenSerial": "s", "KeyLabel": "k"},
    )
    assert (reply.status, reply.body["Status"]) == (200, "PENDING_APPROVAL")
    change_id = reply.body["ChangeId"]
    assert tenant.approve("alice", change_id).status == 200
    tenant.server.clock.advance(timedelta(hours=24, seconds=1))
    reply = tenant.approve("bob", change_id)
    assert (reply.status, reply.error_code) == (400, "KMSInvalidStateException")
    assert "expired" in reply.body["message"]
    assert tenant.policy()["PendingChanges"] == []
    # a new request opens a new change
    reply = tenant.call(
        "dave",
        "RecordKeyLineage",
        {"KeyId": key_id, "TokenLabel": "t", "TokenSerial": "s", "KeyLabel": "k"},
    )
    assert reply.body["Status"] == "PENDING_APPROVAL" and reply.body["ChangeId"] != change_id
    # another account cannot see or approve it
    reply = tenant.call_as(
        tenant.server.admin_key, "ApproveProtectionChange", {"ChangeId": change_id}
    )
    assert (reply.status, reply.error_code) == (400, "NotFoundException")


def test_changing_the_policy_needs_the_policy_in_force(tenant: Tenant) -> None:
    assert "ProtectionPolicy" not in tenant.policy()
    for payload, wording in (
        ({"RequiredApprovals": 3, "Approvers": [tenant.arn("alice")]}, "between 1 and"),
        ({"RequiredApprovals": 1, "Approvers": [tenant.arn("nobody")]}, "does not exist"),
        ({"RequiredApprovals": 1, "Approvers": ["arn:aws:iam::111122223333:user/alice"]}, "not"),
        ({"RequiredApprovals": 1, "Approvers": [tenant.arn("bob"), tenant.arn("bob")]}, "once"),
    ):
        reply = tenant.call("alice", "PutProtectionPolicy", payload)
        assert (reply.status, reply.error_code) == (400, "ValidationException"), payload
        assert wording in reply.body["message"]
    two_of_three(tenant)
    policy = tenant.policy()["ProtectionPolicy"]
    assert policy["RequiredApprovals"] == 2 and len(policy["Approvers"]) == 3

    # alice alone cannot switch the requirement off
    reply = tenant.call(
        "alice", "PutProtectionPolicy", {"RequiredApprovals": 1, "Approvers": [tenant.arn("alice")]}
    )
    assert (reply.status, reply.body["Status"]) == (200, "PENDING_APPROVAL")
    change_id = reply.body["ChangeId"]
    assert tenant.policy()["ProtectionPolicy"]["RequiredApprovals"] == 2
    (listed,) = tenant.policy()["PendingChanges"]
    assert listed["Kind"] == "PutProtectionPolicy" and "KeyArn" not in listed
    assert tenant.approve("bob", change_id).body["Status"] == "PENDING_APPROVAL"
    assert tenant.approve("carol", change_id).body["Status"] == "EXECUTED"
    policy = tenant.policy()["ProtectionPolicy"]
    assert (policy["RequiredApprovals"], policy["Approvers"]) == (1, [tenant.arn("alice")])

    # a principal whose identity policy does not allow the action is refused before all else
    data = open_data_dir(tenant.server.settings)
    try:
        data.admin.delete_user_policy(tenant.account, "bob", ADMINISTRATOR_POLICY_NAME)
    finally:
        data.db.engine.dispose()
    reply = tenant.call(
        "alice", "PutProtectionPolicy", {"RequiredApprovals": 1, "Approvers": [tenant.arn("bob")]}
    )
    change_id = reply.body["ChangeId"]
    deadline = time.monotonic() + 5  # the change feed reaches the policy cache within a poll
    while tenant.call("bob", "GetProtectionPolicy", {}).status == 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    reply = tenant.approve("bob", change_id)
    assert (reply.status, reply.error_code) == (400, "AccessDeniedException")
    assert "kms:ApproveProtectionChange" in reply.body["message"]
