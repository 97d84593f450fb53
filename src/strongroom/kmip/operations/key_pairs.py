"""CreateKeyPair (RSA) and Register (symmetric keys, RSA private keys): ``kms:CreateKey``.

A key pair is one KMS RSA key: SIGN_VERIFY when the private key's usage mask has Sign (the
default), ENCRYPT_DECRYPT when it has Decrypt; a KMS key has one usage, so both is refused.
Registered material is wrapped under the root key like generated material.
"""

from __future__ import annotations

from strongroom.kmip import attributes as a
from strongroom.kmip import key_blocks
from strongroom.kmip.attributes import Attribute
from strongroom.kmip.creation import Template, check_template, create_object, spec_of
from strongroom.kmip.enums import ObjectType, UsageMask
from strongroom.kmip.enums import Operation as Code
from strongroom.kmip.errors import KmipInvalidField
from strongroom.kmip.object_view import spec_for, symmetric_usage
from strongroom.kmip.objects import KmipObjects
from strongroom.kmip.operation import KmipOperation, answer, payload_of
from strongroom.kmip.operations.lifecycle import enum_child
from strongroom.kmip.tags import Tag
from strongroom.kmip.ttlv import Item
from strongroom.kms.domain.enums import KeySpec, KeyUsage
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.kmip import ObjectKind, unique_id
from strongroom.kms.service.pipeline import Call, Operation, Response


def rsa_usage(private: list[Attribute]) -> KeyUsage:
    mask = a.integer(a.single(private, a.USAGE_MASK))
    if mask is None:
        return KeyUsage.SIGN_VERIFY
    signs = bool(mask & (UsageMask.SIGN | UsageMask.VERIFY))
    decrypts = bool(mask & (UsageMask.DECRYPT | UsageMask.ENCRYPT))
    if signs and decrypts:
        raise KmipInvalidField("An RSA key either signs or decrypts; its usage mask asks both.")
    return KeyUsage.ENCRYPT_DECRYPT if decrypts else KeyUsage.SIGN_VERIFY


class KeyMaking:
    def __init__(self, objects: KmipObjects) -> None:
        self._objects = objects

    def create_key_pair(self, call: Call) -> Response:
        payload = payload_of(call)
        common = a.parse_template(payload, Tag.COMMON_TEMPLATE_ATTRIBUTE, Tag.COMMON_ATTRIBUTES)
        private = a.parse_template(
            payload, Tag.PRIVATE_KEY_TEMPLATE_ATTRIBUTE, Tag.PRIVATE_KEY_ATTRIBUTES
        )
        public = a.parse_template(
            payload, Tag.PUBLIC_KEY_TEMPLATE_ATTRIBUTE, Tag.PUBLIC_KEY_ATTRIBUTES
        )
        spec = spec_of(_without_duplicates(common + private))
        if not spec.value.startswith("RSA"):
            raise KmipInvalidField("CreateKeyPair makes RSA key pairs.")
        record = create_object(
            call,
            self._objects,
            spec=spec,
            usage=rsa_usage(private),
            kind=ObjectKind.PRIVATE_KEY,
            template=check_template(call, common + private),
            public_template=_public(call, common, public),
        )
        return answer(
            [
                Item.text(Tag.PRIVATE_KEY_UNIQUE_IDENTIFIER, unique_id(record.key_id)),
                Item.text(Tag.PUBLIC_KEY_UNIQUE_IDENTIFIER, unique_id(record.key_id, True)),
            ]
        )

    def register(self, call: Call) -> Response:
        payload = payload_of(call)
        kind = ObjectType(_object_type(payload))
        assert payload is not None
        material, algorithm, length = key_blocks.material_of(kind, payload)
        attributes = a.parse_template(payload, Tag.TEMPLATE_ATTRIBUTE, Tag.ATTRIBUTES)
        if algorithm is None:
            algorithm = a.integer(a.single(attributes, a.ALGORITHM))
        if algorithm is None or length is None:
            raise KmipInvalidField("Cryptographic Algorithm is missing.")
        spec = spec_for(algorithm, length)
        template = check_template(call, attributes)
        if kind is ObjectType.PRIVATE_KEY:
            usage = rsa_usage(attributes)
            made = ObjectKind.PRIVATE_KEY
        else:
            if spec.value.startswith("RSA"):
                raise KmipInvalidField("An RSA key is registered as a Private Key.")
            usage, made = symmetric_usage(spec), ObjectKind.SYMMETRIC_KEY

        def wrapped(record: KeyRecord) -> bytes:
            assert record.current_material_id is not None
            return call.ctx.store.import_material(
                record.arn, record.current_material_id, spec, material
            )

        record = create_object(
            call,
            self._objects,
            spec=spec,
            usage=usage,
            kind=made,
            template=template,
            public_template=_public(call, [], []) if made is ObjectKind.PRIVATE_KEY else None,
            material=wrapped,
        )
        return answer([Item.text(Tag.UNIQUE_IDENTIFIER, record.key_id)])

    def operations(self) -> tuple[KmipOperation, ...]:
        return (
            KmipOperation(
                Code.CREATE_KEY_PAIR,
                Operation(
                    "KmipCreateKeyPair",
                    self.create_key_pair,
                    action="kms:CreateKey",
                    blocking=True,  # RSA key generation
                ),
                names_object=False,
            ),
            KmipOperation(
                Code.REGISTER,
                Operation("KmipRegister", self.register, action="kms:CreateKey"),
                names_object=False,
            ),
        )


def _object_type(payload: Item | None) -> int:
    value = enum_child(payload, Tag.OBJECT_TYPE, "Object Type")
    if value not in (ObjectType.SYMMETRIC_KEY, ObjectType.PRIVATE_KEY):
        raise KmipInvalidField("Register takes a Symmetric Key or a Private Key.")
    return value


def _public(call: Call, common: list[Attribute], public: list[Attribute]) -> Template:
    """The public key's template: the common attributes and its own, without algorithm and
    length (the pair's), its usage mask defaulting from the private key's."""
    kept = [x for x in common + public if x.name not in (a.ALGORITHM, a.LENGTH)]
    return check_template(call, _without_duplicates(kept))


def _without_duplicates(attributes: list[Attribute]) -> list[Attribute]:
    """Single-valued attributes given in both the common and a specific template: the
    specific one wins."""
    seen: dict[str, Attribute] = {}
    multi: list[Attribute] = []
    for attribute in attributes:
        if attribute.name in a.MULTI_VALUED or a.is_custom(attribute.name):
            multi.append(attribute)
        else:
            seen[attribute.name] = attribute
    return multi + list(seen.values())


__all__ = ["KeyMaking", "KeySpec"]
