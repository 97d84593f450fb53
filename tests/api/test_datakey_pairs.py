"""GenerateDataKeyPair(WithoutPlaintext) and DeriveSharedSecret through boto3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.api.test_signing import crypto_verify
from tests.support import openssl
from tests.support.errors import aws_error

PAIR_SPECS = [
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "ECC_NIST_EDWARDS25519",
]


@pytest.mark.parametrize("spec", PAIR_SPECS)
def test_pair(kms: Any, key_id: str, spec: str) -> None:
    context = {"purpose": "pair"}
    out = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec=spec, EncryptionContext=context)
    assert out["KeyPairSpec"] == spec
    private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
    public = serialization.load_der_public_key(out["PublicKey"])
    assert (
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == out["PublicKey"]
    )
    if spec.startswith("RSA_"):
        assert isinstance(public, rsa.RSAPublicKey) and public.key_size == int(spec[4:])
    elif spec == "ECC_NIST_EDWARDS25519":
        assert isinstance(public, ed25519.Ed25519PublicKey)
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
    # The encrypted private key is an ordinary ciphertext under the symmetric key.
    opened = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext=context)
    assert opened["Plaintext"] == out["PrivateKeyPlaintext"]
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"])


def test_without_plaintext(kms: Any, key_id: str) -> None:
    out = kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")
    assert "PrivateKeyPlaintext" not in out
    private_der = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"])["Plaintext"]
    private = serialization.load_der_private_key(private_der, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert (
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == out["PublicKey"]
    )


def test_offline_signature_with_the_pair(kms: Any, key_id: str, tmp_path: Path) -> None:
    """A signature made by OpenSSL with the exported private key checks with the public key."""
    out = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")
    signature = openssl.sign_with_private_key(
        tmp_path, out["PrivateKeyPlaintext"], "sha256", b"offline"
    )
    crypto_verify(out["PublicKey"], "ECDSA_SHA_256", b"offline", signature, digest=False)
    assert openssl.verify(
        tmp_path, out["PublicKey"], "ECDSA_SHA_256", b"offline", signature, digest=False
    )


def test_pair_rules(kms: Any) -> None:
    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    with aws_error("InvalidKeyUsageException"):
        kms.generate_data_key_pair(KeyId=hmac_key["KeyId"], KeyPairSpec="ECC_NIST_P256")
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    with aws_error("UnsupportedOperationException"):
        kms.generate_data_key_pair(KeyId=symmetric, KeyPairSpec="SM2")
    with aws_error("DryRunOperationException"):
        kms.generate_data_key_pair(KeyId=symmetric, KeyPairSpec="ECC_NIST_P256", DryRun=True)


CURVES = {
    "ECC_NIST_P256": ec.SECP256R1(),
    "ECC_NIST_P384": ec.SECP384R1(),
    "ECC_NIST_P521": ec.SECP521R1(),
}


@pytest.mark.parametrize("spec", sorted(CURVES))
def test_derive_shared_secret(kms: Any, spec: str) -> None:
    meta = kms.create_key(KeySpec=spec, KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    assert meta["KeyAgreementAlgorithms"] == ["ECDH"]
    key_id = meta["KeyId"]
    public = kms.get_public_key(KeyId=key_id)
    assert public["KeyAgreementAlgorithms"] == ["ECDH"]
    ours = serialization.load_der_public_key(public["PublicKey"])
    assert isinstance(ours, ec.EllipticCurvePublicKey)
    peer = ec.generate_private_key(CURVES[spec])
    peer_der = peer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    out = kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer_der)
    assert out["SharedSecret"] == peer.exchange(ec.ECDH(), ours)
    assert out["KeyAgreementAlgorithm"] == "ECDH" and out["KeyOrigin"] == "AWS_KMS"
    wrong_curve = (
        ec.generate_private_key(ec.SECP256K1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with aws_error("ValidationException"):
        kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=wrong_curve)
    with aws_error("InvalidKeyUsageException"):
        kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")


def test_derive_needs_a_key_agreement_key(kms: Any, key_id: str) -> None:
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    peer = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for target in (signing["KeyId"], key_id):
        with aws_error("InvalidKeyUsageException"):
            kms.derive_shared_secret(KeyId=target, KeyAgreementAlgorithm="ECDH", PublicKey=peer)
