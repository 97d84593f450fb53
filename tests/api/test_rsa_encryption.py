"""RSA ENCRYPT_DECRYPT keys: real RSAES-OAEP, interoperable with OpenSSL and ``cryptography``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support import openssl
from tests.support.errors import aws_error

ALGORITHMS = {"RSAES_OAEP_SHA_1": hashes.SHA1, "RSAES_OAEP_SHA_256": hashes.SHA256}
LIMITS = {
    ("RSA_2048", "RSAES_OAEP_SHA_1"): 214,
    ("RSA_2048", "RSAES_OAEP_SHA_256"): 190,
    ("RSA_3072", "RSAES_OAEP_SHA_1"): 342,
    ("RSA_3072", "RSAES_OAEP_SHA_256"): 318,
    ("RSA_4096", "RSAES_OAEP_SHA_1"): 470,
    ("RSA_4096", "RSAES_OAEP_SHA_256"): 446,
}
# One key per server (the shared server runs once on SQLite, once on PostgreSQL) and spec.
_keys: dict[tuple[str, str], str] = {}


def rsa_key(kms: Any, spec: str = "RSA_2048") -> str:
    slot = (kms.meta.endpoint_url, spec)
    if slot not in _keys:
        meta = kms.create_key(KeySpec=spec, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
        assert meta["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
        _keys[slot] = meta["KeyId"]
    return _keys[slot]


def _public(kms: Any, key_id: str) -> rsa.RSAPublicKey:
    out = kms.get_public_key(KeyId=key_id)
    assert out["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert out["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    public = serialization.load_der_public_key(out["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey)
    return public


def _oaep(algorithm: str) -> padding.OAEP:
    chosen = ALGORITHMS[algorithm]()
    return padding.OAEP(mgf=padding.MGF1(chosen), algorithm=chosen, label=None)


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_openssl_ciphertext_decrypts(kms: Any, tmp_path: Path, algorithm: str) -> None:
    key_id = rsa_key(kms)
    public_der = kms.get_public_key(KeyId=key_id)["PublicKey"]
    blob = openssl.oaep_encrypt(tmp_path, public_der, algorithm, b"made by openssl")
    out = kms.decrypt(CiphertextBlob=blob, KeyId=key_id, EncryptionAlgorithm=algorithm)
    assert out["Plaintext"] == b"made by openssl"
    assert out["EncryptionAlgorithm"] == algorithm
    assert out["KeyId"].endswith(key_id)


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_cryptography_ciphertext_decrypts(kms: Any, algorithm: str) -> None:
    key_id = rsa_key(kms)
    blob = _public(kms, key_id).encrypt(b"made offline", _oaep(algorithm))
    out = kms.decrypt(CiphertextBlob=blob, KeyId=key_id, EncryptionAlgorithm=algorithm)
    assert out["Plaintext"] == b"made offline"


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_round_trip_and_wrong_algorithm(kms: Any, algorithm: str) -> None:
    key_id = rsa_key(kms)
    out = kms.encrypt(KeyId=key_id, Plaintext=b"p", EncryptionAlgorithm=algorithm)
    assert out["EncryptionAlgorithm"] == algorithm and len(out["CiphertextBlob"]) == 256
    back = kms.decrypt(
        CiphertextBlob=out["CiphertextBlob"], KeyId=key_id, EncryptionAlgorithm=algorithm
    )
    assert back["Plaintext"] == b"p"
    other = next(a for a in ALGORITHMS if a != algorithm)
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=out["CiphertextBlob"], KeyId=key_id, EncryptionAlgorithm=other)


@pytest.mark.parametrize(("spec", "algorithm"), sorted(LIMITS))
def test_plaintext_limits(kms: Any, spec: str, algorithm: str) -> None:
    key_id = rsa_key(kms, spec)
    limit = LIMITS[spec, algorithm]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x" * limit, EncryptionAlgorithm=algorithm)[
        "CiphertextBlob"
    ]
    assert len(blob) == int(spec[4:]) // 8
    with aws_error("ValidationException"):
        kms.encrypt(KeyId=key_id, Plaintext=b"x" * (limit + 1), EncryptionAlgorithm=algorithm)


def test_rules(kms: Any, key_id: str) -> None:
    rsa_id = rsa_key(kms)
    with aws_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=rsa_id, Plaintext=b"p")  # SYMMETRIC_DEFAULT is not an RSA algorithm
    with aws_error("ValidationException"):
        kms.encrypt(
            KeyId=rsa_id,
            Plaintext=b"p",
            EncryptionAlgorithm="RSAES_OAEP_SHA_256",
            EncryptionContext={"a": "b"},
        )
    with aws_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=key_id, Plaintext=b"p", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    with aws_error("InvalidKeyUsageException"):
        kms.sign(KeyId=rsa_id, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    with aws_error("InvalidKeyUsageException"):
        kms.generate_data_key(KeyId=rsa_id, KeySpec="AES_256")
    with aws_error("ValidationException"):  # the key of a raw ciphertext must be named
        kms.decrypt(CiphertextBlob=b"x" * 256, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=b"x" * 256, KeyId=rsa_id, EncryptionAlgorithm="RSAES_OAEP_SHA_1")


def test_re_encrypt_between_symmetric_and_rsa(kms: Any, key_id: str) -> None:
    rsa_id = rsa_key(kms)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"moving")["CiphertextBlob"]
    to_rsa = kms.re_encrypt(
        CiphertextBlob=blob,
        DestinationKeyId=rsa_id,
        DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )
    assert to_rsa["DestinationEncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
    back = kms.re_encrypt(
        CiphertextBlob=to_rsa["CiphertextBlob"],
        SourceKeyId=rsa_id,
        SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
        DestinationKeyId=key_id,
    )
    assert kms.decrypt(CiphertextBlob=back["CiphertextBlob"])["Plaintext"] == b"moving"


def test_a_raw_ciphertext_is_required_like_ours(raw_kms: Any) -> None:
    """Naming an RSA algorithm changes how the key is found, not that the ciphertext is needed."""
    rsa_id = rsa_key(raw_kms)
    calls: tuple[Callable[[], object], ...] = (
        lambda: raw_kms.decrypt(KeyId=rsa_id, EncryptionAlgorithm="RSAES_OAEP_SHA_256"),
        lambda: raw_kms.re_encrypt(
            SourceKeyId=rsa_id,
            SourceEncryptionAlgorithm="RSAES_OAEP_SHA_1",
            DestinationKeyId=rsa_id,
            DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_1",
        ),
        lambda: raw_kms.decrypt(KeyId=rsa_id),
    )
    for call in calls:
        with aws_error("ValidationException", 400) as caught:
            call()
        assert caught.message == "CiphertextBlob is required."
    with aws_error("DryRunOperationException", 400):  # a dry run may ignore the ciphertext
        raw_kms.decrypt(
            KeyId=rsa_id,
            EncryptionAlgorithm="RSAES_OAEP_SHA_256",
            DryRun=True,
            DryRunModifiers=["IGNORE_CIPHERTEXT"],
        )
