"""S3 clients and helpers for object store tests, against the live test server."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

import boto3
from botocore.config import Config

from strongroom.kms.app import open_data_dir
from strongroom.kms.config import Settings
from strongroom.kms.service.admin import IssuedAccessKey
from tests.support.policies import iam_policy, iam_statement
from tests.support.servers import RunningServer

_names = itertools.count()


def s3_client(server: RunningServer, key: IssuedAccessKey | None = None, **config: Any) -> Any:
    chosen = key or server.admin_key
    s3_config = config.pop("s3", {"addressing_style": "path"})
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=server.region,
        aws_access_key_id=chosen.access_key_id,
        aws_secret_access_key=chosen.secret_access_key,
        config=Config(retries={"max_attempts": 1}, s3=s3_config, **config),
    )


def bucket_name(prefix: str = "bucket") -> str:
    return f"{prefix}-{next(_names)}-{secrets.token_hex(4)}"


def kms_bucket(s3: Any, key_arn: str, *, bucket_key: bool = False) -> str:
    """A new bucket whose default encryption is SSE-KMS under ``key_arn``."""
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    rule = {
        "ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": key_arn,
        },
        "BucketKeyEnabled": bucket_key,
    }
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule]})
    return name


def new_user(
    server: RunningServer, name: str, *statements: dict[str, Any], account_id: str | None = None
) -> IssuedAccessKey:
    """A user of the admin's account (or ``account_id``) with these identity statements."""
    data = open_data_dir(Settings(data_dir=server.data_dir))
    try:
        admin = data.admin
        account = account_id or server.admin_key.account_id
        admin.create_user(account, name)
        if statements:
            admin.put_user_policy(account, name, "Policy", iam_policy(*statements))
        return admin.create_access_key(account, name)
    finally:
        data.db.engine.dispose()


def new_account_admin(server: RunningServer, name: str) -> IssuedAccessKey:
    data = open_data_dir(Settings(data_dir=server.data_dir))
    try:
        account = data.admin.create_account(name).account_id
    finally:
        data.db.engine.dispose()
    return new_user(server, "admin", iam_statement("Allow", "*"), account_id=account)


def managed_keys_available(kms: Any) -> bool:
    """Whether the KMS serves the AWS managed key alias/aws/s3 (SSE-S3 needs it)."""
    from botocore.exceptions import ClientError

    try:
        kms.describe_key(KeyId="alias/aws/s3")
    except ClientError:
        return False
    return True
