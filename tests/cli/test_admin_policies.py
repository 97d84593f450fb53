"""``strongroom admin``: roles, inline identity policies of users and roles, role access keys."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from strongroom.kms.app import initialize, open_data_dir
from strongroom.kms.config import Settings
from strongroom.kms.service.admin import (
    INLINE_POLICY_QUOTAS,
    IssuedAccessKey,
    validate_identity_policy,
)
from strongroom.kms.service.admin_error import AdminError
from strongroom.kms.storage.database import Change
from tests.cli.test_admin import admin, admin_fails, recent, run_admin
from tests.support.servers import in_process_server

ACCOUNT_ID = "123456789012"
ALLOW_KMS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
}
DENY_DELETE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}],
}
ADMINISTRATOR_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An initialized data directory with an account ACCOUNT_ID holding user bob, role app."""
    directory = tmp_path / "data"
    data, issued = initialize(Settings(data_dir=directory).validated())
    data.db.engine.dispose()
    assert issued is not None
    admin(directory, "accounts", "create", "--name", "acme", "--id", ACCOUNT_ID)
    admin(directory, "users", "create", "--account", ACCOUNT_ID, "bob")
    admin(directory, "roles", "create", "--account", ACCOUNT_ID, "app")
    return directory


class Policies:
    """``strongroom admin users|roles *-policy`` for one user or role."""

    def __init__(self, data_dir: Path, kind: str, name: str, account: str = ACCOUNT_ID) -> None:
        self.data_dir = data_dir
        self.kind = kind
        self.scope = ("--account", account, f"--{kind}", name)
        self.arn = f"arn:aws:iam::{account}:{kind}/{name}"

    def args(self, verb: str, *rest: str) -> tuple[str, ...]:
        return (f"{self.kind}s", verb, *self.scope, *rest)

    def put(self, name: str, document: str | dict[str, Any]) -> None:
        text = document if isinstance(document, str) else json.dumps(document)
        assert (
            admin(self.data_dir, *self.args("put-policy", "--name", name, "--document", text))
            is None
        )

    def put_fails(self, name: str, document: str | dict[str, Any]) -> str:
        text = document if isinstance(document, str) else json.dumps(document)
        return admin_fails(
            self.data_dir, *self.args("put-policy", "--name", name, "--document", text)
        )

    def get(self, name: str) -> Any:
        return admin(self.data_dir, *self.args("get-policy", "--name", name))

    def names(self) -> Any:
        return admin(self.data_dir, *self.args("list-policies"))

    def delete(self, name: str) -> None:
        assert admin(self.data_dir, *self.args("delete-policy", "--name", name)) is None

    def fails(self, verb: str, *rest: str) -> str:
        return admin_fails(self.data_dir, *self.args(verb, *rest))


def changes(data_dir: Path, since: int = 0) -> list[Change]:
    data = open_data_dir(Settings(data_dir=data_dir))
    try:
        return data.db.changes_since(since)
    finally:
        data.db.engine.dispose()


def last_seq(data_dir: Path) -> int:
    data = open_data_dir(Settings(data_dir=data_dir))
    try:
        return data.db.last_change_seq()
    finally:
        data.db.engine.dispose()


def test_the_first_admin_has_administrator_access(data_dir: Path) -> None:
    default = admin(data_dir, "accounts", "list")[0]["AccountId"]
    first_admin = Policies(data_dir, "user", "admin", default)
    assert first_admin.names() == ["AdministratorAccess"]
    assert first_admin.get("AdministratorAccess") == ADMINISTRATOR_ACCESS

    # Only on the first start: a removed policy is not put back by a later start.
    first_admin.delete("AdministratorAccess")
    data, issued = initialize(Settings(data_dir=data_dir).validated())
    data.db.engine.dispose()
    assert issued is None
    assert first_admin.names() == []


@pytest.mark.parametrize(("kind", "name"), [("user", "bob"), ("role", "app")])
def test_put_get_list_delete(data_dir: Path, tmp_path: Path, kind: str, name: str) -> None:
    policies = Policies(data_dir, kind, name)
    assert policies.names() == []
    policies.put("UseKms", ALLOW_KMS)
    policy_file = tmp_path / "deny.json"
    policy_file.write_text(json.dumps(DENY_DELETE, indent=4))
    policies.put("NoDeletes", f"file://{policy_file}")
    assert policies.names() == ["NoDeletes", "UseKms"]
    assert policies.get("UseKms") == ALLOW_KMS
    assert policies.get("NoDeletes") == DENY_DELETE

    # Putting a policy of the same name replaces it.
    policies.put("UseKms", DENY_DELETE)
    assert policies.get("UseKms") == DENY_DELETE
    assert policies.names() == ["NoDeletes", "UseKms"]

    policies.delete("UseKms")
    assert policies.names() == ["NoDeletes"]
    missing = f"strongroom: {kind} {policies.arn} has no inline policy named UseKms"
    assert policies.fails("get-policy", "--name", "UseKms") == missing
    assert policies.fails("delete-policy", "--name", "UseKms") == missing


