"""Get (key material, optionally wrapped), GetAttributes, GetAttributeList and Locate.

Get of a symmetric or private key exports its material: ``kms:ExportKeyMaterial`` on the key
(docs/adr/0023), the key-state table's EXPORT row. Get of a public key is ``kms:GetPublicKey``.
A wrapping key must be an AES KMIP object of the same account that the caller may
``kms:Encrypt`` with. GetAttributes and GetAttributeList are ``kms:DescribeKey``; Locate is
``kms:ListKeys`` over the caller's account only.
"""

from __future__ import annotations

from strongroom.kmip import attributes as a
from strongroom.kmip import key_blocks
from strongroom.kmip.attributes import Attribute
from strongroom.kmip.enums import Operation as Code
from strongroom.kmip.enums import UsageMask
from strongroom.kmip.errors import KmipInvalidField, KmipPermissionDenied
from strongroom.kmip.object_view import SPECS, all_attributes, object_type, usage_mask
from strongroom.kmip.objects import KmipObjects
from strongroom.kmip.operation import (
    KEY_ID,
    PUBLIC,
    UID,
    KmipOperation,
    answer,
    payload_of,
    version_of,
)
from strongroom.kmip.tags import Tag
from strongroom.kmip.ttlv import Item, ItemType
from strongroom.kms.domain.enums import KeySpec
from strongroom.kms.domain.kmip import EXPORT_ACTION, ObjectKind, split_unique_id, unique_id
from strongroom.kms.domain.states import OpClass
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response

WRAPPING_KEY_ID = "WrappingKeyId"
MAX_LOCATE = 1000


def _request_uid(call: Call) -> str:
    return str(call.request[UID])


