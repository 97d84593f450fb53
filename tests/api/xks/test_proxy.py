"""Strongroom as an XKS proxy: AWS KMS's requests (botocore's SigV4 signer, service
``kms-xks-proxy``) against a live server whose external keys live in SoftHSM2 tokens."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest

from strongroom.kms.keystores.pkcs11 import TokenConnection
from tests.support import metrics
from tests.support.metrics import scrape
from tests.support.servers import InProcessServer
from tests.support.xks import Tenant, XksClient, admin, b64, metadata, unb64


def _until(condition: Any, limit: float = 2.0) -> float:
    """Seconds until ``condition()`` holds (fails after ``limit``)."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < limit, "not effective in time"
        time.sleep(0.02)
    return time.monotonic() - start


def test_health_is_a_deep_check_of_every_token(tenant: Tenant) -> None:
    status, body = tenant.xks.health()
    assert status == 200
    assert body["xksProxyFleetSize"] == 1
    assert body["xksProxyVendor"] == "Strongroom" and body["ekmVendor"]
    assert [(e["id"], e["healthStatus"]) for e in body["ekmFleetDetails"]] == [
        (token.label, "ACTIVE") for token in tenant.cluster.tokens
    ]


def test_key_metadata_is_an_enabled_aes_256_key(tenant: Tenant) -> None:
    assert tenant.xks.key_metadata(tenant.key_id) == (
        200,
        {"keySpec": "AES_256", "keyUsage": ["ENCRYPT", "DECRYPT"], "keyStatus": "ENABLED"},
    )


def test_encrypt_then_decrypt_with_aad_and_integrity_value(tenant: Tenant) -> None:
    plaintext, aad = b"\x00data key\xff" * 400, b"kms-header" * 800  # 4,400 and 8,000 bytes
    status, out = tenant.xks.encrypt(tenant.key_id, plaintext, aad, cdiv=True)
    assert status == 200, out
    ciphertext, iv, tag = (
        unb64(out[k]) for k in ("ciphertext", "initializationVector", "authenticationTag")
    )
    assert len(ciphertext) == len(plaintext) and ciphertext != plaintext
    assert len(iv) == 12 and len(tag) == 16 and "ciphertextMetadata" not in out
    assert (
        unb64(out["ciphertextDataIntegrityValue"])
        == hashlib.sha256(aad + iv + ciphertext + tag).digest()
    )
    assert tenant.xks.decrypt(tenant.key_id, out, aad) == (200, {"plaintext": b64(plaintext)})
    status, again = tenant.xks.encrypt(tenant.key_id, plaintext, aad)
    assert status == 200 and again["initializationVector"] != out["initializationVector"]
    assert "ciphertextDataIntegrityValue" not in again


def test_no_aad_and_empty_plaintext(tenant: Tenant) -> None:
    status, out = tenant.xks.encrypt(tenant.key_id, b"")
    assert status == 200 and out["ciphertext"] == ""
    assert tenant.xks.decrypt(tenant.key_id, out) == (200, {"plaintext": ""})


def _flip(encrypted: dict[str, Any], name: str) -> str:
    """The member with its first bit flipped."""
    raw = unb64(encrypted[name])
    return b64(bytes([raw[0] ^ 1]) + raw[1:])


@pytest.mark.parametrize(
    "change",
    ["other aad", "no aad", "tag", "iv", "ciphertext", "metadata", "16-byte iv"],
)
def test_anything_changed_is_an_invalid_ciphertext(tenant: Tenant, change: str) -> None:
    aad = b"project=nile,department=marketing"
    status, out = tenant.xks.encrypt(tenant.key_id, b"Hello World!", aad)
    assert status == 200
    aad_used: bytes | None = aad
    extra: dict[str, str] = {}
    if change == "other aad":
        aad_used = b"project=nile,department=sales"
    elif change == "no aad":
        aad_used = None
    elif change == "tag":
        extra["authenticationTag"] = _flip(out, "authenticationTag")
    elif change == "iv":
        extra["initializationVector"] = _flip(out, "initializationVector")
    elif change == "ciphertext":
        extra["ciphertext"] = _flip(out, "ciphertext")
    elif change == "metadata":
        extra["ciphertextMetadata"] = b64(b"key_version=1")
    else:
        extra["initializationVector"] = b64(unb64(out["initializationVector"]) + b"\0" * 4)
    status, body = tenant.xks.decrypt(tenant.key_id, out, aad_used, **extra)
    assert (status, body["errorName"]) == (400, "InvalidCiphertextException")
    assert "plaintext" not in body


