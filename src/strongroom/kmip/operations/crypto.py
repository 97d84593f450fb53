"""Encrypt, Decrypt, Sign, SignatureVerify and MAC with KMIP objects, on Active keys only
(the key-state table's cryptographic row) and as their usage masks allow.

Actions: ``kms:Encrypt``, ``kms:Decrypt``, ``kms:Sign``, ``kms:Verify``, ``kms:GenerateMac``.
AES keys: CBC/ECB (PKCS5 or no padding), CTR, GCM (aes_modes.py); RSA pairs:
RSAES-OAEP with SHA-1 or SHA-256 (encrypt with the public key, decrypt with the private
key), RSASSA-PSS (salt as long as the hash) and PKCS#1 v1.5 signatures with SHA-256/384/512;
HMAC keys: MAC with the key's own hash. Single-part requests only (no streaming).
"""

from __future__ import annotations

from strongroom.kmip import aes_modes
from strongroom.kmip.enums import (
    Algorithm,
    DigitalSignatureAlgorithm,
    HashingAlgorithm,
    PaddingMethod,
    UsageMask,
    ValidityIndicator,
)
from strongroom.kmip.enums import Operation as Code
from strongroom.kmip.errors import (
    KmipFeatureNotSupported,
    KmipInvalidField,
    KmipMissingData,
    KmipPermissionDenied,
)
from strongroom.kmip.object_view import SPECS, usage_mask
from strongroom.kmip.objects import KmipObjects
from strongroom.kmip.operation import KEY_ID, PUBLIC, UID, KmipOperation, answer, payload_of
from strongroom.kmip.tags import Tag
from strongroom.kmip.ttlv import Item
from strongroom.kms.domain.enums import KeySpec, KeyUsage
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import InvalidCiphertextException
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response

_OAEP = {HashingAlgorithm.SHA_1: "RSAES_OAEP_SHA_1", HashingAlgorithm.SHA_256: "RSAES_OAEP_SHA_256"}
_HASH_NAMES = {
    HashingAlgorithm.SHA_256: "SHA_256",
    HashingAlgorithm.SHA_384: "SHA_384",
    HashingAlgorithm.SHA_512: "SHA_512",
}
_PKCS1_SIGNATURES = {
    DigitalSignatureAlgorithm.SHA256_WITH_RSA_ENCRYPTION: "RSASSA_PKCS1_V1_5_SHA_256",
    DigitalSignatureAlgorithm.SHA384_WITH_RSA_ENCRYPTION: "RSASSA_PKCS1_V1_5_SHA_384",
    DigitalSignatureAlgorithm.SHA512_WITH_RSA_ENCRYPTION: "RSASSA_PKCS1_V1_5_SHA_512",
}
_TAG_LENGTH = 16


def _field(item: Item | None, tag: Tag) -> Item | None:
    return None if item is None else item.find(tag)


def _number(item: Item | None, tag: Tag) -> int | None:
    found = _field(item, tag)
    return None if found is None else found.number


def _bytes(item: Item | None, tag: Tag) -> bytes | None:
    found = _field(item, tag)
    return None if found is None else found.data


def _data(call: Call, tag: Tag = Tag.DATA) -> bytes:
    found = _bytes(payload_of(call), tag)
    if found is None:
        raise KmipMissingData(f"{tag.name.replace('_', ' ').title()} is missing.")
    return found