def test_users_and_roles_are_separate(data_dir: Path) -> None:
    # A user and a role may share a name; their policies do not mix.
    admin(data_dir, "users", "create", "--account", ACCOUNT_ID, "app")
    Policies(data_dir, "user", "app").put("P", ALLOW_KMS)
    assert Policies(data_dir, "user", "app").names() == ["P"]
    assert Policies(data_dir, "role", "app").names() == []

    users = admin(data_dir, "users", "list", "--account", ACCOUNT_ID)
    assert [(u["UserName"], u["Arn"]) for u in users] == [
        ("app", f"arn:aws:iam::{ACCOUNT_ID}:user/app"),
        ("bob", f"arn:aws:iam::{ACCOUNT_ID}:user/bob"),
    ]
    roles = admin(data_dir, "roles", "list", "--account", ACCOUNT_ID)
    assert len(roles) == 1
    assert set(roles[0]) == {"RoleName", "Arn", "CreateDate"}
    assert (roles[0]["RoleName"], roles[0]["Arn"]) == ("app", f"arn:aws:iam::{ACCOUNT_ID}:role/app")
    assert recent(roles[0]["CreateDate"])


def test_roles_are_validated(data_dir: Path) -> None:
    def create_fails(*args: str) -> str:
        return admin_fails(data_dir, "roles", "create", *args)

    assert create_fails("--account", ACCOUNT_ID, "app") == (
        f"strongroom: role arn:aws:iam::{ACCOUNT_ID}:role/app exists already"
    )
    assert create_fails("--account", "999999999999", "x") == (
        "strongroom: account 999999999999 does not exist"
    )
    assert admin_fails(data_dir, "roles", "list", "--account", "999999999999") == (
        "strongroom: account 999999999999 does not exist"
    )
    for bad in ("a/b", "x" * 65, "caf\u00e9"):
        assert create_fails("--account", ACCOUNT_ID, bad) == (
            f"strongroom: role name {bad!r} is not a valid IAM role name"
        )
    listed = admin(data_dir, "roles", "list", "--account", ACCOUNT_ID)
    assert [r["RoleName"] for r in listed] == ["app"]


def test_policy_validation_errors_exit_2(data_dir: Path, tmp_path: Path) -> None:
    bob = Policies(data_dir, "user", "bob")
    assert bob.put_fails("P", "{not json").startswith(
        "strongroom: the policy document is not valid JSON: "
    )
    assert bob.put_fails("P", "[]") == "strongroom: the policy document must be a JSON object"
    assert bob.put_fails("P", {"Version": "2012-10-17"}) == (
        "strongroom: the policy document has no Statement"
    )
    assert "may contain only tab, line feed" in bob.put_fails(
        "P", '{"Statement": [], "Sid": "\u20ac"}'
    )
    assert bob.put_fails("no spaces", ALLOW_KMS) == (
        "strongroom: policy name 'no spaces' is not valid: 1-128 letters, digits and +=,.@_-"
    )
    assert "is not valid" in bob.put_fails("x" * 129, ALLOW_KMS)
    assert Policies(data_dir, "user", "nobody").put_fails("P", ALLOW_KMS) == (
        f"strongroom: user nobody does not exist in account {ACCOUNT_ID}"
    )
    assert Policies(data_dir, "role", "nobody").put_fails("P", ALLOW_KMS) == (
        f"strongroom: role nobody does not exist in account {ACCOUNT_ID}"
    )
    assert Policies(data_dir, "role", "nobody").fails("list-policies") == (
        f"strongroom: role nobody does not exist in account {ACCOUNT_ID}"
    )
    missing = tmp_path / "absent.json"
    assert bob.put_fails("P", f"file://{missing}") == (
        f"strongroom: cannot read the policy document {missing}: No such file or directory"
    )
    # Nothing of that was stored, and nothing was announced to the workers.
    before = last_seq(data_dir)
    bob.put_fails("P", "[]")
    bob.put_fails("bad name", ALLOW_KMS)
    assert last_seq(data_dir) == before
    assert bob.names() == []

    # access-keys create takes exactly one of --user and --role (argparse: also status 2).
    create = ("access-keys", "create", "--account", ACCOUNT_ID)
    status, _, stderr = run_admin(
        data_dir, *create, "--user", "bob", "--role", "app", separate=False
    )
    assert status == 2 and "not allowed with argument" in stderr
    status, _, stderr = run_admin(data_dir, *create, separate=False)
    assert status == 2 and "one of the arguments --user --role is required" in stderr


def sized(characters: int) -> str:
    """A valid policy of exactly ``characters`` non-white-space characters (plus some spaces)."""
    padding = characters - len(json.dumps({"Statement": [], "Sid": ""}, separators=(",", ":")))
    document = json.dumps({"Statement": [], "Sid": "x" * padding}, indent=2)
    assert sum(1 for c in document if not c.isspace()) == characters
    assert len(document) > characters
    return document


