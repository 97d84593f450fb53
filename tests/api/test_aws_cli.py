"""The real AWS CLI (``aws kms ...``) against the in-process server.

Each CLI call costs most of a second, so steps are grouped and independent calls run in
parallel; boto3 does set-up and cross-checks where the CLI itself is not the point.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import InProcessServer


def find_aws() -> str:
    beside_python = Path(sys.executable).parent / "aws"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("aws")
    if found is None:
        pytest.fail("the AWS CLI (aws) is not installed next to this Python nor on PATH")
    return found


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, self.stderr
        return json.loads(self.stdout)

    def text(self) -> str:
        assert self.returncode == 0, self.stderr
        return self.stdout.strip()


class AwsCli:
    def __init__(self, server: InProcessServer, home: Path) -> None:
        self.aws = find_aws()
        self.endpoint = server.endpoint
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env = {
            **env,
            "HOME": str(home),  # no ~/.aws of whoever runs the tests
            "AWS_CONFIG_FILE": str(home / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
            "AWS_ACCESS_KEY_ID": server.admin_key.access_key_id,
            "AWS_SECRET_ACCESS_KEY": server.admin_key.secret_access_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def __call__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        output: Sequence[str] = ("--output", "json"),
    ) -> CliResult:
        result = subprocess.run(
            [self.aws, "kms", *args, "--endpoint-url", self.endpoint, *output],
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=60,
            check=False,
        )
        return CliResult(result.returncode, result.stdout, result.stderr)

    def text(self, *args: str) -> str:
        """A call whose ``--query`` picks one value, printed as text."""
        return self(*args, output=("--output", "text")).text()

    def parallel(self, *calls: Sequence[str] | Call) -> list[CliResult]:
        """Independent calls at once (each is its own process); results in call order."""
        steps = [c if isinstance(c, Call) else Call(tuple(c)) for c in calls]
        with ThreadPoolExecutor(len(steps)) as pool:
            return list(
                pool.map(lambda step: self(*step.args, env=step.env, output=step.output), steps)
            )


@dataclass(frozen=True)
class Call:
    args: tuple[str, ...]
    env: dict[str, str] | None = None
    output: tuple[str, ...] = ("--output", "json")


@pytest.fixture
def cli(server: InProcessServer, tmp_path: Path) -> AwsCli:
    return AwsCli(server, tmp_path)


def test_key_lifecycle(cli: AwsCli, kms: Any, server: InProcessServer) -> None:
    created, other = cli.parallel(
        (
            "create-key",
            "--description",
            "made by the CLI",
            "--tags",
            "TagKey=team,TagValue=blue",
            "TagKey=env,TagValue=dev",
        ),
        ("create-key", "--description", "to be deleted"),
    )
    meta = created.json()["KeyMetadata"]
    key_id, arn = meta["KeyId"], meta["Arn"]
    assert (meta["Description"], meta["KeyState"], meta["Enabled"]) == (
        "made by the CLI",
        "Enabled",
        True,
    )
    assert arn == f"arn:aws:kms:us-east-1:{meta['AWSAccountId']}:key/{key_id}"
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [
        {"TagKey": "env", "TagValue": "dev"},
        {"TagKey": "team", "TagValue": "blue"},
    ]
    doomed = other.json()["KeyMetadata"]

    described, listed, scheduled = cli.parallel(
        ("describe-key", "--key-id", key_id),
        ("list-keys",),
        ("schedule-key-deletion", "--key-id", doomed["KeyId"], "--pending-window-in-days", "7"),
    )
    assert described.json()["KeyMetadata"] == meta
    assert {"KeyId": key_id, "KeyArn": arn} in listed.json()["Keys"]
    assert {"KeyId": doomed["KeyId"], "KeyArn": doomed["Arn"]} in listed.json()["Keys"]
    deletion = scheduled.json()
    assert (deletion["KeyId"], deletion["KeyState"], deletion["PendingWindowInDays"]) == (
        doomed["Arn"],
        "PendingDeletion",
        7,
    )
    in_seven_days = server.clock.now().timestamp() + 7 * 86400
    assert abs(deletion["DeletionDate"] - in_seven_days) < 60
    assert kms.describe_key(KeyId=doomed["KeyId"])["KeyMetadata"]["KeyState"] == ("PendingDeletion")

    updated, disabled, cancelled = cli.parallel(
        ("update-key-description", "--key-id", key_id, "--description", "renamed"),
        ("disable-key", "--key-id", arn),
        ("cancel-key-deletion", "--key-id", doomed["KeyId"]),
    )
    assert (updated.returncode, updated.stdout) == (0, ""), updated.stderr
    assert (disabled.returncode, disabled.stdout) == (0, ""), disabled.stderr
    assert cancelled.json() == {"KeyId": doomed["Arn"]}
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["Description"], meta["KeyState"], meta["Enabled"]) == (
        "renamed",
        "Disabled",
        False,
    )
    restored = kms.describe_key(KeyId=doomed["KeyId"])["KeyMetadata"]
    assert restored["KeyState"] == "Disabled"  # as in AWS: a cancelled deletion is disabled
    assert "DeletionDate" not in restored

    refused = cli("encrypt", "--key-id", key_id, "--plaintext", "aGVsbG8=")
    assert refused.returncode != 0
    assert "(DisabledException) when calling the Encrypt operation" in refused.stderr
    assert f"{arn} is disabled" in refused.stderr

    assert cli("enable-key", "--key-id", key_id).returncode == 0
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"] == arn


def test_tags_and_aliases(cli: AwsCli, kms: Any) -> None:
    first = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "blue"}])["KeyMetadata"]
    second = kms.create_key()["KeyMetadata"]
    alias = f"alias/cli-{first['KeyId'][:8]}"

    tagged, aliased = cli.parallel(
        ("tag-resource", "--key-id", first["KeyId"], "--tags", "TagKey=env,TagValue=prod"),
        ("create-alias", "--alias-name", alias, "--target-key-id", first["KeyId"]),
    )
    assert (tagged.returncode, aliased.returncode) == (0, 0), tagged.stderr + aliased.stderr
    untagged, updated = cli.parallel(
        ("untag-resource", "--key-id", first["KeyId"], "--tag-keys", "team"),
        ("update-alias", "--alias-name", alias, "--target-key-id", second["Arn"]),
    )
    assert (untagged.returncode, updated.returncode) == (0, 0), untagged.stderr + updated.stderr

    tags, aliases = cli.parallel(
        ("list-resource-tags", "--key-id", first["KeyId"]),
        ("list-aliases", "--key-id", second["KeyId"]),
    )
    assert tags.json()["Tags"] == [{"TagKey": "env", "TagValue": "prod"}]
    listed = aliases.json()["Aliases"]
    assert [(a["AliasName"], a["TargetKeyId"]) for a in listed] == [(alias, second["KeyId"])]
    assert listed[0]["AliasArn"] == (f"arn:aws:kms:us-east-1:{second['AWSAccountId']}:{alias}")
    assert kms.encrypt(KeyId=alias, Plaintext=b"x")["KeyId"] == second["Arn"]

    assert cli("delete-alias", "--alias-name", alias).returncode == 0
    assert alias not in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]


def test_encrypt_decrypt_reencrypt_and_data_keys(cli: AwsCli, kms: Any, tmp_path: Path) -> None:
    key = kms.create_key()["KeyMetadata"]
    other = kms.create_key()["KeyMetadata"]
    plaintext = bytes(range(256)) + b"\n\0 end"  # not text: binary must survive fileb://
    (tmp_path / "plain.bin").write_bytes(plaintext)

    blob_b64 = cli.text(
        "encrypt",
        "--key-id",
        key["KeyId"],
        "--plaintext",
        f"fileb://{tmp_path / 'plain.bin'}",
        "--encryption-context",
        "purpose=test",
        "--query",
        "CiphertextBlob",
    )
    (tmp_path / "cipher.bin").write_bytes(base64.b64decode(blob_b64))
    cipher = f"fileb://{tmp_path / 'cipher.bin'}"

    decrypted, wrong_context, reencrypted, data_key, no_plaintext, random = cli.parallel(
        Call(
            (
                "decrypt",
                "--ciphertext-blob",
                cipher,
                "--encryption-context",
                "purpose=test",
                "--query",
                "Plaintext",
            ),
            output=("--output", "text"),
        ),
        ("decrypt", "--ciphertext-blob", cipher, "--encryption-context", "purpose=other"),
        (
            "re-encrypt",
            "--ciphertext-blob",
            cipher,
            "--source-encryption-context",
            "purpose=test",
            "--destination-key-id",
            other["KeyId"],
            "--destination-encryption-context",
            "purpose=moved",
        ),
        ("generate-data-key", "--key-id", key["Arn"], "--key-spec", "AES_256"),
        (
            "generate-data-key-without-plaintext",
            "--key-id",
            key["KeyId"],
            "--number-of-bytes",
            "64",
        ),
        ("generate-random", "--number-of-bytes", "32"),
    )
    # --query Plaintext --output text prints the plaintext in base64.
    assert base64.b64decode(decrypted.text(), validate=True) == plaintext
    assert wrong_context.returncode != 0
    assert "InvalidCiphertextException" in wrong_context.stderr

    moved = reencrypted.json()
    assert (moved["SourceKeyId"], moved["KeyId"]) == (key["Arn"], other["Arn"])
    back = kms.decrypt(
        CiphertextBlob=base64.b64decode(moved["CiphertextBlob"]),
        EncryptionContext={"purpose": "moved"},
    )
    assert (back["Plaintext"], back["KeyId"]) == (plaintext, other["Arn"])

    made = data_key.json()
    assert made["KeyId"] == key["Arn"]
    data_plaintext = base64.b64decode(made["Plaintext"])
    assert len(data_plaintext) == 32
    assert (
        kms.decrypt(CiphertextBlob=base64.b64decode(made["CiphertextBlob"]))["Plaintext"]
        == data_plaintext
    )

    sealed = no_plaintext.json()
    assert "Plaintext" not in sealed
    assert sealed["KeyId"] == key["Arn"]
    opened = kms.decrypt(CiphertextBlob=base64.b64decode(sealed["CiphertextBlob"]))
    assert len(opened["Plaintext"]) == 64

    assert len(base64.b64decode(random.json()["Plaintext"])) == 32


def test_errors_reach_the_cli(cli: AwsCli, kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    missing = "11111111-2222-3333-4444-555555555555"
    unknown_key, unknown_alias, wrong_secret, unknown_access_key = cli.parallel(
        ("encrypt", "--key-id", missing, "--plaintext", "aGk="),
        ("describe-key", "--key-id", "alias/does-not-exist"),
        Call(
            ("describe-key", "--key-id", key_id),
            {"AWS_SECRET_ACCESS_KEY": "wrong-secret-" + "x" * 27},
        ),
        Call(("describe-key", "--key-id", key_id), {"AWS_ACCESS_KEY_ID": "AKIAUNKNOWN000000000"}),
    )
    for result in (unknown_key, unknown_alias, wrong_secret, unknown_access_key):
        assert result.returncode != 0
        assert result.stdout == ""
    assert "An error occurred (NotFoundException) when calling the Encrypt operation" in (
        unknown_key.stderr
    )
    assert missing in unknown_key.stderr
    assert "(NotFoundException) when calling the DescribeKey operation" in unknown_alias.stderr
    assert "alias/does-not-exist" in unknown_alias.stderr
    assert "(InvalidSignatureException) when calling the DescribeKey operation" in (
        wrong_secret.stderr
    )
    assert "(UnrecognizedClientException) when calling the DescribeKey operation" in (
        unknown_access_key.stderr
    )
    assert "security token included in the request is invalid" in unknown_access_key.stderr
