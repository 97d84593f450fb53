"""AWS managed keys through the API, with boto3 and the AWS CLI, as a tenant sees them.

One server with the real audit chain for the module; every test works in a fresh account (its
administrator has AdministratorAccess), so what one test creates never shows in another.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from strongroom.kms.domain.managed import SERVICES
from strongroom.kms.service.admin import IssuedAccessKey
from tests.api.test_aws_cli import AwsCli
from tests.api.test_governance import export
from tests.support.errors import aws_error
from tests.support.raw_kms import RawKms
from tests.support.servers import InProcessServer, in_process_server
from tests.support.tenants import new_tenant

PREDEFINED = sorted(f"alias/aws/{name}" for name in SERVICES)
S3_DESCRIPTION = "Default key that protects my S3 objects when no other key is defined"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with in_process_server(tmp_path_factory.mktemp("managed"), chained_audit=True) as running:
        yield running


@pytest.fixture
def tenant(server: InProcessServer) -> IssuedAccessKey:
    """The administrator of a fresh account."""
    return new_tenant(server)


@pytest.fixture
def kms(server: InProcessServer, tenant: IssuedAccessKey) -> Any:
    return server.client(tenant)


def test_list_aliases_shows_the_predefined_names_with_and_without_a_key(kms: Any) -> None:
    listed = kms.list_aliases()["Aliases"]
    assert [a["AliasName"] for a in listed] == PREDEFINED
    assert all("TargetKeyId" not in a for a in listed)
    key = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    mine = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=mine)
    names, marker, pages = [], None, 0
    while True:
        page = kms.list_aliases(Limit=4, **({"Marker": marker} if marker else {}))
        names += [(a["AliasName"], a.get("TargetKeyId")) for a in page["Aliases"]]
        pages += 1
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert pages == 4
    expected = sorted(
        [(name, key["KeyId"] if name == "alias/aws/s3" else None) for name in PREDEFINED]
        + [("alias/app", mine)]
    )
    assert names == expected
    s3 = next(a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/s3")
    assert s3["AliasArn"] == f"arn:aws:kms:us-east-1:{key['AWSAccountId']}:alias/aws/s3"
    assert s3["CreationDate"].timestamp() == pytest.approx(key["CreationDate"].timestamp())
    # Filtered by key, only real aliases show.
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=key["KeyId"])["Aliases"]] == [
        "alias/aws/s3"
    ]


def test_describe_key_creates_the_key_once_as_aws_describes_it(kms: Any) -> None:
    meta = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert meta["Origin"] == "AWS_KMS"
    assert meta["Description"] == S3_DESCRIPTION
    assert (meta["KeyState"], meta["Enabled"], meta["KeySpec"]) == (
        "Enabled",
        True,
        "SYMMETRIC_DEFAULT",
    )
    assert kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["KeyId"] == meta["KeyId"]
    account = meta["AWSAccountId"]
    policy = json.loads(kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default")["Policy"])
    assert policy["Id"] == "auto-s3-2"
    use, metadata = policy["Statement"]
    assert use["Principal"] == {"AWS": "*"}
    assert use["Condition"] == {
        "StringEquals": {
            "kms:CallerAccount": account,
            "kms:ViaService": "s3.us-east-1.amazonaws.com",
        }
    }
    assert metadata["Action"] == ["kms:Describe*", "kms:Get*", "kms:List*"]
    status = kms.get_key_rotation_status(KeyId=meta["KeyId"])
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 365
    assert (status["NextRotationDate"] - meta["CreationDate"]).days == 365
    ebs = kms.describe_key(KeyId=f"arn:aws:kms:us-east-1:{account}:alias/aws/ebs")["KeyMetadata"]
    assert (
        ebs["Description"]
        == "Default key that protects my EBS volumes when no other key is defined"
    )
    assert ebs["KeyId"] != meta["KeyId"]


def test_direct_use_and_every_change_are_refused(kms: Any) -> None:
    key = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    arn, key_id = key["Arn"], key["KeyId"]
    with aws_error("AccessDeniedException", 400) as error:
        kms.encrypt(KeyId="alias/aws/s3", Plaintext=b"direct")
    assert error.message == (
        f"User: arn:aws:iam::{key['AWSAccountId']}:user/admin is not authorized to perform: "
        f"kms:Encrypt on resource: {arn} because no resource-based policy allows the "
        "kms:Encrypt action"
    )
    attempts: list[tuple[str, Callable[[], object]]] = [
        ("kms:GenerateDataKey", lambda: kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")),
        ("kms:PutKeyPolicy", lambda: kms.put_key_policy(
            KeyId=key_id, PolicyName="default", Policy=json.dumps({"Statement": []}))),
        ("kms:ScheduleKeyDeletion", lambda: kms.schedule_key_deletion(KeyId=key_id)),
        ("kms:DisableKey", lambda: kms.disable_key(KeyId=key_id)),
        ("kms:EnableKey", lambda: kms.enable_key(KeyId=key_id)),
        ("kms:DisableKeyRotation", lambda: kms.disable_key_rotation(KeyId=key_id)),
        ("kms:EnableKeyRotation", lambda: kms.enable_key_rotation(KeyId=key_id)),
        ("kms:RotateKeyOnDemand", lambda: kms.rotate_key_on_demand(KeyId=key_id)),
        ("kms:TagResource", lambda: kms.tag_resource(
            KeyId=key_id, Tags=[{"TagKey": "team", "TagValue": "x"}])),
        ("kms:UntagResource", lambda: kms.untag_resource(KeyId=key_id, TagKeys=["team"])),
        ("kms:UpdateKeyDescription", lambda: kms.update_key_description(
            KeyId=key_id, Description="mine now")),
        ("kms:CreateGrant", lambda: kms.create_grant(
            KeyId=key_id, GranteePrincipal=f"arn:aws:iam::{key['AWSAccountId']}:root",
            Operations=["Decrypt"])),
        ("kms:CreateAlias", lambda: kms.create_alias(AliasName="alias/mine", TargetKeyId=key_id)),
    ]  # fmt: skip
    for action, attempt in attempts:
        with aws_error("AccessDeniedException", 400) as error:
            attempt()
        assert f"because no resource-based policy allows the {action} action" in error.message
    after = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (after["KeyState"], after["Description"]) == ("Enabled", S3_DESCRIPTION)
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == []
    assert kms.list_grants(KeyId=key_id)["Grants"] == []


def test_alias_aws_names_are_not_the_tenants_to_write(kms: Any) -> None:
    mine = kms.create_key()["KeyMetadata"]["KeyId"]
    managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["KeyId"]
    attempts: tuple[Callable[[], object], ...] = (
        lambda: kms.create_alias(AliasName="alias/aws/s3", TargetKeyId=mine),
        lambda: kms.create_alias(AliasName="alias/aws/custom", TargetKeyId=mine),
        lambda: kms.update_alias(AliasName="alias/aws/s3", TargetKeyId=mine),
        lambda: kms.delete_alias(AliasName="alias/aws/s3"),
        lambda: kms.delete_alias(AliasName="alias/aws/rds"),
    )
    for attempt in attempts:
        with aws_error("NotAuthorizedException", 400) as error:
            attempt()
        assert error.message == ""
    assert kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["KeyId"] == managed
    names = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert "alias/aws/custom" not in names and "alias/aws/rds" in names


def test_creation_is_audited_in_the_tenants_trail(
    server: InProcessServer, kms: Any, tenant: IssuedAccessKey
) -> None:
    key = kms.describe_key(KeyId="alias/aws/lambda")["KeyMetadata"]
    kms.describe_key(KeyId="alias/aws/lambda")
    created = [
        r
        for r in export(server, tenant.account_id)
        if r["eventName"] == "CreateKey" and r["resources"][0]["ARN"] == key["Arn"]
    ]
    assert len(created) == 1
    assert created[0]["additionalEventData"] == {
        "keyManager": "AWS",
        "aliasName": "alias/aws/lambda",
        "invokedBy": None,
    }
    assert created[0]["userIdentity"]["arn"].endswith(":user/admin")


def test_the_exposure_report_shows_managed_keys(
    server: InProcessServer, kms: Any, tenant: IssuedAccessKey
) -> None:
    managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"]
    mine = kms.create_key()["KeyMetadata"]["Arn"]
    conn = RawKms(server.endpoint, tenant)
    try:
        reply = conn.call("GetExposureReport", {})
    finally:
        conn.close()
    assert reply.status == 200
    rows = {row["KeyArn"]: row for row in reply.body["ExposureReport"]["Keys"]}
    assert set(rows) == {managed, mine}
    assert rows[managed]["KeyManager"] == "AWS"
    assert rows[managed]["Exposure"] == "provider-under-quorum"
    assert rows[managed]["Flags"][0].startswith("AWS managed: usable only through its service")
    assert rows[managed]["MonthlyUsd"] == 0.0
    assert rows[managed]["Rotation"].startswith("every 365 days, next ")
    assert rows[mine]["KeyManager"] == "CUSTOMER" and rows[mine]["Flags"] == []
    assert reply.body["ExposureReport"]["TotalMonthlyUsd"] == 1.0


def test_the_aws_cli_sees_managed_keys(
    server: InProcessServer, tenant: IssuedAccessKey, tmp_path: Path
) -> None:
    cli = AwsCli(server, tmp_path)
    env = {
        "AWS_ACCESS_KEY_ID": tenant.access_key_id,
        "AWS_SECRET_ACCESS_KEY": tenant.secret_access_key,
    }
    aliases = cli("list-aliases", env=env).json()["Aliases"]
    assert [a["AliasName"] for a in aliases] == PREDEFINED
    meta = cli("describe-key", "--key-id", "alias/aws/ebs", env=env).json()["KeyMetadata"]
    assert (meta["KeyManager"], meta["Origin"]) == ("AWS", "AWS_KMS")
    denied = cli("encrypt", "--key-id", "alias/aws/ebs", "--plaintext", "aGVsbG8=", env=env)
    assert denied.returncode != 0 and "AccessDeniedException" in denied.stderr
    refused = cli("create-alias", "--alias-name", "alias/aws/mine", "--target-key-id",
                  meta["KeyId"], env=env)  # fmt: skip
    assert refused.returncode != 0 and "NotAuthorizedException" in refused.stderr
