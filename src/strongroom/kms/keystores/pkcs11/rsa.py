"""RSA public keys given as DER, turned into PKCS#11 session-object templates."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
)
from pkcs11 import Attribute, KeyType, ObjectClass

from strongroom.kms.keystores.pkcs11.errors import Pkcs11Error


def _load(public_der: bytes) -> RSAPublicKey:
    try:
        key = load_der_public_key(public_der)
    except ValueError:
        raise Pkcs11Error("the wrapping public key is not DER SubjectPublicKeyInfo") from None
    if not isinstance(key, RSAPublicKey):
        raise Pkcs11Error("the wrapping public key is not an RSA key")
    return key


def _unsigned(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def rsa_public_template(public_der: bytes) -> dict[Any, Any]:
    """A session (not token) RSA public key that may wrap, from a DER SubjectPublicKeyInfo."""
    numbers = _load(public_der).public_numbers()
    return {
        Attribute.CLASS: ObjectClass.PUBLIC_KEY,
        Attribute.KEY_TYPE: KeyType.RSA,
        Attribute.TOKEN: False,
        Attribute.MODULUS: _unsigned(numbers.n),
        Attribute.PUBLIC_EXPONENT: _unsigned(numbers.e),
        Attribute.WRAP: True,
        Attribute.ENCRYPT: True,
    }


def rsa_public_der(public: Any) -> bytes:
    """The DER SubjectPublicKeyInfo of a token's RSA public key object."""
    numbers = RSAPublicNumbers(
        int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big"),
        int.from_bytes(public[Attribute.MODULUS], "big"),
    )
    return numbers.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
