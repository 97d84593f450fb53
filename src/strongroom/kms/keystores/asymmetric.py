"""Material for asymmetric and HMAC keys, in this process's memory: generation and the handles.

Private keys are serialized as unencrypted PKCS#8 DER only to be wrapped under the root key by
the store (``software.py``); HMAC keys are random bytes wrapped the same way. Nothing outside
the key store sees either: services get a handle that signs, verifies, decrypts, derives or
MACs. Data key pairs (:func:`new_key_pair`) are returned to the caller by design.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from strongroom.kms.errors import InvalidCiphertextException, ValidationException

MlDsaPrivateKey = mldsa.MLDSA44PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey
MlKemPrivateKey = mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey
PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | MlDsaPrivateKey
    | MlKemPrivateKey
)
_ML_KEM_TYPES = (mlkem.MLKEM768PrivateKey, mlkem.MLKEM1024PrivateKey)
_ML_DSA_TYPES = (mldsa.MLDSA44PrivateKey, mldsa.MLDSA65PrivateKey, mldsa.MLDSA87PrivateKey)
_PRIVATE_TYPES = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    *_ML_DSA_TYPES,
    *_ML_KEM_TYPES,
)
_ML_DSA: dict[str, type[MlDsaPrivateKey]] = {
    "ML_DSA_44": mldsa.MLDSA44PrivateKey,
    "ML_DSA_65": mldsa.MLDSA65PrivateKey,
    "ML_DSA_87": mldsa.MLDSA87PrivateKey,
}
_ML_KEM: dict[str, type[MlKemPrivateKey]] = {
    "ML_KEM_768": mlkem.MLKEM768PrivateKey,
    "ML_KEM_1024": mlkem.MLKEM1024PrivateKey,
}

_CURVES: dict[str, ec.EllipticCurve] = {
    "ECC_NIST_P256": ec.SECP256R1(),
    "ECC_NIST_P384": ec.SECP384R1(),
    "ECC_NIST_P521": ec.SECP521R1(),
    "ECC_SECG_P256K1": ec.SECP256K1(),
}
_RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "1": hashes.SHA1,
    "224": hashes.SHA224,
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
# HMAC key spec -> (hashlib name, material length in bytes: the hash's output length)
HMAC_SPECS: dict[str, tuple[str, int]] = {
    "HMAC_224": ("sha224", 28),
    "HMAC_256": ("sha256", 32),
    "HMAC_384": ("sha384", 48),
    "HMAC_512": ("sha512", 64),
}


def _hash(algorithm: str) -> hashes.HashAlgorithm:
    """The hash an algorithm name ends with: ..._SHA_256 -> SHA256, RSAES_OAEP_SHA_1 -> SHA1."""
    return _HASHES[algorithm.rsplit("_", 1)[1]]()


def hmac_digest(hash_name: str, key: bytes, message: bytes) -> bytes:
    """RFC 2104 HMAC (checked against RFC 4231's vectors in the unit tests)."""
    return hmac.new(key, message, getattr(hashlib, hash_name)).digest()


def new_private_key(spec: str) -> PrivateKey:
    if spec in _RSA_BITS:
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[spec])
    if spec in _CURVES:
        return ec.generate_private_key(_CURVES[spec])
    if spec == "ECC_NIST_EDWARDS25519":
        return ed25519.Ed25519PrivateKey.generate()
    if spec in _ML_DSA:
        return _ML_DSA[spec].generate()
    if spec in _ML_KEM:
        return _ML_KEM[spec].generate()
    raise ValueError(f"no asymmetric key spec {spec}")


