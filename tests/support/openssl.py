"""Independent checks with the OpenSSL command line (the public key exported by GetPublicKey)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _run(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], capture_output=True, check=False, timeout=60)


def _files(tmp: Path, public_key: bytes, message: bytes, signature: bytes) -> tuple[str, str, str]:
    (tmp / "pub.der").write_bytes(public_key)
    (tmp / "msg").write_bytes(message)
    (tmp / "sig").write_bytes(signature)
    return str(tmp / "pub.der"), str(tmp / "msg"), str(tmp / "sig")


def _rsa_options(algorithm: str, flag: str) -> list[str]:
    if algorithm.startswith("RSASSA_PSS_"):
        return [flag, "rsa_padding_mode:pss", flag, "rsa_pss_saltlen:digest"]
    return []


def verify(
    tmp: Path, public_key: bytes, algorithm: str, message: bytes, signature: bytes, *, digest: bool
) -> bool:
    """``openssl dgst -verify`` for RAW messages, ``openssl pkeyutl -verify`` for digests."""
    pub, msg, sig = _files(tmp, public_key, message, signature)
    if algorithm == "ED25519_SHA_512":
        args = ["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pub, "-rawin"]
        return _run([*args, "-in", msg, "-sigfile", sig]).returncode == 0
    hash_name = "sha" + algorithm.rsplit("_", 1)[1]
    if digest:
        args = ["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pub]
        args += ["-pkeyopt", f"digest:{hash_name}", *_rsa_options(algorithm, "-pkeyopt")]
        return _run([*args, "-in", msg, "-sigfile", sig]).returncode == 0
    args = ["dgst", f"-{hash_name}", "-keyform", "DER", "-verify", pub, "-signature", sig]
    return _run([*args, *_rsa_options(algorithm, "-sigopt"), msg]).returncode == 0


def oaep_encrypt(tmp: Path, public_key: bytes, algorithm: str, plaintext: bytes) -> bytes:
    """``openssl pkeyutl -encrypt`` with RSAES-OAEP (MGF1 with the same hash)."""
    (tmp / "pub.der").write_bytes(public_key)
    (tmp / "plain").write_bytes(plaintext)
    hash_name = "sha1" if algorithm.endswith("SHA_1") else "sha256"
    result = _run(
        [
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-keyform",
            "DER",
            "-inkey",
            str(tmp / "pub.der"),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            f"rsa_oaep_md:{hash_name}",
            "-pkeyopt",
            f"rsa_mgf1_md:{hash_name}",
            "-in",
            str(tmp / "plain"),
        ]
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def sign_with_private_key(tmp: Path, private_key: bytes, hash_name: str, message: bytes) -> bytes:
    """``openssl dgst -sign`` with a PKCS#8 DER private key (a data key pair's)."""
    (tmp / "priv.der").write_bytes(private_key)
    (tmp / "msg").write_bytes(message)
    result = _run(
        [
            "dgst",
            f"-{hash_name}",
            "-keyform",
            "DER",
            "-sign",
            str(tmp / "priv.der"),
            str(tmp / "msg"),
        ]
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout
