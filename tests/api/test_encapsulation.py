"""ML-KEM keys through boto3: Encapsulate, Decapsulate, GetPublicKey, data key pairs."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem

from tests.support.errors import aws_error

SPECS = ["ML_KEM_768", "ML_KEM_1024"]
PUBLIC_TYPES = (mlkem.MLKEM768PublicKey, mlkem.MLKEM1024PublicKey)
PRIVATE_TYPES = (mlkem.MLKEM768PrivateKey, mlkem.MLKEM1024PrivateKey)


def _kem_key(kms: Any, spec: str) -> dict[str, Any]:
    meta = kms.create_key(KeySpec=spec, KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"]
    return dict(meta)


@pytest.mark.parametrize("spec", SPECS)
def test_encapsulate_and_decapsulate(kms: Any, spec: str) -> None:
    meta = _kem_key(kms, spec)
    assert meta["EncapsulationAlgorithms"] == ["ML_KEM"]
    key_id = meta["KeyId"]
    out = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    assert len(out["SharedSecret"]) == 32 and out["EncapsulationAlgorithm"] == "ML_KEM"
    back = kms.decapsulate(
        KeyId=key_id,
        SharedSecretCiphertextBlob=out["SharedSecretCiphertextBlob"],
        EncapsulationAlgorithm="ML_KEM",
    )
    assert back["SharedSecret"] == out["SharedSecret"]


@pytest.mark.parametrize("spec", SPECS)
def test_offline_encapsulation_decapsulates(kms: Any, spec: str) -> None:
    """An independent party encapsulates with the exported public key; the server opens it."""
    key_id = _kem_key(kms, spec)["KeyId"]
    exported = kms.get_public_key(KeyId=key_id)
    assert exported["KeyUsage"] == "ENCAPSULATE_DECAPSULATE"
    assert exported["EncapsulationAlgorithms"] == ["ML_KEM"]
    public = serialization.load_der_public_key(exported["PublicKey"])
    assert isinstance(public, PUBLIC_TYPES)
    secret, ciphertext = public.encapsulate()
    back = kms.decapsulate(
        KeyId=key_id, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM"
    )
    assert back["SharedSecret"] == secret


def test_rules(kms: Any, key_id: str) -> None:
    kem = _kem_key(kms, "ML_KEM_768")["KeyId"]
    with aws_error("InvalidCiphertextException"):
        kms.decapsulate(
            KeyId=kem, SharedSecretCiphertextBlob=b"x" * 10, EncapsulationAlgorithm="ML_KEM"
        )
    with aws_error("InvalidKeyUsageException"):
        kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    with aws_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=kem, Plaintext=b"p")
    with aws_error("ValidationException"):
        kms.create_key(KeySpec="ML_KEM_768")
    with aws_error("UnsupportedOperationException"):
        kms.create_key(KeySpec="ML_KEM_512", KeyUsage="ENCAPSULATE_DECAPSULATE")
    with aws_error("DryRunOperationException"):
        kms.encapsulate(KeyId=kem, EncapsulationAlgorithm="ML_KEM", DryRun=True)


@pytest.mark.parametrize("spec", SPECS)
def test_data_key_pair(kms: Any, key_id: str, spec: str) -> None:
    out = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec=spec)
    private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
    public = serialization.load_der_public_key(out["PublicKey"])
    assert isinstance(private, PRIVATE_TYPES) and isinstance(public, PUBLIC_TYPES)
    secret, ciphertext = public.encapsulate()
    assert private.decapsulate(ciphertext) == secret
    opened = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"])["Plaintext"]
    assert opened == out["PrivateKeyPlaintext"]
