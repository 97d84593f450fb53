"""``strongroom key create`` and ``key policy-template``: separation of duties out of the box.

The command runs as a real process with the server admin's credentials in the environment,
against a live in-process server; keyadmin and keyuser (no identity policies at all) then
check with boto3 what the key policy lets each of them do.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from botocore.exceptions import ClientError

from strongroom.kms.app import open_data_dir
from strongroom.kms.domain.policy_templates import separation_of_duties_policy
from strongroom.kms.service.admin import IssuedAccessKey
from tests.support.servers import InProcessServer, free_port, in_process_server

T = TypeVar("T")
REGION = "us-east-1"
ALLOW_ALL_KMS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
    }
)


@dataclass
class World:
    server: InProcessServer
    account: str
    admin_arn: str
    keyadmin: IssuedAccessKey
    keyuser: IssuedAccessKey
    poweradmin: IssuedAccessKey  # has an identity policy allowing kms:*
    home: Path

    def arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account}:user/{name}"

    def kms(self, key: IssuedAccessKey | None = None) -> Any:
        return self.server.client(key)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with in_process_server(tmp_path_factory.mktemp("keys-command")) as server:
        account = server.admin_key.account_id
        data = open_data_dir(server.settings)
        try:
            admin = data.admin
            for name in ("keyadmin", "keyuser", "poweradmin"):
                admin.create_user(account, name)
            admin.put_user_policy(account, "poweradmin", "all-kms", ALLOW_ALL_KMS)
            keys = {
                name: admin.create_access_key(account, name)
                for name in ("keyadmin", "keyuser", "poweradmin")
            }
        finally:
            data.db.engine.dispose()
        world = World(
            server,
            account,
            f"arn:aws:iam::{account}:user/admin",
            keys["keyadmin"],
            keys["keyuser"],
            keys["poweradmin"],
            tmp_path_factory.mktemp("home"),
        )
        for key in keys.values():  # new access keys reach the worker through the change feed
            eventually(partial(world.kms(key).describe_key, KeyId="alias/none"), "NotFound")
        yield world


def eventually(call: Callable[[], T], accept: str = "", timeout: float = 5.0) -> T | None:
    """Retry ``call`` while the server does not know the access key yet; an error whose code
    contains ``accept`` counts as success."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if accept and accept in code:
                return None
            if code != "UnrecognizedClientException" or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def run(
    world: World, *args: str, key: IssuedAccessKey | None = None, endpoint: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``strongroom ARGS`` as its own process, with only ``key`` as AWS credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STRONGROOM_"))}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(world.home / "no-credentials"),
        AWS_CONFIG_FILE=str(world.home / "no-config"),
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
    )
    if key is not None:
        env.update(AWS_ACCESS_KEY_ID=key.access_key_id, AWS_SECRET_ACCESS_KEY=key.secret_access_key)
    argv = list(args)
    if args[:2] == ("key", "create"):
        argv[2:2] = ["--endpoint-url", endpoint or world.server.endpoint]
    return subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def create(world: World, *args: str, key: IssuedAccessKey | None = None) -> dict[str, Any]:
    """``strongroom key create ARGS`` as the server admin (or ``key``); must succeed."""
    result = run(world, "key", "create", *args, key=key or world.server.admin_key)
    assert result.returncode == 0, result.stderr
    output: dict[str, Any] = json.loads(result.stdout)
    return output


