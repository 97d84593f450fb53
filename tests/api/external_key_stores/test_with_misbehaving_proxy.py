"""The error paths of external key stores, against a proxy that breaks one rule at a time."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.external_key_stores.conftest import CLOSED, World
from tests.support.bad_xks_proxy import BadProxy


def code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def refused(call: Any, **request: Any) -> str:
    with pytest.raises(ClientError) as error:
        call(**request)
    return code(error)


def store_names(world: World) -> set[str]:
    stores = world.client().describe_custom_key_stores(Limit=100)["CustomKeyStores"]
    return {s["CustomKeyStoreName"] for s in stores}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("bad-auth", "XksProxyIncorrectAuthenticationCredentialException"),
        ("not-json", "XksProxyInvalidResponseException"),
        ("wrong-json", "XksProxyInvalidResponseException"),
        ("unavailable", "XksProxyUriUnreachableException"),
        ("slow", "XksProxyUriUnreachableException"),
        ("internal", "XksProxyInvalidConfigurationException"),
    ],
)
def test_creation_tests_the_proxy(world: World, bad: BadProxy, mode: str, expected: str) -> None:
    before = store_names(world)
    bad.mode = mode
    with pytest.raises(ClientError) as error:
        world.create_bad_store()
    assert code(error) == expected
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert store_names(world) == before  # nothing half-written
    # What went to the proxy was signed for kms-xks-proxy with the store's credential, for the
    # endpoint's host name (not the address dialled).
    path, headers, body = bad.requests[-1]
    assert path.endswith("/kms/xks/v1/health")
    assert "/kms-xks-proxy/aws4_request" in headers["Authorization"]
    assert "Credential=ABCDEFGHIJKLMNOPQRST/" in headers["Authorization"]
    assert headers["Host"] == "bad-proxy.test"
    assert body["requestMetadata"]["kmsOperation"] == "CreateCustomKeyStore"


def test_an_unreachable_proxy_and_vpc_connectivity(world: World) -> None:
    with pytest.raises(ClientError) as closed:
        world.create_store(CLOSED)
    assert code(closed) == "XksProxyUriUnreachableException"
    with pytest.raises(ClientError) as vpc:
        world.create_bad_store(
            XksProxyConnectivity="VPC_ENDPOINT_SERVICE",
            XksProxyVpcEndpointServiceName="com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
        )
    assert code(vpc) == "XksProxyVpcEndpointServiceNotFoundException"
    with pytest.raises(ClientError) as missing:
        world.create_bad_store(XksProxyConnectivity="VPC_ENDPOINT_SERVICE")
    assert code(missing) == "ValidationException"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("bad-auth", "XKS_PROXY_ACCESS_DENIED"),
        ("slow", "XKS_PROXY_TIMED_OUT"),
        ("wrong-json", "XKS_PROXY_INVALID_RESPONSE"),
        ("unavailable", "XKS_PROXY_NOT_REACHABLE"),
    ],
)
def test_connecting_fails_with_aws_codes(
    world: World, bad: BadProxy, mode: str, expected: str
) -> None:
    kms = world.client()
    store_id = world.create_bad_store()
    bad.mode = mode
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    entry = world.store(store_id)
    assert (entry["ConnectionState"], entry["ConnectionErrorCode"]) == ("FAILED", expected)
    bad.mode = "good"
    # A FAILED store is disconnected before it connects again (as AWS).
    assert refused(kms.connect_custom_key_store, CustomKeyStoreId=store_id) == (
        "CustomKeyStoreInvalidStateException"
    )
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    entry = world.store(store_id)
    assert entry["ConnectionState"] == "CONNECTED" and "ConnectionErrorCode" not in entry


def connected_bad_store(world: World) -> str:
    store_id = world.create_bad_store()
    world.client().connect_custom_key_store(CustomKeyStoreId=store_id)
    return store_id


@pytest.mark.parametrize(
    ("mode", "key", "expected"),
    [
        ("good", "unknown-key", "XksKeyNotFoundException"),
        ("disabled", "good-key", "XksKeyInvalidConfigurationException"),
        ("rsa", "good-key", "XksKeyInvalidConfigurationException"),
        ("slow", "good-key", "CustomKeyStoreInvalidStateException"),
    ],
)
def test_key_creation_asks_the_proxy(
    world: World, bad: BadProxy, mode: str, key: str, expected: str
) -> None:
    kms = world.client()
    store_id = connected_bad_store(world)
    before = len(kms.list_keys(Limit=1000)["Keys"])
    bad.mode = mode
    assert (
        refused(
            kms.create_key,
            CustomKeyStoreId=store_id,
            Origin="EXTERNAL_KEY_STORE",
            XksKeyId=key,
        )
        == expected
    )
    assert len(kms.list_keys(Limit=1000)["Keys"]) == before


def test_crypto_failures_are_kms_invalid_state(world: World, bad: BadProxy) -> None:
    kms = world.client()
    store_id = connected_bad_store(world)
    key_id = kms.create_key(
        CustomKeyStoreId=store_id, Origin="EXTERNAL_KEY_STORE", XksKeyId="good-key"
    )["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"payload")["CiphertextBlob"]
    sent = bad.requests[-1][2]
    assert sent["requestMetadata"]["kmsOperation"] == "Encrypt"
    assert sent["requestMetadata"]["kmsKeyArn"].endswith(key_id)
    assert sent["requestMetadata"]["awsPrincipalArn"].startswith("arn:aws:iam::")
    assert len(base64.b64decode(sent["additionalAuthenticatedData"])) == 32
    for mode in ("slow", "not-json", "wrong-json", "bad-auth", "disabled", "internal"):
        bad.mode = mode
        assert refused(kms.decrypt, CiphertextBlob=blob) == "KMSInvalidStateException", mode
        assert refused(kms.encrypt, KeyId=key_id, Plaintext=b"z") == ("KMSInvalidStateException"), (
            mode
        )
    bad.mode = "good"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"payload"
    # A changed outer layer is the one InvalidCiphertextException.
    tampered = blob[:-1] + bytes((blob[-1] ^ 1,))
    assert refused(kms.decrypt, CiphertextBlob=tampered) == "InvalidCiphertextException"
