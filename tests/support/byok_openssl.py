"""BYOK with the OpenSSL command line as the independent party: the steps of AWS's guide.

``wrap_for_import`` wraps key material for ImportKeyMaterial exactly as the guide's OpenSSL
commands do; ``private_key`` makes a PKCS#8 DER private key with ``openssl genpkey``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.openssl import oaep_encrypt

_GENPKEY = {
    "RSA_2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "RSA_3072": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
    "ECC_NIST_P256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "ECC_NIST_P384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "ECC_NIST_P521": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
    "ECC_SECG_P256K1": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"],
    "ECC_NIST_EDWARDS25519": ["-algorithm", "ED25519"],
}


def _openssl(*args: str) -> bytes:
    result = subprocess.run(["openssl", *args], capture_output=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def random_bytes(count: int) -> bytes:
    """Key material from ``openssl rand``, as the guide makes it."""
    return _openssl("rand", str(count))


def private_key(tmp: Path, spec: str) -> bytes:
    """A private key of a KMS key spec, PKCS#8 DER (``openssl genpkey`` then ``pkcs8``)."""
    pem = tmp / f"{spec}.pem"
    _openssl("genpkey", *_GENPKEY[spec], "-out", str(pem))
    return _openssl("pkcs8", "-topk8", "-nocrypt", "-in", str(pem), "-outform", "DER")


def wrap_for_import(tmp: Path, public_key: bytes, algorithm: str, material: bytes) -> bytes:
    """EncryptedKeyMaterial for ImportKeyMaterial, made by ``openssl`` alone.

    RSAES_OAEP_*: ``openssl pkeyutl -encrypt`` with OAEP. RSA_AES_KEY_WRAP_*: a random AES-256
    key from ``openssl rand``, encrypted with OAEP, followed by the material wrapped under it
    with ``openssl enc -id-aes256-wrap-pad`` (RFC 5649).
    """
    oaep = algorithm.replace("RSA_AES_KEY_WRAP_", "RSAES_OAEP_")
    if algorithm.startswith("RSAES_OAEP_"):
        return oaep_encrypt(tmp, public_key, oaep, material)
    aes_key = random_bytes(32)
    (tmp / "material.bin").write_bytes(material)
    wrapped_material = _openssl(
        "enc",
        "-id-aes256-wrap-pad",
        "-K",
        aes_key.hex(),
        "-iv",
        "A65959A6",
        "-in",
        str(tmp / "material.bin"),
    )
    return oaep_encrypt(tmp, public_key, oaep, aes_key) + wrapped_material
