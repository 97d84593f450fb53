"""Create, Get, GetAttributes, Locate, Activate, Revoke and Destroy of AES keys with pykmip's
ProxyKmipClient over TLS, in KMIP 1.2 (pykmip's default), 1.4 and 2.0; what the KMS API sees."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from kmip.core import enums
from kmip.pie.exceptions import KmipOperationFailure

from tests.kmip.conftest import Tenant
from tests.support.kmip import KmipWorld

VERSIONS = [
    enums.KMIPVersion.KMIP_1_0,
    enums.KMIPVersion.KMIP_1_1,
    None,
    enums.KMIPVersion.KMIP_1_3,
    enums.KMIPVersion.KMIP_1_4,
    enums.KMIPVersion.KMIP_2_0,
]
IDS = ["1.0", "1.1", "1.2", "1.3", "1.4", "2.0"]


@pytest.fixture(params=VERSIONS, ids=IDS)
def client(request: pytest.FixtureRequest, world: KmipWorld, tenant: Tenant) -> Any:
    proxy = world.proxy(tenant.pair, request.param)
    yield proxy
    proxy.close()


def _state(client: Any, uid: str) -> enums.State:
    _, attributes = client.get_attributes(uid, ["State"])
    return enums.State(attributes[0].attribute_value.value)


def test_create_get_activate_revoke_destroy(client: Any, tenant: Tenant) -> None:
    uid = client.create(enums.CryptographicAlgorithm.AES, 256, name="disk-42")
    assert _state(client, uid) == enums.State.PRE_ACTIVE
    key = client.get(uid)
    assert key.cryptographic_algorithm == enums.CryptographicAlgorithm.AES
    assert key.cryptographic_length == 256
    assert len(key.value) == 32
    assert client.get(uid).value == key.value  # the same material every time
    client.activate(uid)
    assert _state(client, uid) == enums.State.ACTIVE
    with pytest.raises(KmipOperationFailure) as active:
        client.destroy(uid)
    assert active.value.reason == enums.ResultReason.PERMISSION_DENIED
    client.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid)
    assert _state(client, uid) == enums.State.DEACTIVATED
    assert client.get(uid).value == key.value  # a deactivated key can still be retrieved
    client.destroy(uid)
    with pytest.raises(KmipOperationFailure) as gone:
        client.get(uid)
    assert gone.value.reason == enums.ResultReason.ITEM_NOT_FOUND
    with pytest.raises(ClientError) as kms_gone:
        tenant.kms.describe_key(KeyId=uid)
    assert kms_gone.value.response["Error"]["Code"] == "NotFoundException"


def test_kmip_keys_are_kms_keys_of_the_account(client: Any, tenant: Tenant) -> None:
    uid = client.create(enums.CryptographicAlgorithm.AES, 256, name="visible")
    metadata = tenant.kms.describe_key(KeyId=uid)["KeyMetadata"]
    assert metadata["AWSAccountId"] == tenant.account_id
    assert metadata["KeyState"] == "Disabled"  # Pre-Active
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert metadata["Description"] == "KMIP visible"
    client.activate(uid)
    assert tenant.kms.describe_key(KeyId=uid)["KeyMetadata"]["KeyState"] == "Enabled"
    # The KMS API disables it: KMIP sees it Deactivated.
    tenant.kms.disable_key(KeyId=uid)
    assert _state(client, uid) == enums.State.DEACTIVATED


def test_a_key_made_through_the_kms_api_is_not_a_kmip_object(client: Any, tenant: Tenant) -> None:
    key_id = tenant.kms.create_key()["KeyMetadata"]["KeyId"]
    calls: list[Callable[[], object]] = [
        lambda: client.get(key_id),
        lambda: client.get_attributes(key_id),
    ]
    for call in calls:
        with pytest.raises(KmipOperationFailure) as failure:
            call()
        assert failure.value.reason == enums.ResultReason.ITEM_NOT_FOUND


def test_get_attributes_names_the_server_and_client_attributes(client: Any) -> None:
    uid = client.create(
        enums.CryptographicAlgorithm.AES,
        256,
        name="attrs",
        cryptographic_usage_mask=[
            enums.CryptographicUsageMask.ENCRYPT,
            enums.CryptographicUsageMask.DECRYPT,
        ],
    )
    got_uid, attributes = client.get_attributes(uid)
    assert got_uid == uid
    by_name = {a.attribute_name.value: a.attribute_value for a in attributes}
    assert by_name["Unique Identifier"].value == uid
    assert by_name["Object Type"].value == enums.ObjectType.SYMMETRIC_KEY
    assert by_name["Cryptographic Algorithm"].value == enums.CryptographicAlgorithm.AES
    assert by_name["Cryptographic Length"].value == 256
    assert by_name["Cryptographic Usage Mask"].value == 12
    assert by_name["Name"].name_value.value == "attrs"
    assert "Initial Date" in by_name and "Last Change Date" in by_name
    listed = client.get_attribute_list(uid)
    assert {"Name", "State", "Cryptographic Length"} <= set(listed)


def test_locate_finds_by_name_and_only_the_callers_objects(
    world: KmipWorld, client: Any, other: Tenant
) -> None:
    from kmip.core.factories.attributes import AttributeFactory

    unique = f"locate-{uuid.uuid4()}"
    uid = client.create(enums.CryptographicAlgorithm.AES, 256, name=unique)

    def name() -> Any:  # pykmip changes an attribute object it encoded for KMIP 2.0
        return AttributeFactory().create_attribute(enums.AttributeType.NAME, unique)

    assert client.locate(attributes=[name()]) == [uid]
    stranger = world.proxy(other.pair)
    try:
        assert stranger.locate(attributes=[name()]) == []
        assert uid not in stranger.locate()
    finally:
        stranger.close()


def test_another_accounts_certificate_cannot_see_or_use_the_key(
    world: KmipWorld, client: Any, other: Tenant
) -> None:
    uid = client.create(enums.CryptographicAlgorithm.AES, 256)
    client.activate(uid)
    stranger = world.proxy(other.pair)
    try:
        calls: list[Callable[[], object]] = [
            lambda: stranger.get(uid),
            lambda: stranger.get_attributes(uid),
            lambda: stranger.revoke(enums.RevocationReasonCode.KEY_COMPROMISE, uid),
            lambda: stranger.destroy(uid),
        ]
        for call in calls:
            with pytest.raises(KmipOperationFailure) as failure:
                call()
            assert failure.value.reason == enums.ResultReason.ITEM_NOT_FOUND
    finally:
        stranger.close()
    assert _state(client, uid) == enums.State.ACTIVE


def test_create_refuses_what_it_cannot_make(client: Any) -> None:
    cases = [
        (enums.CryptographicAlgorithm.AES, 128),
        (enums.CryptographicAlgorithm.TRIPLE_DES, 168),
    ]
    for algorithm, length in cases:
        with pytest.raises(KmipOperationFailure) as failure:
            client.create(algorithm, length)
        assert failure.value.reason == enums.ResultReason.INVALID_FIELD


def test_revoking_for_compromise_makes_it_compromised(client: Any) -> None:
    uid = client.create(enums.CryptographicAlgorithm.AES, 256)
    client.activate(uid)
    client.revoke(enums.RevocationReasonCode.KEY_COMPROMISE, uid)
    assert _state(client, uid) == enums.State.COMPROMISED
    with pytest.raises(KmipOperationFailure) as failure:
        client.activate(uid)
    assert failure.value.reason == enums.ResultReason.PERMISSION_DENIED


def test_the_kms_api_cannot_rotate_a_kmip_key(client: Any, tenant: Tenant) -> None:
    uid = client.create(enums.CryptographicAlgorithm.AES, 256)
    client.activate(uid)
    material = client.get(uid).value
    for call in (tenant.kms.enable_key_rotation, tenant.kms.rotate_key_on_demand):
        with pytest.raises(ClientError) as refused:
            call(KeyId=uid)
        assert refused.value.response["Error"]["Code"] == "UnsupportedOperationException"
    assert client.get(uid).value == material


def test_locate_by_state_and_object_type(client: Any) -> None:
    from kmip.core.factories.attributes import AttributeFactory

    factory = AttributeFactory()
    active = client.create(enums.CryptographicAlgorithm.AES, 256)
    client.activate(active)
    waiting = client.create(enums.CryptographicAlgorithm.AES, 256)

    def find(state: enums.State) -> list[str]:
        return list(
            client.locate(
                attributes=[
                    factory.create_attribute(enums.AttributeType.STATE, state),
                    factory.create_attribute(
                        enums.AttributeType.OBJECT_TYPE, enums.ObjectType.SYMMETRIC_KEY
                    ),
                ]
            )
        )

    found_active, found_waiting = find(enums.State.ACTIVE), find(enums.State.PRE_ACTIVE)
    assert active in found_active and active not in found_waiting
    assert waiting in found_waiting and waiting not in found_active
    assert client.locate(maximum_items=1) != client.locate(maximum_items=1, offset_items=1)