def test_size_quotas(data_dir: Path) -> None:
    """IAM's quotas: a user's inline policies hold 2,048 characters together, a role's 10,240;
    white space does not count."""
    assert INLINE_POLICY_QUOTAS == {"user": 2048, "role": 10240}
    bob, app = Policies(data_dir, "user", "bob"), Policies(data_dir, "role", "app")
    bob.put("A", sized(1500))
    bob.put("B", sized(548))
    assert bob.put_fails("C", sized(30)) == (
        f"strongroom: the inline policies of user {bob.arn} would have 2078 characters (not "
        "counting white space); a user's inline policies may have 2048 together"
    )
    # Replacing a policy counts the new text instead of the old one.
    bob.put("B", sized(540))
    assert bob.names() == ["A", "B"]

    app.put("Big", sized(10_240))
    assert "would have 10270 characters" in app.put_fails("More", sized(30))
    assert app.put_fails("Big", sized(10_241)) == (
        "strongroom: the policy document has 10241 characters (not counting white space); "
        "at most 10240 are allowed"
    )


def test_validate_identity_policy() -> None:
    validate_identity_policy(json.dumps(ALLOW_KMS))
    validate_identity_policy(sized(10_240))
    for bad, message in [
        ("", "not valid JSON"),
        ("null", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ("{}", "has no Statement"),
        (sized(10_241), "at most 10240 are allowed"),
        (" " * 131_073, "at most 131072 are allowed"),
        ("{\x00}", "may contain only"),
    ]:
        with pytest.raises(AdminError, match=message):
            validate_identity_policy(bad)


def test_every_policy_write_is_in_the_change_feed(data_dir: Path) -> None:
    bob, app = Policies(data_dir, "user", "bob"), Policies(data_dir, "role", "app")
    start = last_seq(data_dir)
    bob.put("P", ALLOW_KMS)
    bob.put("P", ALLOW_KMS)
    app.put("P", ALLOW_KMS)
    app.delete("P")
    app.fails("delete-policy", "--name", "P")
    rows = changes(data_dir, start)
    assert [row.principal_arn for row in rows] == [bob.arn, bob.arn, app.arn, app.arn]
    assert all(
        (row.key_id, row.account_id, row.alias_name, row.access_key_id) == (None,) * 4
        for row in rows
    )


def test_role_access_keys(data_dir: Path) -> None:
    create = ("access-keys", "create", "--account", ACCOUNT_ID)
    role_key = (
        "--access-key-id",
        "AKIAROLE000000000001",
        "--secret-access-key",
        "RoleSecret0123456789",
    )
    assert admin(data_dir, *create, "--role", "app", *role_key) == {
        "AccessKeyId": "AKIAROLE000000000001",
        "SecretAccessKey": "RoleSecret0123456789",
        "AccountId": ACCOUNT_ID,
        "RoleName": "app",
    }
    admin(data_dir, *create, "--user", "bob", "--access-key-id", "AKIAUSER000000000001")
    listed = admin(data_dir, "access-keys", "list", "--account", ACCOUNT_ID)
    assert [(k["AccessKeyId"], k.get("RoleName"), k.get("UserName")) for k in listed] == [
        ("AKIAROLE000000000001", "app", None),
        ("AKIAUSER000000000001", None, "bob"),
    ]
    assert admin_fails(data_dir, *create, "--role", "bob") == (
        f"strongroom: role bob does not exist in account {ACCOUNT_ID}"
    )


def client(service: str, endpoint: str, key: IssuedAccessKey) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        config=Config(retries={"max_attempts": 1}),
    )


def test_roles_and_role_keys_against_a_server(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "data") as server:
        account = server.admin_key.account_id
        data_dir = server.data_dir
        admin(data_dir, "roles", "create", "--account", account, "worker")
        Policies(data_dir, "role", "worker", account).put("UseKms", ALLOW_KMS)
        made = admin(data_dir, "access-keys", "create", "--account", account, "--role", "worker")
        key = IssuedAccessKey(
            made["AccessKeyId"], made["SecretAccessKey"], account, "worker", "role"
        )

        identity = client("sts", server.endpoint, key).get_caller_identity()
        assert identity["Arn"] == f"arn:aws:iam::{account}:role/worker"
        assert identity["Account"] == account

        kms = client("kms", server.endpoint, key)
        key_id = kms.create_key(Description="made by a role")["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"from the role")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from the role"
        assert server.client().decrypt(CiphertextBlob=blob)["Plaintext"] == b"from the role"
        assert key_id in [k["KeyId"] for k in kms.list_keys()["Keys"]]
        assert any(
            (e.operation, e.principal_arn, e.error_code)
            == ("CreateKey", f"arn:aws:iam::{account}:role/worker", None)
            for e in server.audit.events
        )

        # The role's key stops working once deleted, like a user's (within a poll interval).
        admin(data_dir, "access-keys", "delete", key.access_key_id)
        sts = client("sts", server.endpoint, key)
        deadline = time.monotonic() + 2.0
        while True:
            try:
                sts.get_caller_identity()
            except ClientError as error:
                assert error.response["Error"]["Code"] == "InvalidClientTokenId"
                break
            assert time.monotonic() < deadline, "the deleted role key still works after 2 s"
            time.sleep(0.02)
