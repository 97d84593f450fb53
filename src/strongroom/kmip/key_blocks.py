"""Key Blocks: key material as KMIP carries it (Get answers, Register requests), and wrapping.

Formats: symmetric keys Raw; RSA private keys PKCS#8 (default) or PKCS#1; RSA public keys
X.509 SubjectPublicKeyInfo (default) or PKCS#1. Wrapping (Get's Key Wrapping Specification):
method Encrypt with an AES key of the same account under NIST Key Wrap (RFC 3394; RFC 5649
with padding for lengths that are not multiples of 8).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from strongroom.kmip import ttlv
from strongroom.kmip.enums import Algorithm, BlockCipherMode, KeyFormat, ObjectType
from strongroom.kmip.errors import (
    KmipFeatureNotSupported,
    KmipInvalidField,
    KmipKeyFormatTypeNotSupported,
    KmipMissingData,
)
from strongroom.kmip.tags import Tag
from strongroom.kmip.ttlv import Item, ItemType

_OBJECT_TAGS = {
    ObjectType.SYMMETRIC_KEY: Tag.SYMMETRIC_KEY,
    ObjectType.PRIVATE_KEY: Tag.PRIVATE_KEY,
    ObjectType.PUBLIC_KEY: Tag.PUBLIC_KEY,
}
DEFAULT_FORMATS = {
    ObjectType.SYMMETRIC_KEY: KeyFormat.RAW,
    ObjectType.PRIVATE_KEY: KeyFormat.PKCS_8,
    ObjectType.PUBLIC_KEY: KeyFormat.X_509,
}
_FORMATS = {
    ObjectType.SYMMETRIC_KEY: (KeyFormat.RAW,),
    ObjectType.PRIVATE_KEY: (KeyFormat.PKCS_8, KeyFormat.PKCS_1),
    ObjectType.PUBLIC_KEY: (KeyFormat.X_509, KeyFormat.PKCS_1),
}
_DER = serialization.Encoding.DER


def formatted(kind: ObjectType, material: bytes, asked: int | None) -> tuple[KeyFormat, bytes]:
    """The material in the format asked for. ``material``: raw bytes, PKCS#8 DER (private) or
    SubjectPublicKeyInfo DER (public)."""
    chosen = DEFAULT_FORMATS[kind] if asked is None else asked
    if chosen not in _FORMATS[kind]:
        raise KmipKeyFormatTypeNotSupported(
            f"Key Format Type {chosen:#x} is not served for {kind.name}."
        )
    key_format = KeyFormat(chosen)
    if kind is ObjectType.PRIVATE_KEY and key_format is KeyFormat.PKCS_1:
        key = serialization.load_der_private_key(material, password=None)
        material = key.private_bytes(
            _DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    elif kind is ObjectType.PUBLIC_KEY and key_format is KeyFormat.PKCS_1:
        public = serialization.load_der_public_key(material)
        material = public.public_bytes(_DER, serialization.PublicFormat.PKCS1)
    return key_format, material


def key_object(
    kind: ObjectType,
    key_format: KeyFormat,
    value: bytes,
    *,
    algorithm: Algorithm,
    length: int,
    wrapping: Item | None = None,
) -> Item:
    """The Symmetric Key / Private Key / Public Key structure. With ``wrapping`` (Key Wrapping
    Data), ``value`` is the wrapped key value. It travels as the Key Material of a Key Value
    structure, as PyKMIP reads and writes wrapped keys (KMIP 1.4's text has the Key Value be
    the wrapped Byte String itself; docs/kmip.md)."""
    key_value = Item.struct(Tag.KEY_VALUE, [Item.bytes_(Tag.KEY_MATERIAL, value)])
    block = [
        Item.enum(Tag.KEY_FORMAT_TYPE, key_format),
        key_value,
        Item.enum(Tag.CRYPTOGRAPHIC_ALGORITHM, algorithm),
        Item.integer(Tag.CRYPTOGRAPHIC_LENGTH, length),
    ]
    if wrapping is not None:
        block.append(wrapping)
    return Item.struct(_OBJECT_TAGS[kind], [Item.struct(Tag.KEY_BLOCK, block)])


# --- Register: key material from a request ------------------------------------------------


def material_of(kind: ObjectType, payload: Item) -> tuple[bytes, int | None, int | None]:
    """(material, algorithm, length) of the object in a Register request. Private keys come
    back as PKCS#8 DER."""
    if kind not in (ObjectType.SYMMETRIC_KEY, ObjectType.PRIVATE_KEY):
        raise KmipFeatureNotSupported("Register takes symmetric keys and RSA private keys.")
    container = payload.find(_OBJECT_TAGS[kind])
    block = None if container is None else container.find(Tag.KEY_BLOCK)
    if block is None:
        raise KmipMissingData(f"The {kind.name} object and its Key Block are required.")
    if block.find(Tag.KEY_WRAPPING_DATA) is not None:
        raise KmipFeatureNotSupported("Registering a wrapped key is not supported.")
    if block.find(Tag.KEY_COMPRESSION_TYPE) is not None:
        raise KmipFeatureNotSupported("Key Compression Type is not supported.")
    key_format_item = block.find(Tag.KEY_FORMAT_TYPE)
    key_value = block.find(Tag.KEY_VALUE)
    if key_format_item is None or key_value is None or key_value.type is not ItemType.STRUCTURE:
        raise KmipMissingData("Key Format Type and Key Value are required.")
    material_item = key_value.find(Tag.KEY_MATERIAL)
    if material_item is None:
        raise KmipMissingData("Key Material is required.")
    material = material_item.data
    key_format = key_format_item.number
    algorithm = block.find(Tag.CRYPTOGRAPHIC_ALGORITHM)
    length = block.find(Tag.CRYPTOGRAPHIC_LENGTH)
    if kind is ObjectType.SYMMETRIC_KEY:
        if key_format != KeyFormat.RAW:
            raise KmipKeyFormatTypeNotSupported("Symmetric keys are registered Raw.")
        if length is not None and length.number != 8 * len(material):
            raise KmipInvalidField("Cryptographic Length does not match the key material.")
        return material, _number(algorithm), 8 * len(material)
    private = _private_key(material, key_format)
    der = private.private_bytes(
        _DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return der, _number(algorithm) or Algorithm.RSA, private.key_size


def _number(item: Item | None) -> int | None:
    return None if item is None else item.number


def _private_key(material: bytes, key_format: int) -> rsa.RSAPrivateKey:
    if key_format not in (KeyFormat.PKCS_8, KeyFormat.PKCS_1):
        raise KmipKeyFormatTypeNotSupported("RSA private keys are registered PKCS#8 or PKCS#1.")
    try:
        key = serialization.load_der_private_key(material, password=None)
    except (ValueError, TypeError):
        raise KmipInvalidField("The key material is not a DER RSA private key.") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KmipInvalidField("Only RSA private keys can be registered.")
    return key


# --- Get's key wrapping -----------------------------------------------------------------


NO_ENCODING = 1
TTLV_ENCODING = 2


def wrapping_request(payload: Item | None) -> tuple[str, int] | None:
    """(wrapping key's Unique Identifier, Encoding Option) a Get asks for, or None. Without an
    Encoding Option the wrapped data is the TTLV encoding of the Key Value structure; with No
    Encoding it is the Key Material alone."""
    spec = None if payload is None else payload.find(Tag.KEY_WRAPPING_SPECIFICATION)
    if spec is None:
        return None
    method = spec.find(Tag.WRAPPING_METHOD)
    if method is None or method.number != 1:  # Encrypt
        raise KmipFeatureNotSupported("Only the wrapping method Encrypt is supported.")
    if spec.find(Tag.MAC_SIGNATURE_KEY_INFORMATION) is not None:
        raise KmipFeatureNotSupported("MAC/Signature key wrapping is not supported.")
    info = spec.find(Tag.ENCRYPTION_KEY_INFORMATION)
    uid = None if info is None else info.find(Tag.UNIQUE_IDENTIFIER)
    if uid is None:
        raise KmipMissingData("Encryption Key Information names no wrapping key.")
    mode = _wrapping_mode(info)
    if mode not in (None, BlockCipherMode.NIST_KEY_WRAP):
        raise KmipFeatureNotSupported("Keys are wrapped with NIST Key Wrap (RFC 3394) only.")
    option = spec.find(Tag.ENCODING_OPTION)
    encoding = TTLV_ENCODING if option is None else option.number
    if encoding not in (NO_ENCODING, TTLV_ENCODING):
        raise KmipInvalidField("Encoding Option is No Encoding or TTLV Encoding.")
    return uid.string, encoding


def _wrapping_mode(info: Item | None) -> int | None:
    parameters = None if info is None else info.find(Tag.CRYPTOGRAPHIC_PARAMETERS)
    mode = None if parameters is None else parameters.find(Tag.BLOCK_CIPHER_MODE)
    return None if mode is None else mode.number


def wrap(
    wrapping_key: bytes, wrapping_uid: str, material: bytes, encoding: int
) -> tuple[bytes, Item]:
    """(wrapped Key Value, Key Wrapping Data): RFC 3394 when the length allows (a multiple of
    8 bytes, at least 16), else RFC 5649 with padding."""
    key_value = (
        material
        if encoding == NO_ENCODING
        else ttlv.encode(Item.struct(Tag.KEY_VALUE, [Item.bytes_(Tag.KEY_MATERIAL, material)]))
    )
    if len(key_value) % 8 == 0 and len(key_value) >= 16:
        wrapped = keywrap.aes_key_wrap(wrapping_key, key_value)
    else:
        wrapped = keywrap.aes_key_wrap_with_padding(wrapping_key, key_value)
    data = Item.struct(
        Tag.KEY_WRAPPING_DATA,
        [
            Item.enum(Tag.WRAPPING_METHOD, 1),
            Item.struct(
                Tag.ENCRYPTION_KEY_INFORMATION,
                [
                    Item.text(Tag.UNIQUE_IDENTIFIER, wrapping_uid),
                    Item.struct(
                        Tag.CRYPTOGRAPHIC_PARAMETERS,
                        [Item.enum(Tag.BLOCK_CIPHER_MODE, BlockCipherMode.NIST_KEY_WRAP)],
                    ),
                ],
            ),
            Item.enum(Tag.ENCODING_OPTION, encoding),
        ],
    )
    return wrapped, data
