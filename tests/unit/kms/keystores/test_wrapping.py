"""Import wrapping against the OpenSSL command line, both ways, and the imported-material ids."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from strongroom.kms.domain.enums import KeySpec
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.errors import (
    IncorrectKeyMaterialException,
    InvalidCiphertextException,
    KMSInternalException,
)
from strongroom.kms.keystores.software import SoftwareKeyStore
from strongroom.kms.keystores.wrapping import (
    check_private_key,
    new_wrapping_key,
    unwrap,
    wrap,
    wrapping_private_der,
    wrapping_public_key,
)
from tests.support.byok_openssl import private_key, random_bytes, wrap_for_import

ALGORITHMS = (
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
)
WRAPPING_KEY = new_wrapping_key(2048)
PRIVATE = wrapping_private_der(WRAPPING_KEY)
PUBLIC = wrapping_public_key(WRAPPING_KEY)


def _openssl(*args: str, stdin: bytes = b"") -> bytes:
    result = subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def openssl_unwrap(tmp: Path, algorithm: str, wrapped: bytes) -> bytes:
    """What a third party holding the private key recovers from our ``wrap`` output."""
    (tmp / "priv.der").write_bytes(PRIVATE)
    digest = "sha1" if algorithm.endswith("_SHA_1") else "sha256"
    oaep = ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", f"rsa_oaep_md:{digest}"]
    oaep += ["-pkeyopt", f"rsa_mgf1_md:{digest}"]
    decrypt = ["pkeyutl", "-decrypt", "-inkey", str(tmp / "priv.der"), "-keyform", "DER", *oaep]
    if algorithm.startswith("RSAES_OAEP_"):
        return _openssl(*decrypt, stdin=wrapped)
    aes_key = _openssl(*decrypt, stdin=wrapped[:256])
    (tmp / "wrapped.bin").write_bytes(wrapped[256:])
    return _openssl(
        "enc",
        "-d",
        "-id-aes256-wrap-pad",
        "-K",
        aes_key.hex(),
        "-iv",
        "A65959A6",
        "-in",
        str(tmp / "wrapped.bin"),
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_material_wrapped_by_openssl_unwraps(tmp_path: Path, algorithm: str) -> None:
    for material in (random_bytes(32), random_bytes(64)):
        wrapped = wrap_for_import(tmp_path, PUBLIC, algorithm, material)
        assert unwrap(PRIVATE, algorithm, wrapped) == material


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_our_wrapping_unwraps_with_openssl(tmp_path: Path, algorithm: str) -> None:
    material = secrets.token_bytes(48)
    assert openssl_unwrap(tmp_path, algorithm, wrap(PUBLIC, algorithm, material)) == material


def test_rsa_private_keys_need_the_hybrid_algorithms(tmp_path: Path) -> None:
    material = private_key(tmp_path, "RSA_2048")
    wrapped = wrap_for_import(tmp_path, PUBLIC, "RSA_AES_KEY_WRAP_SHA_256", material)
    assert unwrap(PRIVATE, "RSA_AES_KEY_WRAP_SHA_256", wrapped) == material
    with pytest.raises(ValueError):
        wrap(PUBLIC, "RSAES_OAEP_SHA_256", material)  # does not fit one OAEP block


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_unwrap_failure_is_one_error(algorithm: str) -> None:
    good = wrap(PUBLIC, algorithm, b"k" * 32)
    other = wrapping_private_der(new_wrapping_key(2048))
    hybrid = algorithm.startswith("RSA_AES")
    broken = [b"", b"\0" * 256, good[:-1], good[:-8] + bytes(8), good + b"\0"]
    for wrapped in broken:
        with pytest.raises(InvalidCiphertextException):
            unwrap(PRIVATE, algorithm, wrapped)
    with pytest.raises(InvalidCiphertextException):
        unwrap(other, algorithm, good)
    # The hash is part of the algorithm: SHA-1 material does not unwrap as SHA-256.
    other_hash = {"SHA_1": "SHA_256", "SHA_256": "SHA_1"}
    prefix, digest = algorithm.split("_SHA_")
    with pytest.raises(InvalidCiphertextException):
        unwrap(PRIVATE, f"{prefix}_{other_hash['SHA_' + digest]}", good)
    assert hybrid == (len(good) > 256)


@pytest.mark.parametrize(
    "spec",
    [
        "RSA_2048",
        "ECC_NIST_P256",
        "ECC_NIST_P384",
        "ECC_NIST_P521",
        "ECC_SECG_P256K1",
        "ECC_NIST_EDWARDS25519",
    ],
)
def test_private_keys_must_match_their_spec(tmp_path: Path, spec: str) -> None:
    material = private_key(tmp_path, spec)
    check_private_key(spec, material)
    others = {"RSA_3072", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_EDWARDS25519"} - {spec}
    for other in others:
        with pytest.raises(IncorrectKeyMaterialException):
            check_private_key(other, material)
    with pytest.raises(IncorrectKeyMaterialException):
        check_private_key(spec, material[:-1])


def test_imported_material_ids_are_keyed_and_bound_to_the_key() -> None:
    root, fingerprint = Secret(secrets.token_bytes(32)), Secret(secrets.token_bytes(32))
    store = SoftwareKeyStore("a" * 32, root, fingerprint_key=fingerprint)
    arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    material = secrets.token_bytes(32)
    material_id = store.imported_material_id(arn, material)
    assert len(material_id) == 64 and int(material_id, 16) >= 0
    assert store.imported_material_id(arn, material) == material_id
    # The id depends on the fingerprint key, not on the root key (a root key migration
    # keeps every material id).
    other_root = Secret(secrets.token_bytes(32))
    same_key = SoftwareKeyStore("a" * 32, other_root, fingerprint_key=fingerprint)
    assert same_key.imported_material_id(arn, material) == material_id
    assert store.imported_material_id(arn + "x", material) != material_id
    assert store.imported_material_id(arn, material[:-1] + b"\0") != material_id
    other_key = SoftwareKeyStore("a" * 32, root, fingerprint_key=Secret(secrets.token_bytes(32)))
    assert other_key.imported_material_id(arn, material) != material_id
    with pytest.raises(KMSInternalException):
        SoftwareKeyStore("a" * 32, root).imported_material_id(arn, material)
    import hashlib

    assert material_id != hashlib.sha256(material).hexdigest()
    # Imported material opens like generated material: the same cipher path.
    wrapped = store.import_material(arn, material_id, KeySpec.SYMMETRIC_DEFAULT, material)
    assert material not in wrapped
    cipher = store.open_material(arn, material_id, wrapped)
    nonce, sealed = cipher.encrypt(b"data", b"aad")
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    assert AESGCM(material).decrypt(nonce, sealed, b"aad") == b"data"


def test_the_pool_hands_out_each_key_once_and_refills_in_the_background() -> None:
    import time

    from strongroom.kms.keystores.wrapping import WrappingKeyPool

    pool = WrappingKeyPool(depth=1)
    assert pool.ready(2048) == 0
    first = pool.take(2048)  # nothing ready yet: made at once
    deadline = time.monotonic() + 30
    while pool.ready(2048) < 1:
        assert time.monotonic() < deadline, "the pool never refilled"
        time.sleep(0.01)
    second = pool.take(2048)
    assert pool.ready(2048) == 0
    assert first.key_size == second.key_size == 2048
    assert first.private_numbers() != second.private_numbers()
    assert pool.ready(3072) == 0  # sizes nobody asked for are not made


@pytest.mark.parametrize(
    "spec", ["ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ML_KEM_768", "ML_KEM_1024"]
)
def test_post_quantum_private_keys_must_match_their_spec(spec: str) -> None:
    # OpenSSL 3.0 has no ML-DSA/ML-KEM: `cryptography` makes the PKCS#8 keys here.
    from strongroom.kms.keystores.asymmetric import new_secret_material

    material = new_secret_material(spec)
    check_private_key(spec, material)
    for other in {"ML_DSA_44", "ML_DSA_65", "ML_KEM_768", "ECC_NIST_P256"} - {spec}:
        with pytest.raises(IncorrectKeyMaterialException):
            check_private_key(other, material)
