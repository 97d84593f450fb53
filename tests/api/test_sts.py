"""STS GetCallerIdentity on the KMS endpoint: boto3, the AWS CLI and hand-made requests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from strongroom.kms.app import open_data_dir
from strongroom.kms.domain.principals import Principal
from strongroom.kms.service.admin import IssuedAccessKey
from tests.api.test_aws_cli import find_aws
from tests.support.servers import InProcessServer
from tests.support.signing import Reply, send

NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
CALLER_IDENTITY = b"Action=GetCallerIdentity&Version=2011-06-15"
USER_ID = re.compile(r"AIDA[A-Z2-7]{17}")
ROLE_ID = re.compile(r"AROA[A-Z2-7]{17}")


def sts(server: InProcessServer, key: IssuedAccessKey, region: str | None = None) -> Any:
    return boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name=region or server.region,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        config=Config(retries={"max_attempts": 1}),
    )


def sts_error(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def signed(
    server: InProcessServer,
    body: bytes,
    *,
    key: IssuedAccessKey | None = None,
    service: str = "sts",
    headers: dict[str, str] | None = None,
) -> Reply:
    chosen = key or server.admin_key
    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=body,
        headers={"Content-Type": FORM, **(headers or {})},
    )
    SigV4Auth(
        Credentials(chosen.access_key_id, chosen.secret_access_key), service, server.region
    ).add_auth(request)
    return send(server.endpoint, dict(request.headers.items()), body)


def parse(reply: Reply) -> ET.Element:
    assert reply.headers["content-type"] == "text/xml"
    return ET.fromstring(reply.body)  # noqa: S314 - our own server's reply


def xml_error(reply: Reply) -> tuple[str, str, str]:
    """(Type, Code, Message) of an STS ErrorResponse; checks its shape and request id."""
    root = parse(reply)
    assert root.tag == f"{NS}ErrorResponse"
    assert [child.tag for child in root] == [f"{NS}Error", f"{NS}RequestId"]
    error = root.find(f"{NS}Error")
    assert error is not None
    assert [child.tag for child in error] == [f"{NS}Type", f"{NS}Code", f"{NS}Message"]
    assert root.findtext(f"{NS}RequestId") == reply.headers["x-amzn-requestid"]
    return (
        error.findtext(f"{NS}Type") or "",
        error.findtext(f"{NS}Code") or "",
        error.findtext(f"{NS}Message") or "",
    )


@pytest.fixture(scope="module")
def role_key(server: InProcessServer) -> Iterator[IssuedAccessKey]:
    """An access key of a role ``deployer`` in the default account."""
    data = open_data_dir(server.settings)
    try:
        data.admin.create_role(server.admin_key.account_id, "deployer")
        yield data.admin.create_access_key(server.admin_key.account_id, "deployer", kind="role")
    finally:
        data.db.engine.dispose()


def test_caller_identity_of_the_admin_user(server: InProcessServer) -> None:
    account = server.admin_key.account_id
    identity = sts(server, server.admin_key).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{account}:user/admin"
    assert identity["Account"] == account
    assert USER_ID.fullmatch(identity["UserId"]), identity["UserId"]
    assert identity["UserId"] == Principal(account, "admin", server.clock.now()).unique_id
    assert identity["ResponseMetadata"]["HTTPStatusCode"] == 200
    # Stable: the same id on every call.
    assert sts(server, server.admin_key).get_caller_identity()["UserId"] == identity["UserId"]


def test_caller_identity_of_a_role_key(server: InProcessServer, role_key: IssuedAccessKey) -> None:
    identity = sts(server, role_key).get_caller_identity()
    account = server.admin_key.account_id
    assert identity["Arn"] == f"arn:aws:iam::{account}:role/deployer"
    assert identity["Account"] == account
    assert ROLE_ID.fullmatch(identity["UserId"]), identity["UserId"]
    admin_id = sts(server, server.admin_key).get_caller_identity()["UserId"]
    assert identity["UserId"] != admin_id


def test_every_authenticated_sts_call_is_audited(
    server: InProcessServer, role_key: IssuedAccessKey
) -> None:
    before = len(server.audit.events)
    reply = sts(server, role_key).get_caller_identity()
    request_id = reply["ResponseMetadata"]["RequestId"]
    events = [e for e in server.audit.events[before:] if e.request_id == request_id]
    assert len(events) == 1
    (event,) = events
    assert event.event_source == "sts.amazonaws.com"
    assert event.operation == "GetCallerIdentity"
    assert event.principal_arn == f"arn:aws:iam::{role_key.account_id}:role/deployer"
    assert event.access_key_id == role_key.access_key_id
    assert event.error_code is None
    assert event.source_ip == "127.0.0.1"
    # A refused action is audited with its STS error code; a bad signature is not audited.
    refused = signed(server, b"Action=AssumeRole&Version=2011-06-15")
    assert refused.status == 400
    wrong = IssuedAccessKey(server.admin_key.access_key_id, "not-the-secret-0123456789", "", "")
    mid = len(server.audit.events)
    sts_error(sts(server, wrong).get_caller_identity)
    new = server.audit.events[before:]
    assert [e.error_code for e in new if e.operation == "AssumeRole"] == ["InvalidAction"]
    assert all(e.access_key_id != wrong.access_key_id or e.error_code for e in new)
    assert not [e for e in server.audit.events[mid:] if e.event_source == "sts.amazonaws.com"]


def test_bad_secret_is_signature_does_not_match(server: InProcessServer) -> None:
    wrong = IssuedAccessKey(server.admin_key.access_key_id, "not-the-secret-0123456789", "", "")
    code, status, message = sts_error(sts(server, wrong).get_caller_identity)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith("The request signature we calculated does not match")


def test_unknown_access_key_is_invalid_client_token_id(server: InProcessServer) -> None:
    unknown = IssuedAccessKey("AKIANOSUCHKEY0000001", "whatever-secret-0123456789", "", "")
    assert sts_error(sts(server, unknown).get_caller_identity) == (
        "InvalidClientTokenId",
        403,
        "The security token included in the request is invalid",
    )


def test_a_region_not_served_is_signature_does_not_match(server: InProcessServer) -> None:
    code, status, message = sts_error(
        sts(server, server.admin_key, region="xx-nowhere-1").get_caller_identity
    )
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message == "Credential should be scoped to a valid region, not 'xx-nowhere-1'. "


def test_sts_answers_in_every_served_region(server: InProcessServer) -> None:
    for region in ("eu-west-1", "ap-southeast-2", "us-west-2"):
        identity = sts(server, server.admin_key, region=region).get_caller_identity()
        assert identity["Account"] == server.admin_key.account_id


def test_the_response_has_aws_shape(server: InProcessServer) -> None:
    reply = signed(server, CALLER_IDENTITY)
    assert reply.status == 200, reply.body
    root = parse(reply)
    assert root.tag == f"{NS}GetCallerIdentityResponse"
    assert [child.tag for child in root] == [
        f"{NS}GetCallerIdentityResult",
        f"{NS}ResponseMetadata",
    ]
    result = root.find(f"{NS}GetCallerIdentityResult")
    assert result is not None
    assert [child.tag for child in result] == [f"{NS}Arn", f"{NS}UserId", f"{NS}Account"]
    account = server.admin_key.account_id
    assert result.findtext(f"{NS}Arn") == f"arn:aws:iam::{account}:user/admin"
    assert result.findtext(f"{NS}Account") == account
    request_id = root.findtext(f"{NS}ResponseMetadata/{NS}RequestId")
    assert request_id == reply.headers["x-amzn-requestid"]


def test_protocol_errors(server: InProcessServer) -> None:
    unsigned = send(server.endpoint, {"Content-Type": FORM}, CALLER_IDENTITY)
    assert unsigned.status == 403
    assert xml_error(unsigned) == (
        "Sender",
        "MissingAuthenticationToken",
        "Request is missing Authentication Token",
    )

    other_action = signed(server, b"Action=AssumeRole&Version=2011-06-15")
    assert other_action.status == 400
    assert xml_error(other_action) == (
        "Sender",
        "InvalidAction",
        "Could not find operation AssumeRole for version 2011-06-15",
    )
    old_version = signed(server, b"Action=GetCallerIdentity&Version=2010-01-01")
    assert old_version.status == 400
    assert xml_error(old_version)[1:] == (
        "InvalidAction",
        "Could not find operation GetCallerIdentity for version 2010-01-01",
    )
    no_action = signed(server, b"Version=2011-06-15")
    assert (no_action.status, xml_error(no_action)[1]) == (400, "MissingAction")

    kms_scoped = signed(server, CALLER_IDENTITY, service="kms")
    assert kms_scoped.status == 403
    assert xml_error(kms_scoped) == (
        "Sender",
        "SignatureDoesNotMatch",
        "Credential should be scoped to correct service: 'sts'. ",
    )

    # A form-encoded request that names a KMS operation is still a KMS request (JSON errors).
    kms_request = signed(server, b"{}", headers={"X-Amz-Target": "TrentService.ListKeys"})
    assert kms_request.headers["content-type"] == "application/x-amz-json-1.1"
    assert json.loads(kms_request.body)["__type"] == "InvalidSignatureException"


def test_the_aws_cli(server: InProcessServer, role_key: IssuedAccessKey, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_ACCESS_KEY_ID=role_key.access_key_id,
        AWS_SECRET_ACCESS_KEY=role_key.secret_access_key,
        AWS_DEFAULT_REGION=server.region,
        AWS_MAX_ATTEMPTS="1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    result = subprocess.run(
        [find_aws(), "sts", "get-caller-identity", "--endpoint-url", server.endpoint],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    identity = json.loads(result.stdout)
    account = server.admin_key.account_id
    assert set(identity) == {"UserId", "Account", "Arn"}
    assert identity["Arn"] == f"arn:aws:iam::{account}:role/deployer"
    assert identity["Account"] == account
    assert ROLE_ID.fullmatch(identity["UserId"]), identity["UserId"]