class Cryptography:
    def __init__(self, objects: KmipObjects) -> None:
        self._objects = objects

    def _allowed(self, call: Call, needed: UsageMask) -> bool:
        """Check the usage mask; return whether the public key of a pair is named."""
        public = bool(call.request.get(PUBLIC))
        obj = self._objects.of(call.key)
        if not usage_mask(obj, call.key, public) & needed:
            raise KmipPermissionDenied(f"The key's usage mask does not allow {needed.name}.")
        return public

    # --- Encrypt / Decrypt ------------------------------------------------------------------

    def encrypt(self, call: Call) -> Response:
        public = self._allowed(call, UsageMask.ENCRYPT)
        payload = payload_of(call)
        parameters = _field(payload, Tag.CRYPTOGRAPHIC_PARAMETERS)
        data = _data(call)
        key = call.key
        children = [Item.text(Tag.UNIQUE_IDENTIFIER, str(call.request[UID]))]
        if key.key_spec is KeySpec.SYMMETRIC_DEFAULT:
            ciphertext, iv, tag = aes_modes.encrypt(
                call.ctx.cache.exported(key).reveal(),
                _block_mode(parameters),
                _number(parameters, Tag.PADDING_METHOD),
                data,
                iv=_bytes(payload, Tag.IV_COUNTER_NONCE),
                aad=_bytes(payload, Tag.AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA),
                tag_length=_number(parameters, Tag.TAG_LENGTH) or _TAG_LENGTH,
            )
            children.append(Item.bytes_(Tag.DATA, ciphertext))
            if iv is not None:
                children.append(Item.bytes_(Tag.IV_COUNTER_NONCE, iv))
            if tag is not None:
                children.append(Item.bytes_(Tag.AUTHENTICATED_ENCRYPTION_TAG, tag))
            return answer(children)
        if not public or key.key_usage is not KeyUsage.ENCRYPT_DECRYPT:
            raise KmipPermissionDenied("RSA encryption uses the public key of a decrypting pair.")
        algorithm = _oaep(parameters)
        children.append(
            Item.bytes_(Tag.DATA, call.ctx.cache.asymmetric(key).encrypt(algorithm, data))
        )
        return answer(children)

    def decrypt(self, call: Call) -> Response:
        public = self._allowed(call, UsageMask.DECRYPT)
        payload = payload_of(call)
        parameters = _field(payload, Tag.CRYPTOGRAPHIC_PARAMETERS)
        data = _data(call)
        key = call.key
        if key.key_spec is KeySpec.SYMMETRIC_DEFAULT:
            plaintext = aes_modes.decrypt(
                call.ctx.cache.exported(key).reveal(),
                _block_mode(parameters),
                _number(parameters, Tag.PADDING_METHOD),
                data,
                iv=_bytes(payload, Tag.IV_COUNTER_NONCE),
                aad=_bytes(payload, Tag.AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA),
                tag=_bytes(payload, Tag.AUTHENTICATED_ENCRYPTION_TAG),
            )
        else:
            if public or key.key_usage is not KeyUsage.ENCRYPT_DECRYPT:
                raise KmipPermissionDenied("RSA decryption uses the private key of the pair.")
            try:
                plaintext = call.ctx.cache.asymmetric(key).decrypt(_oaep(parameters), data)
            except InvalidCiphertextException:
                from strongroom.kmip.errors import KmipCryptographicFailure

                raise KmipCryptographicFailure("The ciphertext does not decrypt.") from None
        return answer(
            [
                Item.text(Tag.UNIQUE_IDENTIFIER, str(call.request[UID])),
                Item.bytes_(Tag.DATA, plaintext),
            ]
        )

    # --- Sign / SignatureVerify -------------------------------------------------------------

    def sign(self, call: Call) -> Response:
        public = self._allowed(call, UsageMask.SIGN)
        key = call.key
        if public or key.key_usage is not KeyUsage.SIGN_VERIFY:
            raise KmipPermissionDenied("Signing uses the private key of a signing pair.")
        parameters = _field(payload_of(call), Tag.CRYPTOGRAPHIC_PARAMETERS)
        signature = call.ctx.cache.asymmetric(key).sign(_signature(parameters), _data(call), "RAW")
        return answer(
            [
                Item.text(Tag.UNIQUE_IDENTIFIER, str(call.request[UID])),
                Item.bytes_(Tag.SIGNATURE_DATA, signature),
            ]
        )

    def verify(self, call: Call) -> Response:
        self._allowed(call, UsageMask.VERIFY)
        key = call.key
        if key.key_usage is not KeyUsage.SIGN_VERIFY:
            raise KmipPermissionDenied("The key pair does not sign.")
        parameters = _field(payload_of(call), Tag.CRYPTOGRAPHIC_PARAMETERS)
        valid = call.ctx.cache.asymmetric(key).verify(
            _signature(parameters), _data(call), "RAW", _data(call, Tag.SIGNATURE_DATA)
        )
        indicator = ValidityIndicator.VALID if valid else ValidityIndicator.INVALID
        return answer(
            [
                Item.text(Tag.UNIQUE_IDENTIFIER, str(call.request[UID])),
                Item.enum(Tag.VALIDITY_INDICATOR, indicator),
            ]
        )

    # --- MAC -------------------------------------------------------------------------------

    def mac(self, call: Call) -> Response:
        self._allowed(call, UsageMask.MAC_GENERATE)
        key = call.key
        if key.key_usage is not KeyUsage.GENERATE_VERIFY_MAC:
            raise KmipPermissionDenied("MAC takes an HMAC key.")
        parameters = _field(payload_of(call), Tag.CRYPTOGRAPHIC_PARAMETERS)
        asked = _number(parameters, Tag.CRYPTOGRAPHIC_ALGORITHM)
        if asked is not None and asked != SPECS[key.key_spec][0]:
            raise KmipInvalidField(f"The key is {Algorithm(SPECS[key.key_spec][0]).name}.")
        digest = call.ctx.cache.mac_material(key).mac(_data(call))
        return answer(
            [
                Item.text(Tag.UNIQUE_IDENTIFIER, str(call.request[UID])),
                Item.bytes_(Tag.MAC_DATA, digest),
            ]
        )

    def operations(self) -> tuple[KmipOperation, ...]:
        def access(action: str) -> tuple[KeyAccess, ...]:
            return (KeyAccess(KEY_ID, action, OpClass.CRYPTO, aliases=False),)

        return (
            KmipOperation(
                Code.ENCRYPT, Operation("KmipEncrypt", self.encrypt, access("kms:Encrypt"))
            ),
            KmipOperation(
                Code.DECRYPT, Operation("KmipDecrypt", self.decrypt, access("kms:Decrypt"))
            ),
            KmipOperation(Code.SIGN, Operation("KmipSign", self.sign, access("kms:Sign"))),
            KmipOperation(
                Code.SIGNATURE_VERIFY,
                Operation("KmipSignatureVerify", self.verify, access("kms:Verify")),
            ),
            KmipOperation(Code.MAC, Operation("KmipMAC", self.mac, access("kms:GenerateMac"))),
        )


