"""KMIP attributes in both encodings: 1.x ``Attribute{Attribute Name, Attribute Index?,
Attribute Value}`` and 2.0's tagged values inside ``Attributes``.

Inside the server an attribute is ``(name, value)``: its KMIP 1.x name and its value as an
item tagged Attribute Value. Client-set attributes are kept as the TTLV bytes of that item.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from strongroom.kmip import ttlv
from strongroom.kmip.errors import KmipFeatureNotSupported, KmipInvalidField
from strongroom.kmip.messages import Version
from strongroom.kmip.tags import Tag
from strongroom.kmip.ttlv import Item, ItemType

UNIQUE_IDENTIFIER = "Unique Identifier"
NAME = "Name"
OBJECT_TYPE = "Object Type"
ALGORITHM = "Cryptographic Algorithm"
LENGTH = "Cryptographic Length"
USAGE_MASK = "Cryptographic Usage Mask"
STATE = "State"
INITIAL_DATE = "Initial Date"
ACTIVATION_DATE = "Activation Date"
DEACTIVATION_DATE = "Deactivation Date"
LAST_CHANGE_DATE = "Last Change Date"
OBJECT_GROUP = "Object Group"
CONTACT_INFORMATION = "Contact Information"
APPLICATION_SPECIFIC_INFORMATION = "Application Specific Information"
SENSITIVE = "Sensitive"
EXTRACTABLE = "Extractable"

# KMIP 2.0 tags of the attributes this server knows, and each value's item type.
TAGS: dict[str, tuple[Tag, ItemType]] = {
    UNIQUE_IDENTIFIER: (Tag.UNIQUE_IDENTIFIER, ItemType.TEXT_STRING),
    NAME: (Tag.NAME, ItemType.STRUCTURE),
    OBJECT_TYPE: (Tag.OBJECT_TYPE, ItemType.ENUMERATION),
    ALGORITHM: (Tag.CRYPTOGRAPHIC_ALGORITHM, ItemType.ENUMERATION),
    LENGTH: (Tag.CRYPTOGRAPHIC_LENGTH, ItemType.INTEGER),
    USAGE_MASK: (Tag.CRYPTOGRAPHIC_USAGE_MASK, ItemType.INTEGER),
    STATE: (Tag.STATE, ItemType.ENUMERATION),
    INITIAL_DATE: (Tag.INITIAL_DATE, ItemType.DATE_TIME),
    ACTIVATION_DATE: (Tag.ACTIVATION_DATE, ItemType.DATE_TIME),
    DEACTIVATION_DATE: (Tag.DEACTIVATION_DATE, ItemType.DATE_TIME),
    LAST_CHANGE_DATE: (Tag.LAST_CHANGE_DATE, ItemType.DATE_TIME),
    OBJECT_GROUP: (Tag.OBJECT_GROUP, ItemType.TEXT_STRING),
    CONTACT_INFORMATION: (Tag.CONTACT_INFORMATION, ItemType.TEXT_STRING),
    APPLICATION_SPECIFIC_INFORMATION: (Tag.APPLICATION_SPECIFIC_INFORMATION, ItemType.STRUCTURE),
    SENSITIVE: (Tag.SENSITIVE, ItemType.BOOLEAN),
    EXTRACTABLE: (Tag.EXTRACTABLE, ItemType.BOOLEAN),
}
_NAMES_BY_TAG = {int(tag): name for name, (tag, _) in TAGS.items()}

# What clients may add, change and delete after creation (others are the server's).
CLIENT_MODIFIABLE = frozenset(
    {NAME, OBJECT_GROUP, CONTACT_INFORMATION, APPLICATION_SPECIFIC_INFORMATION}
)
# Of those, which may have more than one instance.
MULTI_VALUED = frozenset({NAME, OBJECT_GROUP, APPLICATION_SPECIFIC_INFORMATION})


def is_custom(name: str) -> bool:
    """Client-defined attributes: ``x-...`` (clients) or ``y-...`` (servers) in KMIP 1.x."""
    return name.startswith(("x-", "y-"))


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    value: Item  # tagged ATTRIBUTE_VALUE
    index: int | None = None

    def stored(self) -> tuple[str, bytes]:
        return self.name, ttlv.encode(self.value)

    def text(self) -> str | None:
        return str(self.value.value) if self.value.type is ItemType.TEXT_STRING else None


def value_item(kind: ItemType, value: object) -> Item:
    return Item(Tag.ATTRIBUTE_VALUE, kind, value)


def from_stored(name: str, data: bytes) -> Attribute:
    return Attribute(name, ttlv.decode(data))


def _check_type(name: str, value: Item) -> None:
    known = TAGS.get(name)
    if known is not None and value.type is not known[1]:
        raise KmipInvalidField(f"{name} must be a {known[1].name}.")


def parse_one(item: Item) -> Attribute:
    """A KMIP 1.x Attribute structure."""
    if item.type is not ItemType.STRUCTURE:
        raise KmipInvalidField("Attribute must be a structure.")
    name = item.find(Tag.ATTRIBUTE_NAME)
    if name is None or name.type is not ItemType.TEXT_STRING:
        raise KmipInvalidField("Attribute Name is missing.")
    index = item.find(Tag.ATTRIBUTE_INDEX)
    raw = item.find(Tag.ATTRIBUTE_VALUE)
    if raw is None:
        raise KmipInvalidField(f"Attribute {name.value} has no value.")
    attribute = Attribute(
        str(name.value),
        raw,
        None if index is None else int(index.value),  # type: ignore[call-overload]
    )
    _check_type(attribute.name, raw)
    return attribute


def parse_tagged(item: Item) -> Attribute:
    """A KMIP 2.0 attribute: the value under its own tag."""
    name = _NAMES_BY_TAG.get(item.tag)
    if name is None:
        raise KmipFeatureNotSupported(f"Attribute tag {item.tag:#08x} is not supported.")
    value = Item(Tag.ATTRIBUTE_VALUE, item.type, item.value)
    _check_type(name, value)
    return Attribute(name, value)


# KMIP 2.0's attribute containers: their children are attributes under their own tags.
_TAGGED_CONTAINERS = frozenset(
    {Tag.ATTRIBUTES, Tag.COMMON_ATTRIBUTES, Tag.PRIVATE_KEY_ATTRIBUTES, Tag.PUBLIC_KEY_ATTRIBUTES}
)


def parse_template(payload: Item | None, *tags: Tag) -> list[Attribute]:
    """The attributes of a request: 1.x Template-Attribute structures (and bare Attribute
    items) and 2.0 Attributes structures, among ``tags`` (the payload's own attributes when
    none are named)."""
    if payload is None:
        return []
    containers = [c for tag in tags for c in payload.find_all(tag)] if tags else [payload]
    found: list[Attribute] = []
    for container in containers:
        if container.type is not ItemType.STRUCTURE:
            raise KmipInvalidField("attributes must be in a structure")
        tagged = container.tag in _TAGGED_CONTAINERS
        for child in container.children:
            if child.tag == Tag.ATTRIBUTE:
                found.append(parse_one(child))
            elif tagged:
                found.append(parse_tagged(child))
            # else: a 1.x template's own Name (KMIP 1.0/1.1 templates), not supported
    return found


def encode(attribute: Attribute, version: Version) -> Item:
    """One attribute as the version expects it in a response."""
    if version >= (2, 0):
        tag = TAGS[attribute.name][0] if attribute.name in TAGS else None
        if tag is None:
            raise KmipFeatureNotSupported(f"{attribute.name} has no KMIP 2.0 tag.")
        return Item(tag, attribute.value.type, attribute.value.value)
    children = [Item.text(Tag.ATTRIBUTE_NAME, attribute.name)]
    if attribute.index is not None:
        children.append(Item.integer(Tag.ATTRIBUTE_INDEX, attribute.index))
    children.append(attribute.value)
    return Item.struct(Tag.ATTRIBUTE, children)


def encode_all(attributes: Iterable[Attribute], version: Version) -> list[Item]:
    """Response items: 1.x a list of Attribute structures, 2.0 one Attributes structure."""
    chosen = [a for a in attributes if version < (2, 0) or a.name in TAGS]
    items = [encode(a, version) for a in chosen]
    return [Item.struct(Tag.ATTRIBUTES, items)] if version >= (2, 0) else items


def name_value(text: str) -> Item:
    return value_item(
        ItemType.STRUCTURE,
        [Item.text(Tag.NAME_VALUE, text), Item.enum(Tag.NAME_TYPE, 1)],
    )


def name_text(attribute: Attribute) -> str:
    """The Name Value of a Name attribute."""
    if attribute.value.type is not ItemType.STRUCTURE:
        raise KmipInvalidField("Name must be a structure.")
    value = attribute.value.find(Tag.NAME_VALUE)
    if value is None or value.type is not ItemType.TEXT_STRING:
        raise KmipInvalidField("Name needs a Name Value.")
    return str(value.value)


def single(attributes: list[Attribute], name: str) -> Attribute | None:
    chosen = [a for a in attributes if a.name == name]
    if len(chosen) > 1:
        raise KmipInvalidField(f"{name} may be given once.")
    return chosen[0] if chosen else None


def integer(attribute: Attribute | None) -> int | None:
    return None if attribute is None else attribute.value.number
