"""One server, every region: keys, aliases, managed keys, ARNs, STS and the audit trail are
regional as in AWS, with boto3 clients of two regions against the same server (SQLite and
PostgreSQL). Each test works in a fresh account, so listings see only its own keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from strongroom.kms.service.admin import IssuedAccessKey
from tests.support.errors import aws_error
from tests.support.servers import InProcessServer, in_process_server
from tests.support.tenants import new_tenant

EU, US = "eu-west-1", "us-east-1"


@pytest.fixture
def tenant(server: InProcessServer) -> IssuedAccessKey:
    return new_tenant(server, "r")


@pytest.fixture
def eu(server: InProcessServer, tenant: IssuedAccessKey) -> Any:
    return server.client(tenant, region=EU)


@pytest.fixture
def us(server: InProcessServer, tenant: IssuedAccessKey) -> Any:
    return server.client(tenant, region=US)


def test_a_key_belongs_to_the_region_it_was_made_in(eu: Any, us: Any) -> None:
    meta = eu.create_key(Description="in Ireland")["KeyMetadata"]
    key_id, arn = meta["KeyId"], meta["Arn"]
    assert arn == f"arn:aws:kms:{EU}:{meta['AWSAccountId']}:key/{key_id}"
    assert eu.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"] == arn
    for named in (key_id, arn):
        with aws_error("NotFoundException", 400):
            us.describe_key(KeyId=named)
    with aws_error("NotFoundException", 400):
        us.encrypt(KeyId=key_id, Plaintext=b"x")
    assert [k["KeyArn"] for k in eu.list_keys()["Keys"]] == [arn]
    assert us.list_keys()["Keys"] == []
    blob = eu.encrypt(KeyId=key_id, Plaintext=b"secret")
    assert blob["KeyId"] == arn
    assert eu.decrypt(CiphertextBlob=blob["CiphertextBlob"])["Plaintext"] == b"secret"
    # The ciphertext names a key this region does not have.
    with aws_error("InvalidCiphertextException", 400):
        us.decrypt(CiphertextBlob=blob["CiphertextBlob"])


def test_alias_names_are_unique_per_account_and_region(eu: Any, us: Any) -> None:
    eu_key = eu.create_key()["KeyMetadata"]
    us_key = us.create_key()["KeyMetadata"]
    eu.create_alias(AliasName="alias/app", TargetKeyId=eu_key["KeyId"])
    us.create_alias(AliasName="alias/app", TargetKeyId=us_key["KeyId"])
    with aws_error("AlreadyExistsException", 400) as caught:
        eu.create_alias(AliasName="alias/app", TargetKeyId=eu_key["KeyId"])
    account = eu_key["AWSAccountId"]
    assert caught.message == (
        f"An alias with the name arn:aws:kms:{EU}:{account}:alias/app already exists"
    )
    # An alias names a key of its own region only.
    with aws_error("NotFoundException", 400):
        eu.create_alias(AliasName="alias/other", TargetKeyId=us_key["KeyId"])
    for client, key in ((eu, eu_key), (us, us_key)):
        assert client.describe_key(KeyId="alias/app")["KeyMetadata"]["Arn"] == key["Arn"]
        assert client.encrypt(KeyId="alias/app", Plaintext=b"x")["KeyId"] == key["Arn"]
        mine = [a for a in client.list_aliases()["Aliases"] if a["AliasName"] == "alias/app"]
        assert [(a["AliasArn"], a["TargetKeyId"]) for a in mine] == [
            (key["Arn"].replace(f"key/{key['KeyId']}", "alias/app"), key["KeyId"])
        ]
    eu.delete_alias(AliasName="alias/app")
    with aws_error("NotFoundException", 400):
        eu.describe_key(KeyId="alias/app")
    assert us.describe_key(KeyId="alias/app")["KeyMetadata"]["KeyId"] == us_key["KeyId"]


def test_alias_arns_of_another_region_are_not_found(eu: Any, us: Any) -> None:
    key = eu.create_key()["KeyMetadata"]
    eu.create_alias(AliasName="alias/arn", TargetKeyId=key["KeyId"])
    alias_arn = f"arn:aws:kms:{EU}:{key['AWSAccountId']}:alias/arn"
    assert eu.describe_key(KeyId=alias_arn)["KeyMetadata"]["KeyId"] == key["KeyId"]
    with aws_error("NotFoundException", 400):
        us.describe_key(KeyId=alias_arn)


def test_managed_keys_are_per_account_and_region(eu: Any, us: Any) -> None:
    in_eu = eu.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
    in_us = us.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
    assert in_eu["KeyId"] != in_us["KeyId"]
    assert in_eu["Arn"].startswith(f"arn:aws:kms:{EU}:")
    assert in_us["Arn"].startswith(f"arn:aws:kms:{US}:")
    assert eu.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["KeyId"] == in_eu["KeyId"]
    listed = {a["AliasName"]: a for a in eu.list_aliases()["Aliases"]}
    assert listed["alias/aws/ebs"]["TargetKeyId"] == in_eu["KeyId"]
    assert listed["alias/aws/ebs"]["AliasArn"].startswith(f"arn:aws:kms:{EU}:")


def test_grants_and_tags_stay_with_the_regional_key(eu: Any, us: Any) -> None:
    key = eu.create_key(Tags=[{"TagKey": "team", "TagValue": "a"}])["KeyMetadata"]
    assert eu.list_resource_tags(KeyId=key["KeyId"])["Tags"] == [
        {"TagKey": "team", "TagValue": "a"}
    ]
    with aws_error("NotFoundException", 400):
        us.list_resource_tags(KeyId=key["KeyId"])
    principal = f"arn:aws:iam::{key['AWSAccountId']}:user/admin"
    eu.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=principal,
        RetiringPrincipal=principal,
        Operations=["Encrypt"],
    )
    retirable = eu.list_retirable_grants(RetiringPrincipal=principal)["Grants"]
    assert [g["KeyId"] for g in retirable] == [key["Arn"]]
    assert us.list_retirable_grants(RetiringPrincipal=principal)["Grants"] == []


def test_a_region_outside_the_served_set_is_refused_as_aws_refuses_it(
    server: InProcessServer, tenant: IssuedAccessKey
) -> None:
    client = server.client(tenant, region="xx-nowhere-1")
    with aws_error("InvalidSignatureException", 400) as caught:
        client.list_keys()
    assert caught.message == "Credential should be scoped to a valid region, not 'xx-nowhere-1'. "


def test_every_region_of_the_aws_partition_is_served_by_default(
    server: InProcessServer, tenant: IssuedAccessKey
) -> None:
    for region in ("ap-southeast-2", "sa-east-1", "me-central-1", "ca-west-1"):
        meta = server.client(tenant, region=region).create_key()["KeyMetadata"]
        assert meta["Arn"].startswith(f"arn:aws:kms:{region}:")


def test_audit_events_carry_the_region_of_the_request(
    server: InProcessServer, eu: Any, us: Any
) -> None:
    eu_arn = eu.create_key()["KeyMetadata"]["Arn"]
    us_arn = us.create_key()["KeyMetadata"]["Arn"]
    regions = {
        arn: event.region
        for event in server.audit.events
        for arn in event.resources
        if arn in (eu_arn, us_arn) and event.operation == "CreateKey"
    }
    assert regions == {eu_arn: EU, us_arn: US}


@pytest.fixture(scope="module")
def two_regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with in_process_server(
        tmp_path_factory.mktemp("two-regions"), region="eu-west-1", regions="eu-west-1,us-west-2"
    ) as running:
        yield running


def test_the_served_set_is_configurable_and_includes_the_default(
    two_regions: InProcessServer,
) -> None:
    for region in ("eu-west-1", "us-west-2"):
        assert two_regions.client(region=region).list_keys()["Keys"] == []
    with aws_error("InvalidSignatureException", 400) as caught:
        two_regions.client(region="us-east-1").list_keys()
    assert caught.message == "Credential should be scoped to a valid region, not 'us-east-1'. "
