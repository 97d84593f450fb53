"""Import wrapping (BYOK): RSA wrapping keys, wrapping on the client, unwrapping in the store.

The four AWS wrapping algorithms:

- ``RSAES_OAEP_SHA_1`` / ``RSAES_OAEP_SHA_256``: the material is one RSAES-OAEP block (MGF1
  with the same hash, no label).
- ``RSA_AES_KEY_WRAP_SHA_1`` / ``RSA_AES_KEY_WRAP_SHA_256``: a random 256-bit AES key as one
  RSAES-OAEP block (the modulus length), followed by the material wrapped under that AES key
  with AES Key Wrap with Padding (RFC 5649) -- what AWS's guide does with ``openssl pkeyutl``
  and ``openssl enc -id-aes256-wrap-pad``, and what PKCS#11's CKM_RSA_AES_KEY_WRAP does.

Only :func:`wrap` runs on the client (``strongroom byok wrap``); it imports nothing of the
server.
"""

from __future__ import annotations

import os
import threading

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap_with_padding,
    aes_key_wrap_with_padding,
)

from strongroom.kms.errors import IncorrectKeyMaterialException, InvalidCiphertextException
from strongroom.kms.keystores.asymmetric import private_der

_AES_KEY_BYTES = 32
_CURVES = {
    "ECC_NIST_P256": "secp256r1",
    "ECC_NIST_P384": "secp384r1",
    "ECC_NIST_P521": "secp521r1",
    "ECC_SECG_P256K1": "secp256k1",
}


def _oaep(algorithm: str) -> padding.OAEP:
    chosen: hashes.HashAlgorithm = (
        hashes.SHA1() if algorithm.endswith("_SHA_1") else hashes.SHA256()  # noqa: S303
    )
    return padding.OAEP(mgf=padding.MGF1(chosen), algorithm=chosen, label=None)


def new_wrapping_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def wrapping_public_key(key: rsa.RSAPrivateKey) -> bytes:
    """DER SubjectPublicKeyInfo, as GetParametersForImport returns it."""
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def wrapping_private_der(key: rsa.RSAPrivateKey) -> bytes:
    return private_der(key)


def wrap(public_key_der: bytes, algorithm: str, material: bytes) -> bytes:
    """Encrypt key material for import under a GetParametersForImport public key."""
    public = serialization.load_der_public_key(public_key_der)
    if not isinstance(public, rsa.RSAPublicKey):
        raise ValueError("the wrapping public key is not an RSA key")
    if not algorithm.startswith("RSA_AES_KEY_WRAP_"):
        return public.encrypt(material, _oaep(algorithm))
    aes_key = os.urandom(_AES_KEY_BYTES)
    return public.encrypt(aes_key, _oaep(algorithm)) + aes_key_wrap_with_padding(aes_key, material)


def unwrap(private_key_der: bytes, algorithm: str, wrapped: bytes) -> bytes:
    """Decrypt wrapped material; any failure is one InvalidCiphertextException."""
    key = serialization.load_der_private_key(private_key_der, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    block = key.key_size // 8
    try:
        if not algorithm.startswith("RSA_AES_KEY_WRAP_"):
            return key.decrypt(wrapped, _oaep(algorithm))
        if len(wrapped) <= block:
            raise InvalidCiphertextException()
        aes_key = key.decrypt(wrapped[:block], _oaep(algorithm))
        if len(aes_key) != _AES_KEY_BYTES:
            raise InvalidCiphertextException()
        return aes_key_unwrap_with_padding(aes_key, wrapped[block:])
    except (ValueError, InvalidUnwrap):
        raise InvalidCiphertextException() from None


def check_private_key(spec: str, material: bytes) -> None:
    """Imported material for an asymmetric key must be a PKCS#8 DER private key of its spec."""
    try:
        key: object = serialization.load_der_private_key(material, password=None)
    except (ValueError, TypeError):
        raise IncorrectKeyMaterialException(
            f"Key material for a {spec} key must be a DER-encoded PKCS#8 private key."
        ) from None
    if not _matches(spec, key):
        raise IncorrectKeyMaterialException(
            f"The key material is not a PKCS#8 private key of key spec {spec}."
        )


def _matches(spec: str, key: object) -> bool:
    if spec.startswith("RSA_"):
        return isinstance(key, rsa.RSAPrivateKey) and key.key_size == int(spec[4:])
    if spec in _CURVES:
        return isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == _CURVES[spec]
    if spec == "ECC_NIST_EDWARDS25519":
        return isinstance(key, ed25519.Ed25519PrivateKey)
    # ML-DSA / ML-KEM: the type name carries the parameter set (MLDSA65PrivateKey, ...).
    return type(key).__name__.lower().startswith(spec.replace("_", "").lower())


class WrappingKeyPool:
    """Fresh RSA wrapping keys without making GetParametersForImport wait for key generation.

    Generating an RSA-4096 key takes most of a second, and requests are handled on the event
    loop. After the first request for a key size, a daemon thread keeps ``depth`` unused keys
    of that size ready (generation mostly releases the GIL). Every key is handed out once.
    """

    def __init__(self, depth: int = 1) -> None:
        self._depth = depth
        self._ready: dict[int, list[rsa.RSAPrivateKey]] = {}
        self._wanted = threading.Condition()
        self._thread: threading.Thread | None = None

    def take(self, bits: int) -> rsa.RSAPrivateKey:
        with self._wanted:
            ready = self._ready.setdefault(bits, [])
            key = ready.pop() if ready else None
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._refill, name="wrapping-keys", daemon=True
                )
                self._thread.start()
            self._wanted.notify()
        return key if key is not None else new_wrapping_key(bits)

    def ready(self, bits: int) -> int:
        """How many keys of a size wait to be handed out."""
        with self._wanted:
            return len(self._ready.get(bits, ()))

    def _refill(self) -> None:
        while True:
            with self._wanted:
                short = [b for b, keys in self._ready.items() if len(keys) < self._depth]
                while not short:
                    self._wanted.wait()
                    short = [b for b, keys in self._ready.items() if len(keys) < self._depth]
            key = new_wrapping_key(short[0])
            with self._wanted:
                self._ready[short[0]].append(key)
