"""Strongroom's extension operations through boto3 and the AWS CLI, with ``AWS_DATA_PATH``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config

from strongroom import botocore_data
from strongroom.kms.api.botocore_extras import EXTRAS_FILE, render
from strongroom.kms.service.registry import EXTENSIONS
from tests.api.test_aws_cli import AwsCli
from tests.support.errors import aws_error
from tests.support.servers import InProcessServer


def test_the_committed_extras_are_what_the_registry_says() -> None:
    assert EXTRAS_FILE.read_text() == render(), (
        "regenerate with: python -m strongroom.kms.api.botocore_extras"
    )


@pytest.fixture
def extended_kms(server: InProcessServer) -> Any:
    session = botocore.session.Session()
    session.set_config_variable("data_path", str(botocore_data.PATH))
    key = server.admin_key
    return boto3.Session(botocore_session=session).client(
        "kms",
        endpoint_url=server.endpoint,
        region_name=server.region,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        config=Config(retries={"max_attempts": 1}),
    )


def test_boto3_has_a_method_for_every_extension(extended_kms: Any) -> None:
    for name in EXTENSIONS:
        assert name in extended_kms.meta.service_model.operation_names
    assert hasattr(extended_kms, "get_exposure_report")
    # AWS's own operations are still there, unchanged.
    assert "Encrypt" in extended_kms.meta.service_model.operation_names


def test_boto3_calls_extensions_like_any_kms_operation(extended_kms: Any, kms: Any) -> None:
    key = kms.create_key(Description="reported")["KeyMetadata"]
    report = extended_kms.get_exposure_report()
    assert key["Arn"] in {row["KeyArn"] for row in report["ExposureReport"]["Keys"]}
    accesses = extended_kms.list_provider_accesses(KeyId=key["KeyId"])
    assert accesses["ProviderAccesses"] == []
    with aws_error("NotFoundException"):
        extended_kms.list_provider_accesses(KeyId="alias/no-such-alias")


def test_the_aws_cli_calls_extensions(server: InProcessServer, tmp_path: Path, kms: Any) -> None:
    key = kms.create_key(Description="cli-reported")["KeyMetadata"]
    cli = AwsCli(server, tmp_path)
    reply = cli("get-exposure-report", env={"AWS_DATA_PATH": str(botocore_data.PATH)})
    assert key["Arn"] in {row["KeyArn"] for row in reply.json()["ExposureReport"]["Keys"]}
    # Without the data path the CLI does not know the operation.
    unknown = cli("get-exposure-report")
    assert unknown.returncode != 0
    assert "Invalid choice" in unknown.stderr or "invalid choice" in unknown.stderr


def test_aws_data_path_command_prints_the_directory() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", "aws-data-path"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    path = Path(result.stdout.strip())
    assert path == botocore_data.PATH
    assert json.loads((path / "kms" / "2014-11-01" / "service-2.sdk-extras.json").read_text())
