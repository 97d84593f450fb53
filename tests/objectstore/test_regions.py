"""SSE-KMS uses the KMS key of the S3 request's region, as S3 does (a bucket's KMS key is in
the bucket's region): the same alias name resolves to each region's own key."""

from __future__ import annotations

import time
from typing import Any

import boto3
from botocore.config import Config

from tests.support.errors import aws_error
from tests.support.raw_kms import RawKms
from tests.support.s3 import bucket_name
from tests.support.servers import InProcessServer

EU, US = "eu-west-1", "us-east-1"


def clients(server: InProcessServer, service: str, region: str) -> Any:
    key = server.admin_key
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def test_sse_kms_resolves_the_key_in_the_request_region(server: InProcessServer) -> None:
    name = bucket_name("regions")
    alias = f"alias/{name}"
    arns = {}
    for region in (EU, US):
        kms = clients(server, "kms", region)
        arns[region] = kms.create_key()["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName=alias, TargetKeyId=arns[region])
    s3_eu, s3_us = clients(server, "s3", EU), clients(server, "s3", US)
    s3_eu.create_bucket(Bucket=name)
    for region, s3 in ((EU, s3_eu), (US, s3_us)):
        put = s3.put_object(
            Bucket=name,
            Key=region,
            Body=b"secret",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=alias,
        )
        assert put["SSEKMSKeyId"] == arns[region]
        got = s3.get_object(Bucket=name, Key=region)
        assert (got["Body"].read(), got["SSEKMSKeyId"]) == (b"secret", arns[region])
    # A key of another region is not found, as in S3 (KMS keys must be in the bucket's region).
    with aws_error("KMS.NotFoundException", 400):
        s3_us.put_object(
            Bucket=name,
            Key="elsewhere",
            Body=b"x",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=arns[EU],
        )


def test_a_region_outside_the_served_set_is_refused(server: InProcessServer) -> None:
    with aws_error("AuthorizationHeaderMalformed", 400) as caught:
        clients(server, "s3", "xx-nowhere-1").list_buckets()
    assert "the region 'xx-nowhere-1' is wrong" in caught.message


def test_a_campaign_moves_objects_under_keys_of_another_region(server: InProcessServer) -> None:
    """The campaign runner calls the KMS in the region of each object's key: objects written
    in eu-west-1 move while the server's default region is us-east-1."""
    assert server.region == US
    kms = clients(server, "kms", EU)
    old = kms.create_key(Description="eu old")["KeyMetadata"]["Arn"]
    new = kms.create_key(Description="eu new")["KeyMetadata"]["Arn"]
    s3 = clients(server, "s3", EU)
    name = bucket_name("campaign-eu")
    s3.create_bucket(Bucket=name)
    for n in range(3):
        s3.put_object(
            Bucket=name, Key=f"o{n}", Body=b"eu", ServerSideEncryption="aws:kms", SSEKMSKeyId=old
        )
    raw = RawKms(server.endpoint, server.admin_key, region=EU)
    try:
        reply = raw.call("StartReEncryptionCampaign", {"SourceKeyId": old, "DestinationKeyId": new})
        assert reply.status == 200, reply
        wanted = {"CampaignId": reply.body["Campaign"]["CampaignId"]}
        deadline = time.monotonic() + 60
        while (campaign := raw.call("DescribeReEncryptionCampaigns", wanted).body)["Campaigns"][0][
            "State"
        ] != "COMPLETED":
            assert time.monotonic() < deadline, campaign
            time.sleep(0.1)
    finally:
        raw.close()
    (done,) = campaign["Campaigns"]
    assert (done["Moved"], done["Failed"]) == (3, 0), done
    kms.disable_key(KeyId=old)
    for n in range(3):
        got = s3.get_object(Bucket=name, Key=f"o{n}")
        assert (got["Body"].read(), got["SSEKMSKeyId"]) == (b"eu", new)


def test_a_bucket_records_its_region(server: InProcessServer) -> None:
    s3_eu, s3_us = clients(server, "s3", EU), clients(server, "s3", US)
    placed = bucket_name("placed")
    s3_eu.create_bucket(Bucket=placed, CreateBucketConfiguration={"LocationConstraint": EU})
    assert s3_us.get_bucket_location(Bucket=placed)["LocationConstraint"] == EU
    head = s3_us.head_bucket(Bucket=placed)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == EU
    implied = bucket_name("implied")
    s3_us.create_bucket(Bucket=implied)  # us-east-1: no constraint, as S3 wants it
    assert s3_eu.get_bucket_location(Bucket=implied)["LocationConstraint"] is None
    with aws_error("IllegalLocationConstraintException", 400) as caught:
        s3_eu.create_bucket(
            Bucket=bucket_name("elsewhere"),
            CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"},
        )
    assert caught.message == (
        "The ap-southeast-2 location constraint is incompatible for the region specific "
        "endpoint this request was sent to."
    )
    with aws_error("InvalidLocationConstraint", 400):
        s3_us.create_bucket(
            Bucket=bucket_name("explicit"), CreateBucketConfiguration={"LocationConstraint": US}
        )
