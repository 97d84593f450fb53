"""Bucket operations through boto3: ownership, names, listing, default encryption."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.errors import aws_error
from tests.support.s3 import bucket_name, new_account_admin, s3_client
from tests.support.servers import InProcessServer


def test_create_list_head_delete(s3: Any) -> None:
    name = bucket_name()
    reply = s3.create_bucket(Bucket=name)
    assert reply["Location"] == f"/{name}"
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.delete_bucket(Bucket=name)
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with aws_error("404", 404):
        s3.head_bucket(Bucket=name)
    with aws_error("NoSuchBucket", 404):
        s3.delete_bucket(Bucket=name)


def test_names_are_global_across_accounts(server: InProcessServer, s3: Any) -> None:
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    with aws_error("BucketAlreadyOwnedByYou", 409):
        s3.create_bucket(Bucket=name)
    other = s3_client(server, new_account_admin(server, f"other-{name}"))
    with aws_error("BucketAlreadyExists", 409):
        other.create_bucket(Bucket=name)
    assert name not in [b["Name"] for b in other.list_buckets()["Buckets"]]
    with aws_error("AccessDenied", 403):
        other.put_object(Bucket=name, Key="k", Body=b"x")
    with aws_error("AccessDenied", 403):
        other.list_objects_v2(Bucket=name)


@pytest.mark.parametrize("name", ["ab", "UpperCase", "under_score", "-leading", "1.2.3.4", "a..b"])
def test_invalid_bucket_names(s3: Any, name: str) -> None:
    raw = s3_client_without_validation(s3)
    with aws_error("InvalidBucketName", 400):
        raw.create_bucket(Bucket=name)


def s3_client_without_validation(s3: Any) -> Any:
    import boto3
    from botocore.config import Config

    credentials = s3._request_signer._credentials
    return boto3.client(
        "s3",
        endpoint_url=s3.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        config=Config(parameter_validation=False, s3={"addressing_style": "path"}),
    )


def test_bucket_not_empty(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with aws_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)


def test_default_encryption_round_trip(s3: Any, key_arn: str) -> None:
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    rule = {
        "ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": key_arn,
        },
        "BucketKeyEnabled": True,
    }
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule]})
    got = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    assert got == [rule]
    s3.delete_bucket_encryption(Bucket=name)
    rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_bad_encryption_configuration_xml(server: InProcessServer, s3: Any) -> None:
    from tests.support.s3_raw import signed_s3_request

    name = bucket_name()
    s3.create_bucket(Bucket=name)
    reply = signed_s3_request(server, "PUT", f"/{name}?encryption", b"<not-xml")
    assert (reply.status, reply.code) == (400, "MalformedXML")
    reply = signed_s3_request(
        server,
        "PUT",
        f"/{name}?encryption",
        b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        b"<SSEAlgorithm>ROT13</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
        b"</ServerSideEncryptionConfiguration>",
    )
    assert (reply.status, reply.code) == (400, "MalformedXML")
    rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