def _block_mode(parameters: Item | None) -> int:
    mode = _number(parameters, Tag.BLOCK_CIPHER_MODE)
    if mode is None:
        raise KmipMissingData("AES needs Cryptographic Parameters with a Block Cipher Mode.")
    return mode


def _oaep(parameters: Item | None) -> str:
    pad = _number(parameters, Tag.PADDING_METHOD)
    if pad not in (None, PaddingMethod.OAEP):
        raise KmipFeatureNotSupported("RSA encryption uses OAEP padding.")
    hashing = _number(parameters, Tag.HASHING_ALGORITHM) or HashingAlgorithm.SHA_256
    try:
        return _OAEP[HashingAlgorithm(hashing)]
    except (KeyError, ValueError):
        raise KmipFeatureNotSupported("OAEP with SHA-1 or SHA-256.") from None


def _signature(parameters: Item | None) -> str:
    """The KMS signing algorithm the parameters name."""
    named = _number(parameters, Tag.DIGITAL_SIGNATURE_ALGORITHM)
    if named is not None and named in _PKCS1_SIGNATURES:
        return _PKCS1_SIGNATURES[DigitalSignatureAlgorithm(named)]
    pad = _number(parameters, Tag.PADDING_METHOD)
    hashing = _number(parameters, Tag.HASHING_ALGORITHM)
    if named == DigitalSignatureAlgorithm.RSASSA_PSS:
        pad = PaddingMethod.PSS
    if named is not None and named not in (DigitalSignatureAlgorithm.RSASSA_PSS,):
        raise KmipFeatureNotSupported("Digital Signature Algorithm not supported.")
    if pad not in (PaddingMethod.PSS, PaddingMethod.PKCS1V15) or hashing is None:
        raise KmipMissingData(
            "Signatures need a Digital Signature Algorithm, or a Padding Method (PSS or "
            "PKCS1 v1.5) with a Hashing Algorithm."
        )
    try:
        hash_name = _HASH_NAMES[HashingAlgorithm(hashing)]
    except (KeyError, ValueError):
        raise KmipFeatureNotSupported("Signatures use SHA-256, SHA-384 or SHA-512.") from None
    prefix = "RSASSA_PSS_" if pad == PaddingMethod.PSS else "RSASSA_PKCS1_V1_5_"
    return prefix + hash_name
