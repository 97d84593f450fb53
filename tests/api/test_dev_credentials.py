"""``strongroom serve --dev``: any access key and secret, the account chosen by the key id."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from strongroom.kms.config import ConfigError, Settings
from tests.api.test_aws_cli import find_aws
from tests.support.errors import aws_error
from tests.support.processes import OutputDrain
from tests.support.servers import ServerProcess, server_process


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_process(tmp_path_factory.mktemp("dev") / "data", 2, "--dev") as running:
        yield running


def client(server: ServerProcess, service: str, key_id: str, secret: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=server.region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def test_banner_says_loudly_that_dev_credentials_are_on(dev_server: ServerProcess) -> None:
    assert dev_server.process is not None
    banner = OutputDrain(dev_server.process).wait_for("aws kms create-key")
    assert banner.startswith("WARNING: development credentials are ON")


def test_test_test_is_the_default_account(dev_server: ServerProcess) -> None:
    identity = client(dev_server, "sts", "test", "test").get_caller_identity()
    assert identity["Account"] == "000000000000"
    assert identity["Arn"] == "arn:aws:iam::000000000000:user/developer"
    kms = client(dev_server, "kms", "test", "test")
    key = kms.create_key(Description="dev")["KeyMetadata"]
    assert key["Arn"].startswith("arn:aws:kms:us-east-1:000000000000:key/")
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"hello")["CiphertextBlob"]
    # Any other secret and any other non-numeric id are the same developer.
    other = client(dev_server, "kms", "AKIAANYTHINGATALL123", "another secret")
    assert other.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hello"


def test_a_twelve_digit_key_id_is_its_own_account(dev_server: ServerProcess) -> None:
    team = client(dev_server, "kms", "111122223333", "x")
    key = team.create_key()["KeyMetadata"]
    assert key["AWSAccountId"] == "111122223333"
    assert key["KeyId"] in {k["KeyId"] for k in team.list_keys()["Keys"]}
    default = client(dev_server, "kms", "test", "test")
    assert key["KeyId"] not in {k["KeyId"] for k in default.list_keys()["Keys"]}
    with aws_error("NotFoundException"):
        default.describe_key(KeyId=key["KeyId"])


def test_real_access_keys_keep_their_principal(dev_server: ServerProcess) -> None:
    admin = dev_server.admin_key
    identity = client(
        dev_server, "sts", admin.access_key_id, "not its secret"
    ).get_caller_identity()
    assert identity["Arn"].endswith(":user/admin")
    assert identity["Account"] != "000000000000"
    assert identity["Arn"] == f"arn:aws:iam::{identity['Account']}:user/admin"


def test_requests_must_still_be_sigv4(dev_server: ServerProcess) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        dev_server.endpoint,
        data=b"{}",
        headers={
            "X-Amz-Target": "TrentService.ListKeys",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert b"MissingAuthenticationTokenException" in caught.value.read()


def test_strict_mode_refuses_unknown_keys(server: Any) -> None:
    strict = boto3.client(
        "kms",
        endpoint_url=server.endpoint,
        region_name=server.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    with aws_error("UnrecognizedClientException"):
        strict.list_keys()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com"])  # noqa: S104
def test_dev_credentials_are_refused_off_loopback(host: str) -> None:
    with pytest.raises(ConfigError, match="not a loopback address"):
        Settings(host=host, dev_credentials=True).validated()


def test_serve_refuses_dev_on_a_public_address(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "strongroom.cli.main",
            "serve",
            "--dev",
            "--host",
            "0.0.0.0",  # noqa: S104
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr
    assert not (tmp_path / "data").exists()


def test_emulator_code_with_two_regions_and_multi_region_keys_runs_unchanged(
    dev_server: ServerProcess, tmp_path: Path
) -> None:
    """Issue 16's "done when": code written for a local emulator (test/test, two regions,
    Multi-Region keys) runs as is, with boto3 and with the AWS CLI."""
    regional = {
        region: boto3.client(
            "kms",
            endpoint_url=dev_server.endpoint,
            region_name=region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )
        for region in ("us-east-1", "eu-west-1")
    }
    us, eu = regional["us-east-1"], regional["eu-west-1"]
    primary = us.create_key(MultiRegion=True, Description="drop-in")["KeyMetadata"]
    assert primary["KeyId"].startswith("mrk-")
    replica = us.replicate_key(KeyId=primary["KeyId"], ReplicaRegion="eu-west-1")
    assert replica["ReplicaKeyMetadata"]["Arn"].startswith("arn:aws:kms:eu-west-1:000000000000:")
    blob = us.encrypt(KeyId=primary["KeyId"], Plaintext=b"from us-east-1")["CiphertextBlob"]
    assert eu.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from us-east-1"
    plain = us.create_key()["KeyMetadata"]["KeyId"]
    with aws_error("NotFoundException", 400):
        eu.describe_key(KeyId=plain)

    blob_file = tmp_path / "blob"
    blob_file.write_bytes(blob)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }

    def aws(*args: str) -> Any:
        done = subprocess.run(
            [find_aws(), "kms", *args, "--endpoint-url", dev_server.endpoint, "--output", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    described = aws("describe-key", "--key-id", primary["KeyId"])["KeyMetadata"]
    assert described["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    decrypted = aws("decrypt", "--ciphertext-blob", f"fileb://{blob_file}")
    assert base64.b64decode(decrypted["Plaintext"]) == b"from us-east-1"
    assert decrypted["KeyId"] == replica["ReplicaKeyMetadata"]["Arn"]