def fails(result: subprocess.CompletedProcess[str]) -> str:
    """A refused command: exit status 2, nothing on stdout, one line on stderr."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("strongroom: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr.strip()


def denied(call: Callable[[], object]) -> None:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def key_ids(world: World) -> set[str]:
    keys = world.kms().list_keys(Limit=1000)["Keys"]
    return {k["KeyId"] for k in keys}


def test_key_administrators_manage_and_key_users_use(world: World) -> None:
    alias = f"alias/orders-{secrets.token_hex(4)}"
    admins = [world.admin_arn, world.arn("keyadmin")]
    result = run(
        world,
        "key",
        "create",
        *("--administrator", admins[0], "--administrator", admins[1]),
        *("--user", world.arn("keyuser")),
        *("--description", "orders", "--alias", alias),
        key=world.server.admin_key,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # the creator is an administrator already: nothing to say
    output = json.loads(result.stdout)
    metadata = output["KeyMetadata"]
    key_id = metadata["KeyId"]
    assert metadata["Description"] == "orders"
    assert metadata["KeyState"] == "Enabled"
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert metadata["Arn"] == f"arn:aws:kms:{REGION}:{world.account}:key/{key_id}"
    assert output["AliasName"] == alias

    # The printed policy is the key's policy, and it is the strict template.
    stored = world.kms().get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    assert json.loads(stored) == output["Policy"]
    assert stored == separation_of_duties_policy(
        world.account, admins, [world.arn("keyuser")], strict=True
    )
    aliases = world.kms().list_aliases(KeyId=key_id)["Aliases"]
    assert [a["AliasName"] for a in aliases] == [alias]

    keyadmin = world.kms(world.keyadmin)
    assert keyadmin.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id
    keyadmin.disable_key(KeyId=key_id)
    assert keyadmin.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    keyadmin.enable_key(KeyId=key_id)
    keyadmin.get_key_policy(KeyId=key_id, PolicyName="default")
    denied(lambda: keyadmin.encrypt(KeyId=key_id, Plaintext=b"x"))
    denied(lambda: keyadmin.generate_data_key(KeyId=key_id, KeySpec="AES_256"))

    keyuser = world.kms(world.keyuser)
    blob = keyuser.encrypt(KeyId=alias, Plaintext=b"card 4111")["CiphertextBlob"]
    assert keyuser.decrypt(CiphertextBlob=blob)["Plaintext"] == b"card 4111"
    assert keyuser.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id
    denied(lambda: keyadmin.decrypt(CiphertextBlob=blob))
    denied(lambda: keyuser.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7))
    denied(lambda: keyuser.put_key_policy(KeyId=key_id, PolicyName="default", Policy=stored))
    denied(lambda: keyuser.disable_key(KeyId=key_id))
    # "Allow attachment of persistent resources" needs kms:GrantIsForAWSResource, which no
    # request to Strongroom has: key users cannot create grants.
    denied(
        lambda: keyuser.create_grant(
            KeyId=key_id, GranteePrincipal=world.arn("keyuser"), Operations=["Encrypt"]
        )
    )
    # The server admin (an identity policy allowing kms:*) is a key administrator only
    # because it was named one: it cannot use the key either.
    denied(lambda: world.kms().encrypt(KeyId=key_id, Plaintext=b"x"))


def test_strict_ignores_identity_policies_no_strict_honours_them(world: World) -> None:
    """poweradmin's identity policy allows kms:*. With the IAM delegation statement
    (--no-strict) that makes it a key user too; without it (the default) it does not."""
    args = ("--administrator", world.arn("poweradmin"), "--user", world.arn("keyuser"))
    strict = create(world, *args, key=world.poweradmin)["KeyMetadata"]["KeyId"]
    loose = create(world, *args, "--no-strict", key=world.poweradmin)["KeyMetadata"]["KeyId"]
    power = world.kms(world.poweradmin)
    denied(lambda: power.encrypt(KeyId=strict, Plaintext=b"x"))
    assert power.encrypt(KeyId=loose, Plaintext=b"x")["KeyId"].endswith(loose)
    # keyuser has no identity policy: the delegation gives it nothing more.
    keyuser = world.kms(world.keyuser)
    denied(lambda: keyuser.disable_key(KeyId=loose))
    assert keyuser.encrypt(KeyId=strict, Plaintext=b"x")["KeyId"].endswith(strict)
    # And the server admin, not named in either policy, is locked out of the strict key only.
    denied(lambda: world.kms().describe_key(KeyId=strict))
    assert world.kms().describe_key(KeyId=loose)["KeyMetadata"]["KeyId"] == loose


def test_the_lockout_check_needs_the_creator_among_the_administrators(world: World) -> None:
    """Why the command adds its caller: the server refuses a strict policy that would not let
    the creator change it again."""
    policy = separation_of_duties_policy(
        world.account, [world.arn("keyadmin")], [world.arn("keyuser")], strict=True
    )
    with pytest.raises(ClientError) as caught:
        world.kms().create_key(Policy=policy)
    assert caught.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    assert "will not allow you to update the key policy" in str(caught.value)


def test_the_creator_is_added_to_the_administrators(world: World) -> None:
    result = run(
        world,
        "key",
        "create",
        *("--administrator", world.arn("keyadmin"), "--user", world.arn("keyuser")),
        key=world.server.admin_key,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"strongroom: note: {world.admin_arn} (you) is added to the key administrators: "
        "the creator of a key must be able to change its policy\n"
    )
    output = json.loads(result.stdout)
    admins = output["Policy"]["Statement"][0]
    assert admins["Sid"] == "Allow access for Key Administrators"
    assert admins["Principal"] == {"AWS": [world.arn("keyadmin"), world.admin_arn]}
    key_id = output["KeyMetadata"]["KeyId"]
    # ... so the creator can still hand the key over: replace the policy without itself.
    handed_over = separation_of_duties_policy(
        world.account, [world.arn("keyadmin")], [world.arn("keyuser")], strict=True
    )
    world.kms().put_key_policy(
        KeyId=key_id,
        PolicyName="default",
        Policy=handed_over,
        BypassPolicyLockoutSafetyCheck=True,
    )
    denied(lambda: world.kms().describe_key(KeyId=key_id))
    world.kms(world.keyadmin).describe_key(KeyId=key_id)


def test_a_creator_listed_only_as_a_key_user_is_refused(world: World) -> None:
    before = key_ids(world)
    message = fails(
        run(
            world,
            "key",
            "create",
            *("--administrator", world.arn("keyadmin"), "--user", world.admin_arn),
            key=world.server.admin_key,
        )
    )
    assert "listed as a key user but not as a key administrator" in message
    assert key_ids(world) == before


def test_both_roles_for_one_principal_is_allowed_with_a_note(world: World) -> None:
    result = run(
        world,
        "key",
        "create",
        *("--administrator", world.admin_arn, "--user", world.admin_arn),
        key=world.server.admin_key,
    )
    assert result.returncode == 0, result.stderr
    assert "is both a key administrator and a key user" in result.stderr
    key_id = json.loads(result.stdout)["KeyMetadata"]["KeyId"]
    world.kms().encrypt(KeyId=key_id, Plaintext=b"x")


def test_an_administrator_can_still_grant_itself_use(world: World) -> None:
    """As in AWS, kms:Create* includes kms:CreateGrant: separation of duties is the default,
    not a barrier (the audit trail shows the grant)."""
    key_id = create(
        world, "--administrator", world.admin_arn, "--administrator", world.arn("keyadmin")
    )["KeyMetadata"]["KeyId"]
    keyadmin = world.kms(world.keyadmin)
    denied(lambda: keyadmin.encrypt(KeyId=key_id, Plaintext=b"x"))
    token = keyadmin.create_grant(
        KeyId=key_id, GranteePrincipal=world.arn("keyadmin"), Operations=["Encrypt"]
    )["GrantToken"]
    used = keyadmin.encrypt(KeyId=key_id, Plaintext=b"x", GrantTokens=[token])
    assert used["KeyId"].endswith(f":key/{key_id}")


def test_aws_errors_are_one_line_with_code_and_message(world: World) -> None:
    before = key_ids(world)
    message = fails(
        run(
            world,
            "key",
            "create",
            *("--administrator", world.admin_arn, "--user", world.arn("nobody")),
            key=world.server.admin_key,
        )
    )
    assert message == (
        "strongroom: CreateKey failed: MalformedPolicyDocumentException: "
        "Policy contains a statement with one or more invalid principals."
    )
    # keyuser may not create keys at all (CreateKey is decided by identity policies alone).
    message = fails(
        run(world, "key", "create", "--administrator", world.arn("keyuser"), key=world.keyuser)
    )
    assert message.startswith("strongroom: CreateKey failed: AccessDeniedException: User: ")
    assert key_ids(world) == before


def test_a_taken_alias_creates_no_key(world: World) -> None:
    alias = f"alias/taken-{secrets.token_hex(4)}"
    create(world, "--administrator", world.admin_arn, "--alias", alias)
    before = key_ids(world)
    message = fails(run(world, "key", "create", "--alias", alias, key=world.server.admin_key))
    assert message == f"strongroom: alias {alias} exists already; no key was created"
    message = fails(run(world, "key", "create", "--alias", "orders", key=world.server.admin_key))
    assert "must start with 'alias/'" in message
    assert key_ids(world) == before


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        (f"http://127.0.0.1:{free_port()}", "Could not connect to the endpoint URL"),
        ("not a url", "Invalid endpoint: not a url"),
    ],
    ids=["closed-port", "not-a-url"],
)
def test_bad_endpoint(world: World, endpoint: str, expected: str) -> None:
    message = fails(run(world, "key", "create", endpoint=endpoint, key=world.server.admin_key))
    assert expected in message


def test_no_credentials(world: World) -> None:
    message = fails(run(world, "key", "create", "--administrator", world.admin_arn))
    assert message.startswith("strongroom: no AWS credentials")


def test_wrong_credentials(world: World) -> None:
    wrong = IssuedAccessKey("AKIAUNKNOWNUNKNOWN00", "x" * 40, world.account, "nobody")
    message = fails(run(world, "key", "create", key=wrong))
    assert message.startswith("strongroom: GetCallerIdentity failed: InvalidClientTokenId: ")


def test_policy_template_prints_the_policy(world: World) -> None:
    args = ("--administrator", world.arn("keyadmin"), "--user", world.arn("keyuser"))
    for strict in (True, False):
        extra = () if strict else ("--no-strict",)
        result = run(world, "key", "policy-template", "--account", world.account, *args, *extra)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        assert result.stdout == (
            separation_of_duties_policy(
                world.account, [world.arn("keyadmin")], [world.arn("keyuser")], strict=strict
            )
            + "\n"
        )


def test_policy_template_errors(world: World) -> None:
    message = fails(run(world, "key", "policy-template", "--account", "1234"))
    assert message == "strongroom: account id '1234' is not 12 digits"
    message = fails(
        run(world, "key", "policy-template", "--account", world.account, "--user", world.arn("u"))
    )
    assert "needs at least one key administrator" in message
    message = fails(
        run(
            world,
            "key",
            "policy-template",
            *("--account", world.account, "--administrator", f"arn:aws:iam::{world.account}:root"),
        )
    )
    assert "is not an IAM user or role ARN" in message
