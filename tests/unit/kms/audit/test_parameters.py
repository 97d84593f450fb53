"""Request parameters in audit records: an allow-list from botocore's model, no secrets."""

from __future__ import annotations

from strongroom.kms.audit.parameters import RequestParameters, operation_plans


def test_sensitive_and_blob_members_are_never_selected() -> None:
    select = RequestParameters().select
    assert select(
        "Encrypt",
        {
            "KeyId": "k",
            "Plaintext": b"secret",
            "EncryptionContext": {"a": "b"},
            "GrantTokens": ["t"],
        },
    ) == {"KeyId": "k", "EncryptionContext": {"a": "b"}, "GrantTokens": ["t"]}
    assert select("Decrypt", {"CiphertextBlob": b"c", "KeyId": "k"}) == {"KeyId": "k"}
    assert select(
        "ImportKeyMaterial",
        {"KeyId": "k", "ImportToken": b"t", "EncryptedKeyMaterial": b"m", "ExpirationModel": "X"},
    ) == {"KeyId": "k", "ExpirationModel": "X"}
    assert select(
        "CreateCustomKeyStore",
        {
            "CustomKeyStoreName": "s",
            "KeyStorePassword": "hunter2!",
            "XksProxyAuthenticationCredential": {"AccessKeyId": "a", "RawSecretAccessKey": "b"},
        },
    ) == {"CustomKeyStoreName": "s"}
    assert select(
        "GenerateDataKey",
        {
            "KeyId": "k",
            "Recipient": {
                "AttestationDocument": b"d",
                "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
            },
        },
    ) == {"KeyId": "k", "Recipient": {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}}


def test_no_plan_reaches_a_secret_member() -> None:
    plans = operation_plans()
    assert "Plaintext" not in plans["Encrypt"]
    assert "Message" not in plans["Sign"]
    assert "KeyStorePassword" not in plans["UpdateCustomKeyStore"]
    assert plans["CreateKey"]["Tags"] == ("items", {"TagKey": None, "TagValue": None})
    assert len(plans) >= 50
