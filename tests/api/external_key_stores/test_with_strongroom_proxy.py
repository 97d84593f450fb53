"""External key stores end to end: a Strongroom KMS using Strongroom's own XKS proxy (a second
server, SoftHSM behind it), driven with boto3 as AWS KMS clients drive AWS."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from strongroom.kms.domain import ciphertext
from strongroom.kms.domain.encryption_context import encode_context
from strongroom.kms.keystores.external.double_cipher import decode_outer
from tests.api.external_key_stores.conftest import PROXIES, World
from tests.support.xks import b64, unb64


def code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def connected_key(world: World, endpoint: str) -> tuple[Any, str, str]:
    kms = world.client()
    store_id = world.create_store(endpoint)
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    key_id = kms.create_key(
        CustomKeyStoreId=store_id, Origin="EXTERNAL_KEY_STORE", XksKeyId=world.tenant.key_id
    )["KeyMetadata"]["KeyId"]
    return kms, store_id, key_id


def test_an_external_key_store_is_described_without_its_secret(world: World) -> None:
    store_id = world.create_store(PROXIES[0])
    entry = world.store(store_id)
    assert entry["CustomKeyStoreType"] == "EXTERNAL_KEY_STORE"
    assert entry["ConnectionState"] == "DISCONNECTED"
    assert entry["XksProxyConfiguration"] == {
        "Connectivity": "PUBLIC_ENDPOINT",
        "AccessKeyId": world.tenant.xks.access_key_id,
        "UriEndpoint": PROXIES[0],
        "UriPath": world.tenant.xks.uri_path,
    }
    assert "CloudHsmClusterId" not in entry
    assert world.tenant.xks.secret not in json.dumps(entry, default=str)
    # Nor in the audit trail (the model marks the credential's secret sensitive).
    created = [
        e.request_parameters or {}
        for e in world.kms.audit.events
        if e.operation == "CreateCustomKeyStore" and e.error_code is None
    ]
    assert any(p.get("XksProxyUriEndpoint") == PROXIES[0] for p in created)
    assert world.tenant.xks.secret not in repr(world.kms.audit.events)
    # Keys need a connected store.
    with pytest.raises(ClientError) as refused:
        world.client().create_key(
            CustomKeyStoreId=store_id, Origin="EXTERNAL_KEY_STORE", XksKeyId=world.tenant.key_id
        )
    assert code(refused) == "CustomKeyStoreInvalidStateException"
    world.client().delete_custom_key_store(CustomKeyStoreId=store_id)


def test_keys_double_encrypt_through_the_proxy(world: World) -> None:
    kms, store_id, key_id = connected_key(world, PROXIES[1])
    assert world.store(store_id)["ConnectionState"] == "CONNECTED"
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["Origin"] == "EXTERNAL_KEY_STORE"
    assert meta["CustomKeyStoreId"] == store_id
    assert meta["XksKeyConfiguration"] == {"Id": world.tenant.key_id}
    assert meta["KeyState"] == "Enabled"

    context = {"purpose": "xks-test"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret data", EncryptionContext=context)[
        "CiphertextBlob"
    ]
    assert (
        kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == b"secret data"
    )
    with pytest.raises(ClientError) as wrong_context:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "other"})
    assert code(wrong_context) == "InvalidCiphertextException"

    # The outer layer is the external key's: the proxy alone undoes it, and finds under it
    # only the inner layer (Strongroom's material), never the plaintext.
    parsed = ciphertext.parse(blob)
    outer = decode_outer(parsed.sealed)
    aad = hashlib.sha256(parsed.header + encode_context(context)).digest()
    status, answer = world.tenant.xks.decrypt(
        world.tenant.key_id,
        {
            "ciphertext": b64(outer.ciphertext),
            "initializationVector": b64(outer.iv),
            "authenticationTag": b64(outer.tag),
        },
        aad,
    )
    assert status == 200
    inner = unb64(answer["plaintext"])
    assert len(inner) == len(b"secret data") + 16 and b"secret data" not in inner

    # The proxy's trail names the KMS key and the operation AWS KMS would send.
    events = [e for e in world.proxy.audit.events if e.operation in ("Encrypt", "Decrypt")]
    assert any(
        (e.additional_data or {}).get("kmsKeyArn") == meta["Arn"]
        and (e.additional_data or {}).get("kmsOperation") == "Encrypt"
        for e in events
    )

    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert (
        kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    )
    without = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=16)
    assert len(kms.decrypt(CiphertextBlob=without["CiphertextBlob"])["Plaintext"]) == 16

    default_key = kms.create_key()["KeyMetadata"]["KeyId"]
    moved = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext=context,
        DestinationKeyId=default_key,
    )["CiphertextBlob"]
    back = kms.re_encrypt(CiphertextBlob=moved, DestinationKeyId=key_id)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=back)["Plaintext"] == b"secret data"


def test_the_holder_of_the_external_key_cuts_the_kms_off(world: World) -> None:
    kms, _, key_id = connected_key(world, PROXIES[2])
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    tenant_api = world.tenant.extended_kms(world.proxy.endpoint)
    tenant_api.disable_xks_key(CustomKeyStoreId=world.tenant.store_id, XksKeyId=world.tenant.key_id)
    try:
        # The proxy's workers learn of it through its change feed (within a second).
        deadline = time.monotonic() + 2
        with pytest.raises(ClientError) as cut:
            while time.monotonic() < deadline:
                kms.decrypt(CiphertextBlob=blob)
                time.sleep(0.05)
        assert code(cut) == "KMSInvalidStateException"
        assert cut.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    finally:
        tenant_api.enable_xks_key(
            CustomKeyStoreId=world.tenant.store_id, XksKeyId=world.tenant.key_id
        )
    deadline = time.monotonic() + 2
    while True:
        try:
            assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
            break
        except ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_key_creation_checks_the_external_key(world: World) -> None:
    kms, store_id, key_id = connected_key(world, PROXIES[3])
    with pytest.raises(ClientError) as in_use:
        kms.create_key(
            CustomKeyStoreId=store_id, Origin="EXTERNAL_KEY_STORE", XksKeyId=world.tenant.key_id
        )
    assert code(in_use) == "XksKeyAlreadyInUseException"
    with pytest.raises(ClientError) as unknown:
        kms.create_key(CustomKeyStoreId=store_id, Origin="EXTERNAL_KEY_STORE", XksKeyId="nope")
    assert code(unknown) == "XksKeyNotFoundException"
    with pytest.raises(ClientError) as no_id:
        kms.create_key(CustomKeyStoreId=store_id, Origin="EXTERNAL_KEY_STORE")
    assert code(no_id) == "ValidationException"
    with pytest.raises(ClientError) as wrong_origin:
        kms.create_key(XksKeyId=world.tenant.key_id)
    assert code(wrong_origin) == "ValidationException"
    with pytest.raises(ClientError) as hsm_origin:
        kms.create_key(CustomKeyStoreId=store_id, Origin="AWS_CLOUDHSM")
    assert code(hsm_origin) == "UnsupportedOperationException"
    with pytest.raises(ClientError) as rotation:
        kms.enable_key_rotation(KeyId=key_id)
    assert code(rotation) == "UnsupportedOperationException"
    with pytest.raises(ClientError) as random:
        kms.generate_random(NumberOfBytes=8, CustomKeyStoreId=store_id)
    assert code(random) == "UnsupportedOperationException"
    # Nothing half-written: the refused requests made no keys.
    keys_in_store = [
        k
        for k in kms.list_keys(Limit=1000)["Keys"]
        if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"].get("CustomKeyStoreId") == store_id
    ]
    assert [k["KeyId"] for k in keys_in_store] == [key_id]


def test_disconnecting_makes_the_keys_unavailable(world: World) -> None:
    kms, store_id, key_id = connected_key(world, PROXIES[4])
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"y")["CiphertextBlob"]
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Unavailable"
    with pytest.raises(ClientError) as refused:
        kms.decrypt(CiphertextBlob=blob)
    assert code(refused) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as has_keys:
        kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert code(has_keys) == "CustomKeyStoreHasCMKsException"
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"y"


def test_update_rules(world: World) -> None:
    kms, store_id, _ = connected_key(world, PROXIES[5])
    # While connected: the name and the credential may change, not the endpoint.
    kms.update_custom_key_store(CustomKeyStoreId=store_id, NewCustomKeyStoreName="renamed-xks")
    with pytest.raises(ClientError) as endpoint:
        kms.update_custom_key_store(
            CustomKeyStoreId=store_id, XksProxyUriEndpoint="https://elsewhere.test"
        )
    assert code(endpoint) == "CustomKeyStoreInvalidStateException"
    with pytest.raises(ClientError) as wrong_secret:
        kms.update_custom_key_store(
            CustomKeyStoreId=store_id,
            XksProxyAuthenticationCredential={
                "AccessKeyId": world.tenant.xks.access_key_id,
                "RawSecretAccessKey": "b" * 43,
            },
        )
    assert code(wrong_secret) == "XksProxyIncorrectAuthenticationCredentialException"
    entry = world.store(store_id)
    assert entry["CustomKeyStoreName"] == "renamed-xks"
    assert entry["XksProxyConfiguration"]["UriEndpoint"] == PROXIES[5]
    with pytest.raises(ClientError) as uri_in_use:
        world.create_store(PROXIES[5])
    assert code(uri_in_use) == "XksProxyUriInUseException"
