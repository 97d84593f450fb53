"""Operators: the provider's staff, each known only by an Ed25519 public key.

Operators are a realm of their own (tables ``gov_operators``/``gov_quorum``), not IAM users of
any tenant account: they have no access keys and cannot call the KMS API. What they can do,
they do through signed quorum proposals (``quorum.py``).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from strongroom.kms.audit.record import OPERATOR_PREFIX
from strongroom.kms.domain.governance import Operator
from strongroom.kms.governance.errors import GovernanceError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise GovernanceError(
            f"invalid operator name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-'"
        )
    return name


def operator_principal(name: str) -> str:
    """How an operator appears in audit records (never an IAM ARN: another realm)."""
    return OPERATOR_PREFIX + name


def fingerprint(public_key: bytes) -> str:
    """A short, printable identity of a public key (SHA-256, first 16 bytes, hex)."""
    return "SHA256:" + hashlib.sha256(public_key).hexdigest()[:32]


def verifies(operator: Operator, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is the operator's Ed25519 signature over ``message``."""
    try:
        Ed25519PublicKey.from_public_bytes(operator.public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public_key(path: Path) -> bytes:
    """The raw Ed25519 public key in a PEM (SubjectPublicKeyInfo) file."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as error:
        raise GovernanceError(f"cannot read public key {path}: {error.strerror}") from None
    except ValueError:
        raise GovernanceError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise GovernanceError(f"{path} is not an Ed25519 public key")
    return raw_public_key(key)


def parse_public_key(pem: str) -> bytes:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise GovernanceError("the public key is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise GovernanceError("the public key is not an Ed25519 public key")
    return raw_public_key(key)


def load_private_key(path: Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """An operator's private key file; refused if others may read it (like ssh does).

    A key written with a passphrase (``keygen --passphrase-file``) needs it; the passphrase
    never appears in a message.
    """
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as error:
        raise GovernanceError(f"cannot read private key {path}: {error.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise GovernanceError(
            f"private key {path} is accessible by others (mode {stat.S_IMODE(mode):o}); "
            "chmod 600 it"
        )
    encrypted = b"ENCRYPTED PRIVATE KEY" in data
    if encrypted and not passphrase:
        raise GovernanceError(
            f"{path} is protected by a passphrase; give it with --passphrase-file or "
            "--passphrase-env"
        )
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except (ValueError, TypeError):
        reason = "the passphrase is wrong" if encrypted else "it is not a PEM private key"
        raise GovernanceError(f"cannot open {path}: {reason}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise GovernanceError(f"{path} is not an Ed25519 private key")
    return key


def keygen(name: str, out_dir: Path, passphrase: bytes | None = None) -> tuple[Path, Path]:
    """Write NAME.key (PKCS#8 PEM, mode 0600) and NAME.pub.pem; never overwrite a file.

    With a passphrase the private key is encrypted (PKCS#8 PBES2, `cryptography`'s best
    available scheme), so a copied key file alone cannot approve anything.
    """
    check_name(name)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_path, public_path = out_dir / f"{name}.key", out_dir / f"{name}.pub.pem"
    for path in (private_path, public_path):
        if path.exists():
            raise GovernanceError(f"{path} exists already; not overwriting it")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # Created 0600 from the start (no window in which the file is readable by others).
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private_pem)
    public_path.write_bytes(public_pem)
    return private_path, public_path
