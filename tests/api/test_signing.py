"""Sign, Verify and GetPublicKey through boto3; every signature also checked by OpenSSL's command
line and by ``cryptography`` with the exported public key."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from tests.support import openssl
from tests.support.errors import aws_error

RSA_ALGORITHMS = [
    f"RSASSA_{scheme}_SHA_{bits}" for scheme in ("PSS", "PKCS1_V1_5") for bits in (256, 384, 512)
]
ECC = {
    "ECC_NIST_P256": "ECDSA_SHA_256",
    "ECC_NIST_P384": "ECDSA_SHA_384",
    "ECC_NIST_P521": "ECDSA_SHA_512",
    "ECC_SECG_P256K1": "ECDSA_SHA_256",
}
# One key per server (the shared server runs once on SQLite, once on PostgreSQL) and spec.
_keys: dict[tuple[str, str], str] = {}
MESSAGE = b"the quick brown fox"


def signing_key(kms: Any, spec: str) -> str:
    """One SIGN_VERIFY key per spec for the session (RSA generation is slow)."""
    slot = (kms.meta.endpoint_url, spec)
    if slot not in _keys:
        meta = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
        _keys[slot] = meta["KeyId"]
    return _keys[slot]


def _hash(algorithm: str) -> hashes.HashAlgorithm:
    return {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[
        algorithm.rsplit("_", 1)[1]
    ]


def crypto_verify(
    public_der: bytes, algorithm: str, message: bytes, signature: bytes, digest: bool
) -> None:
    """Raise InvalidSignature unless ``cryptography`` accepts the signature."""
    public = serialization.load_der_public_key(public_der)
    if isinstance(public, ed25519.Ed25519PublicKey):
        public.verify(signature, message)
        return
    chosen = _hash(algorithm)
    hashing: Any = Prehashed(chosen) if digest else chosen
    if isinstance(public, rsa.RSAPublicKey):
        pad: Any = (
            padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
            if "PSS" in algorithm
            else padding.PKCS1v15()
        )
        public.verify(signature, message, pad, hashing)
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, message, ec.ECDSA(hashing))


def _digest(algorithm: str, message: bytes) -> bytes:
    return hashlib.new("sha" + algorithm.rsplit("_", 1)[1], message).digest()


def _check(kms: Any, tmp: Path, key_id: str, algorithm: str, message_type: str) -> None:
    digest = message_type == "DIGEST"
    message = _digest(algorithm, MESSAGE) if digest else MESSAGE
    out = kms.sign(
        KeyId=key_id, Message=message, MessageType=message_type, SigningAlgorithm=algorithm
    )
    assert out["SigningAlgorithm"] == algorithm
    signature = out["Signature"]
    public = kms.get_public_key(KeyId=key_id)["PublicKey"]
    crypto_verify(public, algorithm, message, signature, digest)
    assert openssl.verify(tmp, public, algorithm, message, signature, digest=digest)
    assert not openssl.verify(tmp, public, algorithm, message[:-1] + b"?", signature, digest=digest)
    verified = kms.verify(
        KeyId=key_id,
        Message=message,
        MessageType=message_type,
        Signature=signature,
        SigningAlgorithm=algorithm,
    )
    assert verified["SignatureValid"] is True and verified["SigningAlgorithm"] == algorithm
    with aws_error("KMSInvalidSignatureException"):
        kms.verify(
            KeyId=key_id,
            Message=message[:-1] + b"?",
            MessageType=message_type,
            Signature=signature,
            SigningAlgorithm=algorithm,
        )
    if algorithm != "ED25519_SHA_512":
        # A RAW signature verifies as DIGEST of the same message's hash, and vice versa.
        other = "RAW" if digest else "DIGEST"
        other_message = MESSAGE if digest else _digest(algorithm, MESSAGE)
        kms.verify(
            KeyId=key_id,
            Message=other_message,
            MessageType=other,
            Signature=signature,
            SigningAlgorithm=algorithm,
        )


@pytest.mark.parametrize("message_type", ["RAW", "DIGEST"])
@pytest.mark.parametrize("algorithm", RSA_ALGORITHMS)
def test_rsa(kms: Any, tmp_path: Path, algorithm: str, message_type: str) -> None:
    _check(kms, tmp_path, signing_key(kms, "RSA_2048"), algorithm, message_type)


@pytest.mark.parametrize("spec", ["RSA_3072", "RSA_4096"])
def test_larger_rsa_keys(kms: Any, tmp_path: Path, spec: str) -> None:
    key_id = signing_key(kms, spec)
    _check(kms, tmp_path, key_id, "RSASSA_PSS_SHA_512", "RAW")
    _check(kms, tmp_path, key_id, "RSASSA_PKCS1_V1_5_SHA_256", "DIGEST")
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == int(spec[4:])


@pytest.mark.parametrize("message_type", ["RAW", "DIGEST"])
@pytest.mark.parametrize("spec", sorted(ECC))
def test_ecdsa(kms: Any, tmp_path: Path, spec: str, message_type: str) -> None:
    _check(kms, tmp_path, signing_key(kms, spec), ECC[spec], message_type)


def test_ed25519(kms: Any, tmp_path: Path) -> None:
    key_id = signing_key(kms, "ECC_NIST_EDWARDS25519")
    _check(kms, tmp_path, key_id, "ED25519_SHA_512", "RAW")
    with aws_error("ValidationException"):
        kms.sign(
            KeyId=key_id,
            Message=hashlib.sha512(MESSAGE).digest(),
            MessageType="DIGEST",
            SigningAlgorithm="ED25519_SHA_512",
        )


def test_ecdsa_signatures_are_der(kms: Any) -> None:
    signature = kms.sign(
        KeyId=signing_key(kms, "ECC_NIST_P256"), Message=b"m", SigningAlgorithm="ECDSA_SHA_256"
    )["Signature"]
    assert signature[0] == 0x30 and signature[1] == len(signature) - 2


def test_pss_salt_is_the_hash_length(kms: Any) -> None:
    key_id = signing_key(kms, "RSA_2048")
    signature = kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_384")[
        "Signature"
    ]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(
        signature,
        b"m",
        padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48),
        hashes.SHA384(),
    )


def test_a_digest_is_never_hashed_again(kms: Any) -> None:
    key_id = signing_key(kms, "ECC_NIST_P256")
    digest = hashlib.sha256(MESSAGE).digest()
    signature = kms.sign(
        KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256"
    )["Signature"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, MESSAGE, ec.ECDSA(hashes.SHA256()))


def test_digest_length_must_match(kms: Any) -> None:
    key_id = signing_key(kms, "RSA_2048")
    for length in (31, 33, 48):
        with aws_error("ValidationException"):
            kms.sign(
                KeyId=key_id,
                Message=b"d" * length,
                MessageType="DIGEST",
                SigningAlgorithm="RSASSA_PSS_SHA_256",
            )


def test_get_public_key_and_metadata(kms: Any) -> None:
    key_id = signing_key(kms, "ECC_NIST_P384")
    out = kms.get_public_key(KeyId=key_id)
    assert out["KeySpec"] == "ECC_NIST_P384" and out["KeyUsage"] == "SIGN_VERIFY"
    assert out["SigningAlgorithms"] == ["ECDSA_SHA_384"]
    assert "EncryptionAlgorithms" not in out
    public = serialization.load_der_public_key(out["PublicKey"])
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp384r1"
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["SigningAlgorithms"] == ["ECDSA_SHA_384"]
    rsa_meta = kms.describe_key(KeyId=signing_key(kms, "RSA_2048"))["KeyMetadata"]
    assert rsa_meta["SigningAlgorithms"] == [
        "RSASSA_PSS_SHA_256",
        "RSASSA_PSS_SHA_384",
        "RSASSA_PSS_SHA_512",
        "RSASSA_PKCS1_V1_5_SHA_256",
        "RSASSA_PKCS1_V1_5_SHA_384",
        "RSASSA_PKCS1_V1_5_SHA_512",
    ]


def test_wrong_usage_and_algorithm(kms: Any, key_id: str) -> None:
    ecc = signing_key(kms, "ECC_NIST_P256")
    with aws_error("InvalidKeyUsageException"):
        kms.sign(KeyId=ecc, Message=b"m", SigningAlgorithm="ECDSA_SHA_384")
    with aws_error("InvalidKeyUsageException"):
        kms.sign(KeyId=ecc, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    with aws_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=ecc, Plaintext=b"m")
    with aws_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=ecc, Plaintext=b"m", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    with aws_error("InvalidKeyUsageException"):
        kms.generate_mac(KeyId=ecc, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    with aws_error("InvalidKeyUsageException"):
        kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    with aws_error("UnsupportedOperationException"):
        kms.get_public_key(KeyId=key_id)
    with aws_error("UnsupportedOperationException"):
        kms.enable_key_rotation(KeyId=ecc)


def test_create_key_combinations(kms: Any) -> None:
    for spec, usage in (
        ("ECC_NIST_P256", None),
        ("ECC_NIST_P256", "ENCRYPT_DECRYPT"),
        ("ECC_SECG_P256K1", "KEY_AGREEMENT"),
        ("ECC_NIST_EDWARDS25519", "KEY_AGREEMENT"),
        ("RSA_2048", "KEY_AGREEMENT"),
        ("RSA_2048", "GENERATE_VERIFY_MAC"),
        ("SYMMETRIC_DEFAULT", "SIGN_VERIFY"),
    ):
        with aws_error("ValidationException"):
            kms.create_key(KeySpec=spec, **({"KeyUsage": usage} if usage else {}))
    with aws_error("UnsupportedOperationException"):
        kms.create_key(KeySpec="SM2", KeyUsage="SIGN_VERIFY")
    with aws_error("UnsupportedOperationException"):
        kms.create_key(KeySpec="ML_KEM_512", KeyUsage="ENCAPSULATE_DECAPSULATE")


def test_grants_take_signing_operations(kms: Any) -> None:
    key_id = signing_key(kms, "ECC_NIST_P256")
    grantee = "arn:aws:iam::111122223333:user/signer"
    kms.create_grant(
        KeyId=key_id, GranteePrincipal=grantee, Operations=["Sign", "Verify", "GetPublicKey"]
    )
    with aws_error("ValidationException"):
        kms.create_grant(KeyId=key_id, GranteePrincipal=grantee, Operations=["Decrypt"])


ML_DSA_PUBLIC = (mldsa.MLDSA44PublicKey, mldsa.MLDSA65PublicKey, mldsa.MLDSA87PublicKey)


@pytest.mark.parametrize("spec", ["ML_DSA_44", "ML_DSA_65", "ML_DSA_87"])
def test_ml_dsa(kms: Any, spec: str) -> None:
    key_id = signing_key(kms, spec)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["SigningAlgorithms"] == ["ML_DSA_SHAKE_256"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public, ML_DSA_PUBLIC)
    signature = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ML_DSA_SHAKE_256")[
        "Signature"
    ]
    public.verify(signature, MESSAGE)  # pure ML-DSA, empty context (FIPS 204)
    kms.verify(
        KeyId=key_id, Message=MESSAGE, Signature=signature, SigningAlgorithm="ML_DSA_SHAKE_256"
    )
    # EXTERNAL_MU: mu = SHAKE256(SHAKE256(pk, 64) || 0 || len(ctx)=0 || M, 64), computed here.
    tr = hashlib.shake_256(public.public_bytes_raw()).digest(64)
    mu = hashlib.shake_256(tr + b"\x00\x00" + MESSAGE).digest(64)
    over_mu = kms.sign(
        KeyId=key_id, Message=mu, MessageType="EXTERNAL_MU", SigningAlgorithm="ML_DSA_SHAKE_256"
    )["Signature"]
    public.verify(over_mu, MESSAGE)
    kms.verify(
        KeyId=key_id,
        Message=mu,
        MessageType="EXTERNAL_MU",
        Signature=signature,
        SigningAlgorithm="ML_DSA_SHAKE_256",
    )
    with aws_error("KMSInvalidSignatureException"):
        kms.verify(
            KeyId=key_id, Message=b"other", Signature=signature, SigningAlgorithm="ML_DSA_SHAKE_256"
        )
    for message_type, message in (("DIGEST", mu[:32]), ("EXTERNAL_MU", mu[:32])):
        with aws_error("ValidationException"):
            kms.sign(
                KeyId=key_id,
                Message=message,
                MessageType=message_type,
                SigningAlgorithm="ML_DSA_SHAKE_256",
            )


def test_external_mu_is_for_ml_dsa_only(kms: Any) -> None:
    with aws_error("ValidationException"):
        kms.sign(
            KeyId=signing_key(kms, "ECC_NIST_P256"),
            Message=b"m" * 64,
            MessageType="EXTERNAL_MU",
            SigningAlgorithm="ECDSA_SHA_256",
        )