def test_aad_cannot_be_moved_into_ciphertext_metadata(tenant: Tenant) -> None:
    """The lengths in the GCM AAD keep AAD and ciphertextMetadata apart (the spec's NOTE)."""
    status, out = tenant.xks.encrypt(tenant.key_id, b"secret", b"context" + b"key_version=1")
    assert status == 200
    moved = {"ciphertextMetadata": b64(b"key_version=1")}
    status, body = tenant.xks.decrypt(tenant.key_id, out, b"context", **moved)
    assert (status, body["errorName"]) == (400, "InvalidCiphertextException")
    status, out = tenant.xks.encrypt(tenant.key_id, b"secret")
    status, body = tenant.xks.decrypt(tenant.key_id, out, None, ciphertextMetadata="")
    assert status == 200  # an empty metadata is no metadata


def test_get_is_method_not_allowed(tenant: Tenant) -> None:
    status, _ = tenant.xks.call("health", b"", method="GET")
    assert status == 405
    status, _ = tenant.xks.call(f"keys/{tenant.key_id}/encrypt", b"", method="GET", sign=False)
    assert status == 405


@pytest.mark.parametrize(
    ("suffix", "body", "expected"),
    [
        ("keys/nope/encrypt", None, (404, "KeyNotFoundException")),
        ("keys/x/sign", None, (404, "InvalidUriPathException")),
        (
            "keys/KEY/encrypt",
            {"plaintext": "AA==", "encryptionAlgorithm": "AES_GCM"},
            (400, "ValidationException"),
        ),
        (
            "keys/KEY/encrypt",
            {
                "requestMetadata": metadata(),
                "plaintext": "not base64!",
                "encryptionAlgorithm": "AES_GCM",
            },
            (400, "ValidationException"),
        ),
        (
            "keys/KEY/encrypt",
            {"requestMetadata": metadata(), "plaintext": "AA==", "encryptionAlgorithm": "AES_CBC"},
            (400, "ValidationException"),
        ),
        (
            "keys/KEY/encrypt",
            {
                "requestMetadata": {"kmsRequestId": "r", "kmsOperation": "Encrypt"},
                "plaintext": "AA==",
                "encryptionAlgorithm": "AES_GCM",
            },
            (400, "ValidationException"),
        ),
        (
            "keys/KEY/encrypt",
            {
                "requestMetadata": metadata(),
                "plaintext": b64(bytes(16_385)),
                "encryptionAlgorithm": "AES_GCM",
            },
            (501, "UnsupportedOperationException"),
        ),
        (
            "keys/KEY/decrypt",
            {
                "requestMetadata": metadata("Decrypt"),
                "ciphertext": "AA==",
                "initializationVector": b64(bytes(12)),
                "authenticationTag": b64(bytes(15)),
                "encryptionAlgorithm": "AES_GCM",
            },
            (400, "ValidationException"),
        ),
        ("keys/KEY/metadata", [], (400, "ValidationException")),
    ],
    ids=[
        "unknown key",
        "bad path",
        "no metadata",
        "bad base64",
        "other algorithm",
        "no principal",
        "too long",
        "short tag",
        "not an object",
    ],
)
def test_errors_as_the_spec_names_them(
    tenant: Tenant, suffix: str, body: Any, expected: tuple[int, str]
) -> None:
    if body is None:
        body = {
            "requestMetadata": metadata(),
            "plaintext": "AA==",
            "encryptionAlgorithm": "AES_GCM",
        }
    status, answer = tenant.xks.call(suffix.replace("KEY", tenant.key_id), body)
    assert (status, answer["errorName"]) == expected
    assert set(answer) == {"errorName", "errorMessage"}
    assert all(" " <= c <= "~" for c in answer["errorMessage"])