def private_der(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_der(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def new_key_pair(spec: str) -> tuple[bytes, bytes]:
    """A fresh data key pair: (PKCS#8 DER private key, SubjectPublicKeyInfo DER public key)."""
    key = new_private_key(spec)
    return private_der(key), public_der(key)


def new_secret_material(spec: str) -> bytes:
    """Fresh material for a key spec, as it is wrapped: raw HMAC key bytes or PKCS#8 DER."""
    if spec in HMAC_SPECS:
        return secrets.token_bytes(HMAC_SPECS[spec][1])
    return private_der(new_private_key(spec))


class HmacMaterial:
    """An HMAC key of one key spec (the hash is fixed by the spec)."""

    __slots__ = ("_hash_name", "_key")

    def __init__(self, spec: str, key: bytes) -> None:
        self._hash_name = HMAC_SPECS[spec][0]
        self._key = key

    def mac(self, message: bytes) -> bytes:
        return hmac_digest(self._hash_name, self._key, message)

    def verify(self, message: bytes, mac: bytes) -> bool:
        return hmac.compare_digest(self.mac(message), mac)

    def __repr__(self) -> str:
        return "HmacMaterial(<redacted>)"


def _signature_scheme(
    algorithm: str, digest: bool
) -> tuple[padding.AsymmetricPadding | None, hashes.HashAlgorithm | Prehashed]:
    chosen = _hash(algorithm)
    hashing: hashes.HashAlgorithm | Prehashed = Prehashed(chosen) if digest else chosen
    if algorithm.startswith("RSASSA_PSS_"):
        return padding.PSS(
            mgf=padding.MGF1(_hash(algorithm)), salt_length=chosen.digest_size
        ), hashing
    if algorithm.startswith("RSASSA_PKCS1_V1_5_"):
        return padding.PKCS1v15(), hashing
    return None, hashing


_DIGEST, _MU = "DIGEST", "EXTERNAL_MU"
_ML_DSA_PUBLIC_TYPES = (mldsa.MLDSA44PublicKey, mldsa.MLDSA65PublicKey, mldsa.MLDSA87PublicKey)


class AsymmetricMaterial:
    """A private key: signs, verifies, decrypts (RSAES-OAEP), derives (ECDH), decapsulates."""

    __slots__ = ("_key",)

    def __init__(self, key: PrivateKey) -> None:
        self._key = key

    @classmethod
    def from_der(cls, der: bytes) -> AsymmetricMaterial:
        key = serialization.load_der_private_key(der, password=None)
        if not isinstance(key, _PRIVATE_TYPES):
            raise TypeError(f"unexpected private key type {type(key).__name__}")
        return cls(key)

    def public_key(self) -> bytes:
        return public_der(self._key)

    def sign(self, algorithm: str, message: bytes, message_type: str) -> bytes:
        """Sign a message, a digest (never hashed again: ``Prehashed``) or an ML-DSA mu."""
        key = self._key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(message)
        if isinstance(key, _ML_DSA_TYPES):
            return key.sign_mu(message) if message_type == _MU else key.sign(message)
        pad, hashing = _signature_scheme(algorithm, message_type == _DIGEST)
        if isinstance(key, rsa.RSAPrivateKey):
            assert pad is not None
            return key.sign(message, pad, hashing)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key.sign(message, ec.ECDSA(hashing))

    def verify(self, algorithm: str, message: bytes, message_type: str, signature: bytes) -> bool:
        public = self._key.public_key()
        try:
            if isinstance(public, ed25519.Ed25519PublicKey):
                public.verify(signature, message)
                return True
            if isinstance(public, _ML_DSA_PUBLIC_TYPES):
                if message_type == _MU:
                    public.verify_mu(signature, message)
                else:
                    public.verify(signature, message)
                return True
            pad, hashing = _signature_scheme(algorithm, message_type == _DIGEST)
            if isinstance(public, rsa.RSAPublicKey):
                assert pad is not None
                public.verify(signature, message, pad, hashing)
            else:
                assert isinstance(public, ec.EllipticCurvePublicKey)
                public.verify(signature, message, ec.ECDSA(hashing))
        except InvalidSignature:
            return False
        return True

    def _oaep(self, algorithm: str) -> padding.OAEP:
        chosen = _hash(algorithm)
        return padding.OAEP(mgf=padding.MGF1(chosen), algorithm=chosen, label=None)

    def encrypt(self, algorithm: str, plaintext: bytes) -> bytes:
        assert isinstance(self._key, rsa.RSAPrivateKey)
        return self._key.public_key().encrypt(plaintext, self._oaep(algorithm))

    def decrypt(self, algorithm: str, ciphertext: bytes) -> bytes:
        assert isinstance(self._key, rsa.RSAPrivateKey)
        try:
            return self._key.decrypt(ciphertext, self._oaep(algorithm))
        except ValueError:
            raise InvalidCiphertextException() from None

    def derive(self, peer_public_key: bytes) -> bytes:
        """Raw ECDH output with a peer's SubjectPublicKeyInfo (the caller runs a KDF)."""
        key = self._key
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        try:
            peer = serialization.load_der_public_key(peer_public_key)
        except (ValueError, TypeError):
            raise ValidationException("PublicKey is not a DER-encoded public key.") from None
        if not isinstance(peer, ec.EllipticCurvePublicKey) or peer.curve.name != key.curve.name:
            raise ValidationException(
                f"PublicKey must be a public key on the key's curve ({key.curve.name})."
            )
        return key.exchange(ec.ECDH(), peer)

    def encapsulate(self) -> tuple[bytes, bytes]:
        """ML-KEM with the public key: (shared secret, its ciphertext)."""
        key = self._key
        assert isinstance(key, _ML_KEM_TYPES)
        return key.public_key().encapsulate()

    def decapsulate(self, ciphertext: bytes) -> bytes:
        key = self._key
        assert isinstance(key, _ML_KEM_TYPES)
        try:
            return key.decapsulate(ciphertext)
        except ValueError:
            raise InvalidCiphertextException() from None

    def __repr__(self) -> str:
        return "AsymmetricMaterial(<redacted>)"
