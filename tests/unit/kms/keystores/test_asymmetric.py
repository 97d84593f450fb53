"""Asymmetric and HMAC material in the software key store: generation, wrapping, handles."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hmac import HMAC

from strongroom.kms.domain.enums import KeySpec
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.errors import InvalidCiphertextException, KMSInternalException
from strongroom.kms.keystores.asymmetric import (
    AsymmetricMaterial,
    HmacMaterial,
    hmac_digest,
    new_key_pair,
)
from strongroom.kms.keystores.software import SoftwareKeyStore

ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MATERIAL = "aa" * 32
ROOT = bytes(range(32))

# RFC 4231 test cases 1, 2 and 6 (key, data, HMAC-SHA-224/256/384/512).
RFC_4231 = [
    (
        b"\x0b" * 20,
        b"Hi There",
        "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
        "faea9ea9076ede7f4af152e8b2fa9cb6",
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
    ),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
        "8e2240ca5e69e2c78b3239ecfab21649",
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
        "0c2ef6ab4030fe8296248df163f44952",
        "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
        "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
    ),
]


def _unwrap(wrapped: bytes, spec: KeySpec) -> bytes:
    """The documented wrapping (docs/formats.md), done independently of the store."""
    aad = b"\0".join(
        (
            b"strongroom/material/v1",
            b"store-1",
            ARN.encode(),
            MATERIAL.encode(),
            spec.value.encode(),
        )
    )
    return AESGCM(ROOT).decrypt(wrapped[:12], wrapped[12:], aad)


@pytest.fixture
def store() -> SoftwareKeyStore:
    return SoftwareKeyStore("store-1", Secret(ROOT))


@pytest.mark.parametrize("case", RFC_4231)
def test_rfc_4231_vectors(case: tuple[bytes, bytes, str, str, str, str]) -> None:
    key, data, *expected = case
    for hash_name, mac in zip(("sha224", "sha256", "sha384", "sha512"), expected, strict=True):
        assert hmac_digest(hash_name, key, data).hex() == mac


@pytest.mark.parametrize(
    ("spec", "length", "algorithm"),
    [
        (KeySpec.HMAC_224, 28, hashes.SHA224()),
        (KeySpec.HMAC_256, 32, hashes.SHA256()),
        (KeySpec.HMAC_384, 48, hashes.SHA384()),
        (KeySpec.HMAC_512, 64, hashes.SHA512()),
    ],
)
def test_hmac_material_against_cryptography(
    store: SoftwareKeyStore, spec: KeySpec, length: int, algorithm: hashes.HashAlgorithm
) -> None:
    wrapped = store.new_material(ARN, MATERIAL, spec)
    key = _unwrap(wrapped, spec)
    assert len(key) == length
    handle = store.open_handle(ARN, MATERIAL, wrapped, spec)
    assert isinstance(handle, HmacMaterial)
    reference = HMAC(key, algorithm)
    reference.update(b"message")
    mac = handle.mac(b"message")
    assert mac == reference.finalize()
    assert mac == hmac.new(key, b"message", getattr(hashlib, algorithm.name)).digest()
    assert handle.verify(b"message", mac) and not handle.verify(b"message", mac[:-1])
    assert "redacted" in repr(handle) and key.hex() not in repr(handle)


@pytest.mark.parametrize(
    "spec",
    [
        KeySpec.RSA_2048,
        KeySpec.ECC_NIST_P256,
        KeySpec.ECC_NIST_EDWARDS25519,
        KeySpec.ML_DSA_44,
        KeySpec.ML_KEM_768,
    ],
)
def test_private_keys_are_wrapped_pkcs8(store: SoftwareKeyStore, spec: KeySpec) -> None:
    wrapped = store.new_material(ARN, MATERIAL, spec)
    private = serialization.load_der_private_key(_unwrap(wrapped, spec), password=None)
    assert isinstance(
        private,
        rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey
        | mldsa.MLDSA44PrivateKey
        | mlkem.MLKEM768PrivateKey,
    )
    handle = store.open_handle(ARN, MATERIAL, wrapped, spec)
    assert isinstance(handle, AsymmetricMaterial)
    assert handle.public_key() == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_material_is_bound_to_its_spec(store: SoftwareKeyStore) -> None:
    wrapped = store.new_material(ARN, MATERIAL, KeySpec.HMAC_256)
    with pytest.raises(KMSInternalException):
        store.open_handle(ARN, MATERIAL, wrapped, KeySpec.HMAC_512)
    with pytest.raises(KMSInternalException):
        store.open_material(ARN, MATERIAL, wrapped)
    other = SoftwareKeyStore("store-1", Secret(os.urandom(32)))
    with pytest.raises(KMSInternalException):
        other.open_handle(ARN, MATERIAL, wrapped, KeySpec.HMAC_256)


def test_rsa_handle_oaep_and_pss() -> None:
    private_der, public_der = new_key_pair("RSA_2048")
    handle = AsymmetricMaterial.from_der(private_der)
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, rsa.RSAPublicKey)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    assert handle.decrypt("RSAES_OAEP_SHA_256", public.encrypt(b"p", oaep)) == b"p"
    with pytest.raises(InvalidCiphertextException):
        handle.decrypt("RSAES_OAEP_SHA_1", public.encrypt(b"p", oaep))
    signature = handle.sign("RSASSA_PSS_SHA_256", b"m", "RAW")
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    public.verify(signature, b"m", pss, hashes.SHA256())
    assert handle.verify("RSASSA_PSS_SHA_256", b"m", "RAW", signature)
    assert not handle.verify("RSASSA_PSS_SHA_256", b"n", "RAW", signature)