class Retrieval:
    def __init__(self, objects: KmipObjects) -> None:
        self._objects = objects

    # --- Get ------------------------------------------------------------------------------

    def get(self, call: Call) -> Response:
        key = call.key
        obj = self._objects.of(key)
        public = bool(call.request.get(PUBLIC))
        if public and obj.kind is not ObjectKind.PRIVATE_KEY:
            raise KmipInvalidField("Only a key pair has a public key.")
        kind = object_type(obj, public)
        payload = payload_of(call)
        asked_format = None if payload is None else payload.find(Tag.KEY_FORMAT_TYPE)
        if payload is not None and payload.find(Tag.KEY_COMPRESSION_TYPE) is not None:
            raise KmipInvalidField("Key Compression Type is not supported.")
        if public:
            material = call.ctx.cache.asymmetric(key).public_key()
        else:
            material = call.ctx.cache.exported(key).reveal()
        key_format, value = key_blocks.formatted(
            kind, material, None if asked_format is None else asked_format.number
        )
        algorithm, length = SPECS[key.key_spec]
        wrapping_data = None
        wrapping = key_blocks.wrapping_request(payload)
        if wrapping is not None:
            value, wrapping_data = self._wrapped(call, wrapping, value)
        return answer(
            [
                Item.enum(Tag.OBJECT_TYPE, kind),
                Item.text(Tag.UNIQUE_IDENTIFIER, unique_id(key.key_id, public)),
                key_blocks.key_object(
                    kind,
                    key_format,
                    value,
                    algorithm=algorithm,
                    length=length,
                    wrapping=wrapping_data,
                ),
            ]
        )

    def _wrapped(self, call: Call, wrapping: tuple[str, int], value: bytes) -> tuple[bytes, Item]:
        wrapping_key = call.keys[1]
        assert wrapping_key is not None  # the pipeline resolved and authorized it
        obj = self._objects.of(wrapping_key)
        if wrapping_key.key_spec is not KeySpec.SYMMETRIC_DEFAULT:
            raise KmipInvalidField("The wrapping key must be an AES key.")
        if not usage_mask(obj, wrapping_key, False) & (UsageMask.WRAP_KEY | UsageMask.ENCRYPT):
            raise KmipPermissionDenied("The wrapping key's usage mask allows no wrapping.")
        material = call.ctx.cache.exported(wrapping_key).reveal()
        return key_blocks.wrap(material, wrapping[0], value, wrapping[1])

    # --- attributes -----------------------------------------------------------------------

    def get_attributes(self, call: Call) -> Response:
        key = call.key
        public = bool(call.request.get(PUBLIC))
        obj = self._objects.of(key)
        version = version_of(call)
        every = all_attributes(obj, key, public)
        wanted = _wanted_names(payload_of(call))
        chosen = every if not wanted else [x for x in every if x.name in wanted]
        return answer(
            [
                Item.text(Tag.UNIQUE_IDENTIFIER, _request_uid(call)),
                *a.encode_all(chosen, version),
            ]
        )

    def get_attribute_list(self, call: Call) -> Response:
        key = call.key
        obj = self._objects.of(key)
        names = list(
            dict.fromkeys(x.name for x in all_attributes(obj, key, bool(call.request.get(PUBLIC))))
        )
        version = version_of(call)
        if version >= (2, 0):
            listed = [
                Item.enum(Tag.ATTRIBUTE_REFERENCE, a.TAGS[name][0])
                for name in names
                if name in a.TAGS
            ]
        else:
            listed = [Item.text(Tag.ATTRIBUTE_NAME, name) for name in names]
        return answer([Item.text(Tag.UNIQUE_IDENTIFIER, _request_uid(call)), *listed])

    # --- Locate ---------------------------------------------------------------------------

    def locate(self, call: Call) -> Response:
        payload = payload_of(call)
        criteria = a.parse_template(payload, Tag.ATTRIBUTES) if payload is not None else []
        if payload is not None:
            criteria += [a.parse_one(item) for item in payload.find_all(Tag.ATTRIBUTE)]
        maximum = _count(payload, Tag.MAXIMUM_ITEMS) or MAX_LOCATE
        offset = _count(payload, Tag.OFFSET_ITEMS) or 0
        name = next((a.name_text(c) for c in criteria if c.name == a.NAME), None)
        found: list[str] = []
        for obj in self._objects.repository.locate(
            call.caller.account_id, name=name, kinds=None, limit=MAX_LOCATE
        ):
            key = call.ctx.cache.key(call.region, obj.key_id)
            if key is None:
                continue
            views = [False, True] if obj.kind is ObjectKind.PRIVATE_KEY else [False]
            for public in views:
                every = all_attributes(obj, key, public)
                if all(_matches(c, every) for c in criteria):
                    found.append(unique_id(key.key_id, public))
        chosen = found[offset : offset + maximum]
        # KMIP 1.3 and later also say how many objects match in all (before Offset Items).
        total = [Item.integer(Tag.LOCATED_ITEMS, len(found))] if version_of(call) >= (1, 3) else []
        return answer(total + [Item.text(Tag.UNIQUE_IDENTIFIER, uid) for uid in chosen])

    def operations(self) -> tuple[KmipOperation, ...]:
        def get(name: str, action: str, op_class: OpClass, wrapped: bool) -> Operation:
            keys: tuple[KeyAccess, ...] = (KeyAccess(KEY_ID, action, op_class, aliases=False),)
            if wrapped:
                keys += (KeyAccess(WRAPPING_KEY_ID, "kms:Encrypt", OpClass.CRYPTO, aliases=False),)
            return Operation(name, self.get, keys)

        variants = {
            (False, False): get("KmipGet", EXPORT_ACTION, OpClass.EXPORT, False),
            (False, True): get("KmipGetWrapped", EXPORT_ACTION, OpClass.EXPORT, True),
            (True, False): get("KmipGetPublicKey", "kms:GetPublicKey", OpClass.READ, False),
            (True, True): get("KmipGetPublicKeyWrapped", "kms:GetPublicKey", OpClass.READ, True),
        }

        def choose(request: dict[str, object]) -> Operation:
            return variants[(bool(request.get(PUBLIC)), WRAPPING_KEY_ID in request)]

        describe = (KeyAccess(KEY_ID, "kms:DescribeKey", OpClass.READ, aliases=False),)
        return (
            KmipOperation(Code.GET, variants[(False, False)], prepare=_wrapping_key, choose=choose),
            KmipOperation(
                Code.GET_ATTRIBUTES, Operation("KmipGetAttributes", self.get_attributes, describe)
            ),
            KmipOperation(
                Code.GET_ATTRIBUTE_LIST,
                Operation("KmipGetAttributeList", self.get_attribute_list, describe),
            ),
            KmipOperation(
                Code.LOCATE,
                Operation("KmipLocate", self.locate, action="kms:ListKeys"),
                names_object=False,
            ),
        )


def _wrapping_key(request: dict[str, object]) -> None:
    """Name the wrapping key in the request, so that the pipeline resolves and authorizes it."""
    payload = request.get("Payload")
    wrapping = key_blocks.wrapping_request(payload if isinstance(payload, Item) else None)
    if wrapping is not None:
        key_id, public = split_unique_id(wrapping[0])
        if public:
            raise KmipInvalidField("A public key cannot wrap.")
        request[WRAPPING_KEY_ID] = key_id


def _count(payload: Item | None, tag: Tag) -> int | None:
    found = None if payload is None else payload.find(tag)
    if found is None:
        return None
    value = found.number
    if value < 0:
        raise KmipInvalidField(f"{tag.name} must not be negative.")
    return value


def _wanted_names(payload: Item | None) -> set[str]:
    """Names asked for: 1.x Attribute Names; 2.0 Attribute References (a tag enumeration, or
    a structure with an Attribute Name)."""
    if payload is None:
        return set()
    names = {item.string for item in payload.find_all(Tag.ATTRIBUTE_NAME)}
    for reference in payload.find_all(Tag.ATTRIBUTE_REFERENCE):
        if reference.type is ItemType.STRUCTURE:
            named = reference.find(Tag.ATTRIBUTE_NAME)
            if named is not None:
                names.add(named.string)
        else:
            names |= {name for name, (t, _) in a.TAGS.items() if int(t) == reference.number}
    return names


def _matches(criterion: Attribute, attributes: list[Attribute]) -> bool:
    encoded = criterion.value
    return any(x.name == criterion.name and x.value == encoded for x in attributes)