def test_a_request_kms_has_not_signed_is_refused(tenant: Tenant) -> None:
    wrong = XksClient(tenant.xks.endpoint, tenant.xks.uri_path, tenant.xks.access_key_id, "x" * 44)
    unknown = XksClient(tenant.xks.endpoint, tenant.xks.uri_path, "A" * 24, tenant.xks.secret)
    for client in (wrong, unknown):
        status, body = client.encrypt(tenant.key_id, b"data")
        assert (status, body["errorName"]) == (401, "AuthenticationFailedException")
        assert tenant.xks.secret not in body["errorMessage"]
    status, body = tenant.xks.call(
        f"keys/{tenant.key_id}/metadata", {"requestMetadata": metadata()}, sign=False
    )
    assert (status, body["errorName"]) == (401, "AuthenticationFailedException")


def test_another_accounts_credentials_cannot_use_the_key(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    # Its credentials on this store's path: not this store's credentials.
    trespasser = XksClient(
        tenant.xks.endpoint,
        tenant.xks.uri_path,
        other_tenant.xks.access_key_id,
        other_tenant.xks.secret,
    )
    status, body = trespasser.encrypt(tenant.key_id, b"data")
    assert (status, body["errorName"]) == (401, "AuthenticationFailedException")
    # On its own path, this key does not exist.
    status, body = other_tenant.xks.encrypt(tenant.key_id, b"data")
    assert (status, body["errorName"]) == (404, "KeyNotFoundException")
    # And its own key works for it.
    assert other_tenant.xks.encrypt(other_tenant.key_id, b"data")[0] == 200


def test_disabling_the_key_cuts_aws_off_within_a_second(
    server: InProcessServer, tenant: Tenant
) -> None:
    status, sealed = tenant.xks.encrypt(tenant.key_id, b"data key")
    assert status == 200
    admin(server, "xks", "disable-key", "--custom-key-store", tenant.store_id, tenant.key_id)
    try:
        took = _until(lambda: tenant.xks.encrypt(tenant.key_id, b"x")[0] != 200)
        assert took < 2.0
        status, body = tenant.xks.decrypt(tenant.key_id, sealed)
        assert (status, body["errorName"]) == (400, "InvalidStateException")
        assert tenant.xks.key_metadata(tenant.key_id)[1]["keyStatus"] == "DISABLED"
    finally:
        admin(server, "xks", "enable-key", "--custom-key-store", tenant.store_id, tenant.key_id)
    _until(lambda: tenant.xks.decrypt(tenant.key_id, sealed)[0] == 200)


def test_revoked_credentials_stop_working_within_a_second(
    server: InProcessServer, tenant: Tenant
) -> None:
    configuration = admin(server, "xks", "create-credential", "--custom-key-store", tenant.store_id)
    second = XksClient.from_configuration(server.endpoint, configuration)
    assert second.encrypt(tenant.key_id, b"x")[0] == 200  # two credentials at once (rotation)
    listed = admin(server, "xks", "list-credentials", "--custom-key-store", tenant.store_id)
    assert second.access_key_id in [c["AccessKeyId"] for c in listed]
    assert "RawSecretAccessKey" not in str(listed) and second.secret not in str(listed)
    admin(server, "xks", "delete-credential", second.access_key_id)
    _until(lambda: second.encrypt(tenant.key_id, b"x")[0] == 401)
    assert tenant.xks.encrypt(tenant.key_id, b"x")[0] == 200


def test_disconnecting_the_store_cuts_every_key_off(tenant: Tenant) -> None:
    status, sealed = tenant.xks.encrypt(tenant.key_id, b"data key")
    assert status == 200
    tenant.kms.disconnect_custom_key_store(CustomKeyStoreId=tenant.store_id)
    try:
        status, body = tenant.xks.decrypt(tenant.key_id, sealed)
        assert (status, body["errorName"]) == (400, "InvalidStateException")
        status, health = tenant.xks.health()
        assert status == 200
        assert {e["healthStatus"] for e in health["ekmFleetDetails"]} == {"UNAVAILABLE"}
    finally:
        tenant.kms.connect_custom_key_store(CustomKeyStoreId=tenant.store_id)
    assert tenant.xks.decrypt(tenant.key_id, sealed) == (200, {"plaintext": b64(b"data key")})


def test_the_key_is_non_extractable_in_every_token(tenant: Tenant) -> None:
    label = f"strongroom-xks/{tenant.store_id}/{tenant.key_id}"
    for token in tenant.cluster.tokens:
        connection = TokenConnection.open(token.module, token.label, token.pin)
        try:
            key = connection.find_aes_key(label)
            assert key is not None
            attributes = connection.attributes(key)
            assert attributes.sensitive and not attributes.extractable
        finally:
            connection.close()


def test_key_access_is_in_the_tenants_trail(server: InProcessServer, tenant: Tenant) -> None:
    plaintext = b"never in the trail"
    before = len(server.audit.events)
    request = metadata("GenerateDataKey", kmsViaService="ebs")
    status, _ = tenant.xks.call(
        f"keys/{tenant.key_id}/encrypt",
        {"requestMetadata": request, "plaintext": b64(plaintext), "encryptionAlgorithm": "AES_GCM"},
    )
    assert status == 200
    tenant.xks.decrypt(
        tenant.key_id,
        {
            "ciphertext": "AA==",
            "initializationVector": b64(bytes(12)),
            "authenticationTag": b64(bytes(16)),
        },
    )
    events = [e for e in server.audit.events[before:] if e.event_source == "kms-xks-proxy"]
    account = tenant.kms.describe_custom_key_stores(CustomKeyStoreId=tenant.store_id)
    assert account["CustomKeyStores"]
    encrypt, decrypt = events[-2:]
    assert (encrypt.operation, encrypt.error_code) == ("Encrypt", None)
    assert (decrypt.operation, decrypt.error_code) == ("Decrypt", "InvalidCiphertextException")
    assert encrypt.principal_arn == request["awsPrincipalArn"]
    assert encrypt.access_key_id == tenant.xks.access_key_id
    assert encrypt.resources[0].endswith(f":xks-key/{tenant.store_id}/{tenant.key_id}")
    assert encrypt.resources[0].split(":")[4] == encrypt.account_id == server.admin_key.account_id
    assert encrypt.additional_data is not None
    assert encrypt.additional_data["kmsRequestId"] == request["kmsRequestId"]
    assert encrypt.additional_data["kmsViaService"] == "ebs"
    for event in (encrypt, decrypt):
        text = repr(event)
        assert b64(plaintext) not in text and "never in the trail" not in text
        assert tenant.xks.secret not in text


def test_xks_requests_are_counted_in_the_node_metrics(
    server: InProcessServer, tenant: Tenant
) -> None:
    before = scrape(server.endpoint)
    assert tenant.xks.key_metadata(tenant.key_id)[0] == 200
    assert tenant.xks.call("health", b"", method="GET")[0] == 405
    after = scrape(server.endpoint)

    def gained(**labels: str) -> float:
        return metrics.gained(before, after, "strongroom_requests_total", **labels)

    assert gained(service="xks", operation="metadata", code="OK") == 1
    # The spec's 405 carries the error name ValidationException; the method came first.
    assert gained(service="xks", operation="unknown", code="ValidationException") == 1
    assert gained(service="kms") == 0
