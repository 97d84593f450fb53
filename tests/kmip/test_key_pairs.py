"""CreateKeyPair in KMIP 1.2 and 2.0: two objects over one KMS key, each with its own names,
usage mask and object type; Locate finds each by its own name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kmip.core import enums
from kmip.core.factories.attributes import AttributeFactory
from kmip.pie.exceptions import KmipOperationFailure

from tests.kmip.conftest import Tenant
from tests.support.kmip import KmipWorld

M = enums.CryptographicUsageMask


@pytest.fixture(params=[None, enums.KMIPVersion.KMIP_2_0], ids=["1.2", "2.0"])
def client(request: pytest.FixtureRequest, world: KmipWorld, tenant: Tenant) -> Iterator[Any]:
    proxy = world.proxy(tenant.pair, request.param)
    yield proxy
    proxy.close()


def _attributes(client: Any, uid: str) -> dict[str, Any]:
    _, attributes = client.get_attributes(uid)
    return {a.attribute_name.value: a.attribute_value for a in attributes}


def test_a_pair_is_two_objects_of_one_kms_key(client: Any, tenant: Tenant) -> None:
    tag = uuid.uuid4().hex[:8]
    public_uid, private_uid = client.create_key_pair(
        enums.CryptographicAlgorithm.RSA,
        3072,
        public_name=f"pub-{tag}",
        public_usage_mask=[M.VERIFY],
        private_name=f"priv-{tag}",
        private_usage_mask=[M.SIGN],
    )
    assert public_uid == f"{private_uid}/public"
    private = _attributes(client, private_uid)
    public = _attributes(client, public_uid)
    assert private["Object Type"].value == enums.ObjectType.PRIVATE_KEY
    assert public["Object Type"].value == enums.ObjectType.PUBLIC_KEY
    assert private["Cryptographic Length"].value == 3072
    assert private["Name"].name_value.value == f"priv-{tag}"
    assert public["Name"].name_value.value == f"pub-{tag}"
    assert private["Cryptographic Usage Mask"].value == M.SIGN.value
    assert public["Cryptographic Usage Mask"].value == M.VERIFY.value
    metadata = tenant.kms.describe_key(KeyId=private_uid)["KeyMetadata"]
    assert (metadata["KeySpec"], metadata["KeyUsage"]) == ("RSA_3072", "SIGN_VERIFY")
    factory = AttributeFactory()
    by_name = factory.create_attribute(enums.AttributeType.NAME, f"pub-{tag}")
    assert client.locate(attributes=[by_name]) == [public_uid]


def test_a_mask_that_both_signs_and_decrypts_is_refused(client: Any) -> None:
    with pytest.raises(KmipOperationFailure) as failure:
        client.create_key_pair(
            enums.CryptographicAlgorithm.RSA, 2048, private_usage_mask=[M.SIGN, M.DECRYPT]
        )
    assert failure.value.reason == enums.ResultReason.INVALID_FIELD


def test_destroying_the_private_key_removes_both(client: Any) -> None:
    public_uid, private_uid = client.create_key_pair(enums.CryptographicAlgorithm.RSA, 2048)
    client.destroy(private_uid)
    for uid in (private_uid, public_uid):
        with pytest.raises(KmipOperationFailure) as failure:
            client.get(uid)
        assert failure.value.reason == enums.ResultReason.ITEM_NOT_FOUND
