"""What a KMIP client sees of a KMS key: algorithm, length, type, state and attributes.

A key pair is one KMS key and two KMIP objects: the private key (Unique Identifier = key id)
and the public key (``<key id>/public``). Attributes given for the public key only are stored
with the prefix ``public:``; the others belong to the private (or symmetric) key.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from strongroom.kmip import attributes as a
from strongroom.kmip.attributes import Attribute, value_item
from strongroom.kmip.enums import Algorithm, ObjectType, UsageMask
from strongroom.kmip.errors import KmipInvalidField
from strongroom.kmip.ttlv import ItemType
from strongroom.kms.domain.enums import KeySpec, KeyUsage
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.kmip import KmipObject, ObjectKind, reported_state, unique_id

PUBLIC_PREFIX = "public:"

# KMS key spec <-> (KMIP algorithm, length in bits).
SPECS: dict[KeySpec, tuple[Algorithm, int]] = {
    KeySpec.SYMMETRIC_DEFAULT: (Algorithm.AES, 256),
    KeySpec.HMAC_224: (Algorithm.HMAC_SHA224, 224),
    KeySpec.HMAC_256: (Algorithm.HMAC_SHA256, 256),
    KeySpec.HMAC_384: (Algorithm.HMAC_SHA384, 384),
    KeySpec.HMAC_512: (Algorithm.HMAC_SHA512, 512),
    KeySpec.RSA_2048: (Algorithm.RSA, 2048),
    KeySpec.RSA_3072: (Algorithm.RSA, 3072),
    KeySpec.RSA_4096: (Algorithm.RSA, 4096),
}
_BY_ALGORITHM = {value: spec for spec, value in SPECS.items()}
DEFAULT_MASKS = {
    KeyUsage.ENCRYPT_DECRYPT: UsageMask.ENCRYPT | UsageMask.DECRYPT,
    KeyUsage.GENERATE_VERIFY_MAC: UsageMask.MAC_GENERATE | UsageMask.MAC_VERIFY,
    KeyUsage.SIGN_VERIFY: UsageMask.SIGN | UsageMask.VERIFY,
}


def symmetric_usage(spec: KeySpec) -> KeyUsage:
    """The KMS usage of a symmetric KMIP key: AES encrypts, HMAC keys MAC."""
    mac = spec.value.startswith("HMAC")
    return KeyUsage.GENERATE_VERIFY_MAC if mac else KeyUsage.ENCRYPT_DECRYPT


def spec_for(algorithm: int, length: int) -> KeySpec:
    try:
        return _BY_ALGORITHM[(Algorithm(algorithm), length)]
    except (ValueError, KeyError):
        raise KmipInvalidField(
            f"Cryptographic Algorithm {algorithm:#x} with length {length} is not supported: "
            "AES 256, HMAC-SHA224/256/384/512 and RSA 2048/3072/4096 are."
        ) from None


def object_type(obj: KmipObject, public: bool) -> ObjectType:
    return ObjectType.PUBLIC_KEY if public else ObjectType(obj.kind)


def client_attributes(obj: KmipObject, public: bool) -> list[Attribute]:
    """The stored attributes of one view (the public key's, or the other's)."""
    chosen: list[Attribute] = []
    for name, data in obj.attributes:
        if obj.kind is ObjectKind.PRIVATE_KEY and name.startswith(PUBLIC_PREFIX):
            if public:
                chosen.append(a.from_stored(name[len(PUBLIC_PREFIX) :], data))
        elif not public:
            chosen.append(a.from_stored(name, data))
    counts: Counter[str] = Counter()
    indexed = []
    for attribute in chosen:
        indexed.append(Attribute(attribute.name, attribute.value, counts[attribute.name]))
        counts[attribute.name] += 1
    return indexed


def _date(name: str, when: datetime | None) -> list[Attribute]:
    return [] if when is None else [Attribute(name, value_item(ItemType.DATE_TIME, when), 0)]


def server_attributes(obj: KmipObject, key: KeyRecord, public: bool) -> list[Attribute]:
    algorithm, length = SPECS[key.key_spec]
    return [
        Attribute(
            a.UNIQUE_IDENTIFIER, value_item(ItemType.TEXT_STRING, unique_id(key.key_id, public)), 0
        ),
        Attribute(a.OBJECT_TYPE, value_item(ItemType.ENUMERATION, object_type(obj, public)), 0),
        Attribute(a.ALGORITHM, value_item(ItemType.ENUMERATION, algorithm), 0),
        Attribute(a.LENGTH, value_item(ItemType.INTEGER, length), 0),
        Attribute(
            a.STATE, value_item(ItemType.ENUMERATION, reported_state(key.state, obj.state)), 0
        ),
        *_date(a.INITIAL_DATE, obj.created_at),
        *_date(a.ACTIVATION_DATE, obj.activated_at),
        *_date(a.DEACTIVATION_DATE, obj.deactivated_at),
        *_date(a.LAST_CHANGE_DATE, obj.changed_at),
    ]


def all_attributes(obj: KmipObject, key: KeyRecord, public: bool) -> list[Attribute]:
    return server_attributes(obj, key, public) + client_attributes(obj, public)


def usage_mask(obj: KmipObject, key: KeyRecord, public: bool) -> int:
    for attribute in client_attributes(obj, public):
        if attribute.name == a.USAGE_MASK:
            return attribute.value.number
    return int(DEFAULT_MASKS.get(key.key_usage, 0))
