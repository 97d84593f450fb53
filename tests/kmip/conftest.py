"""One server with KMIP on per test module group, a client certificate for the default
account's administrator, and one for a second account."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.kmip import KmipWorld, Pair, kmip_server


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KmipWorld]:
    with kmip_server(tmp_path_factory.mktemp("kmip")) as running:
        yield running


@dataclass(frozen=True)
class Tenant:
    account_id: str
    principal_arn: str
    pair: Pair
    kms: Any  # boto3 KMS client of the same account's administrator


@pytest.fixture(scope="package")
def tenant(world: KmipWorld) -> Tenant:
    kms = world.server.client()
    arn = kms_caller_arn(world)
    account_id = arn.split(":")[4]
    pair = world.pki.client("tenant-admin")
    world.register(pair, arn)
    return Tenant(account_id, arn, pair, kms)


def kms_caller_arn(world: KmipWorld) -> str:
    import boto3

    sts = boto3.client(
        "sts",
        endpoint_url=world.server.endpoint,
        region_name=world.server.region,
        aws_access_key_id=world.server.admin_key.access_key_id,
        aws_secret_access_key=world.server.admin_key.secret_access_key,
    )
    return str(sts.get_caller_identity()["Arn"])


@pytest.fixture(scope="package")
def other(world: KmipWorld) -> Tenant:
    account_id, issued = world.new_account("kmip-other")
    arn = f"arn:aws:iam::{account_id}:user/admin"
    pair = world.pki.client("other-admin")
    world.register(pair, arn)
    return Tenant(account_id, arn, pair, world.server.client(issued))


@pytest.fixture
def proxy(world: KmipWorld, tenant: Tenant) -> Iterator[Any]:
    client = world.proxy(tenant.pair)
    try:
        yield client
    finally:
        client.close()
