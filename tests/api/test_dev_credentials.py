"""``strongroom serve --dev``: any access key and secret, the account chosen by the key id."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from strongroom.kms.config import ConfigError, Settings
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
