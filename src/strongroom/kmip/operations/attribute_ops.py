"""AddAttribute, ModifyAttribute, DeleteAttribute (KMIP 1.x and 2.0) and SetAttribute (2.0).

Clients change Name, Object Group, Contact Information, Application Specific Information and
their own ``x-`` attributes; the others are the server's (Permission Denied). Adding and
modifying are ``kms:TagResource``, deleting ``kms:UntagResource`` (the KMS's actions for a
key's descriptive labels), on the key-state table's MODIFY row. Each change is one
transaction with its audit event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from strongroom.kmip import attributes as a
from strongroom.kmip.attributes import Attribute
from strongroom.kmip.enums import Operation as Code
from strongroom.kmip.errors import (
    KmipIllegalOperation,
    KmipInvalidField,
    KmipItemNotFound,
    KmipMissingData,
    KmipPermissionDenied,
)
from strongroom.kmip.object_view import PUBLIC_PREFIX
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
from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.kmip import KmipObject, ObjectKind
from strongroom.kms.domain.states import OpClass
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response
from strongroom.kms.storage.kmip import KmipObjectGone

Stored = list[tuple[str, bytes]]


def _check_modifiable(name: str) -> None:
    if not (name in a.CLIENT_MODIFIABLE or a.is_custom(name)):
        raise KmipPermissionDenied(f"{name} is read-only for clients.")


def _instances(stored: Stored, name: str) -> list[int]:
    return [i for i, (n, _) in enumerate(stored) if n == name]


def _names(stored: Stored) -> tuple[str, ...]:
    return tuple(
        a.name_text(a.from_stored(n, d))
        for n, d in stored
        if n.removeprefix(PUBLIC_PREFIX) == a.NAME
    )


class AttributeChanges:
    def __init__(self, objects: KmipObjects) -> None:
        self._objects = objects

    def _change(
        self, call: Call, edit: Callable[[Stored, str], Attribute | None]
    ) -> Attribute | None:
        """Run ``edit(stored, prefix)`` on the object's attributes in one transaction; it
        returns the attribute to answer with."""
        self._objects.of(call.key)
        public = bool(call.request.get(PUBLIC))
        now = call.ctx.clock.now()
        result: list[Attribute | None] = []

        def mutate(obj: KmipObject, key: KeyRecord) -> tuple[KmipObject, KeyState | None]:
            if public and obj.kind is not ObjectKind.PRIVATE_KEY:
                raise KmipItemNotFound("Only a key pair has a public key.")
            prefix = PUBLIC_PREFIX if public else ""
            stored = list(obj.attributes)
            result.append(edit(stored, prefix))
            return replace(
                obj, attributes=tuple(stored), names=_names(stored), changed_at=now
            ), None

        try:
            obj, key = self._objects.repository.update(call.key.key_id, now, mutate)
        except KmipObjectGone:
            raise KmipItemNotFound("The object no longer exists.") from None
        call.ctx.cache.put_key(key)
        self._objects.put(obj)
        return result[0]

    def _answer(self, call: Call, attribute: Attribute | None) -> Response:
        children = [Item.text(Tag.UNIQUE_IDENTIFIER, str(call.request[UID]))]
        if attribute is not None and version_of(call) < (2, 0):
            children.append(a.encode(attribute, version_of(call)))
        return answer(children)

    # --- operations ---------------------------------------------------------------------

    def add(self, call: Call) -> Response:
        new = _new_attribute(payload_of(call), version_of(call))
        _check_modifiable(new.name)
        if new.name == a.NAME:
            a.name_text(new)

        def edit(stored: Stored, prefix: str) -> Attribute:
            existing = _instances(stored, prefix + new.name)
            if existing and new.name not in a.MULTI_VALUED and not a.is_custom(new.name):
                raise KmipIllegalOperation(f"{new.name} has a value already: modify it.")
            stored.append((prefix + new.name, a.Attribute(new.name, new.value).stored()[1]))
            return Attribute(new.name, new.value, len(existing))

        return self._answer(call, self._change(call, edit))

    def modify(self, call: Call) -> Response:
        payload = payload_of(call)
        version = version_of(call)
        new = _new_attribute(payload, version)
        current = _current_attribute(payload) if version >= (2, 0) else None
        _check_modifiable(new.name)
        if new.name == a.NAME:
            a.name_text(new)

        def edit(stored: Stored, prefix: str) -> Attribute:
            at = _locate(stored, prefix + new.name, new.index, current)
            stored[at] = (prefix + new.name, new.stored()[1])
            return Attribute(new.name, new.value, new.index or 0)

        return self._answer(call, self._change(call, edit))

    def set_attribute(self, call: Call) -> Response:
        new = _new_attribute(payload_of(call), (2, 0))
        _check_modifiable(new.name)
        if new.name in a.MULTI_VALUED:
            raise KmipIllegalOperation(f"{new.name} has several values: add or modify them.")

        def edit(stored: Stored, prefix: str) -> Attribute:
            existing = _instances(stored, prefix + new.name)
            item = (prefix + new.name, new.stored()[1])
            if existing:
                stored[existing[0]] = item
            else:
                stored.append(item)
            return new

        self._change(call, edit)
        return self._answer(call, None)

    def delete(self, call: Call) -> Response:
        payload = payload_of(call)
        if payload is None:
            raise KmipMissingData("DeleteAttribute names no attribute.")
        if version_of(call) >= (2, 0):
            current = _current_attribute(payload)
            reference = payload.find(Tag.ATTRIBUTE_REFERENCE)
            name = current.name if current is not None else _referenced_name(reference)
            index = None
        else:
            named = payload.find(Tag.ATTRIBUTE_NAME)
            if named is None:
                raise KmipMissingData("Attribute Name is missing.")
            name, current = named.string, None
            found_index = payload.find(Tag.ATTRIBUTE_INDEX)
            index = None if found_index is None else found_index.number
        _check_modifiable(name)

        def edit(stored: Stored, prefix: str) -> Attribute:
            at = _locate(stored, prefix + name, index, current)
            removed = a.from_stored(name, stored.pop(at)[1])
            return Attribute(name, removed.value, index or 0)

        return self._answer(call, self._change(call, edit))

    def operations(self) -> tuple[KmipOperation, ...]:
        tag = (KeyAccess(KEY_ID, "kms:TagResource", OpClass.MODIFY, aliases=False, fresh=True),)
        untag = (KeyAccess(KEY_ID, "kms:UntagResource", OpClass.MODIFY, aliases=False, fresh=True),)
        return (
            KmipOperation(Code.ADD_ATTRIBUTE, Operation("KmipAddAttribute", self.add, tag)),
            KmipOperation(
                Code.MODIFY_ATTRIBUTE, Operation("KmipModifyAttribute", self.modify, tag)
            ),
            KmipOperation(
                Code.DELETE_ATTRIBUTE, Operation("KmipDeleteAttribute", self.delete, untag)
            ),
            KmipOperation(
                Code.SET_ATTRIBUTE, Operation("KmipSetAttribute", self.set_attribute, tag)
            ),
        )


def _new_attribute(payload: Item | None, version: tuple[int, int]) -> Attribute:
    if payload is None:
        raise KmipMissingData("The request names no attribute.")
    if version >= (2, 0):
        holder = payload.find(Tag.NEW_ATTRIBUTE)
        if holder is None or len(holder.children) != 1:
            raise KmipMissingData("New Attribute must hold one attribute.")
        return a.parse_tagged(holder.children[0])
    item = payload.find(Tag.ATTRIBUTE)
    if item is None:
        raise KmipMissingData("Attribute is missing.")
    return a.parse_one(item)


def _current_attribute(payload: Item | None) -> Attribute | None:
    holder = None if payload is None else payload.find(Tag.CURRENT_ATTRIBUTE)
    if holder is None:
        return None
    if len(holder.children) != 1:
        raise KmipInvalidField("Current Attribute must hold one attribute.")
    return a.parse_tagged(holder.children[0])


def _referenced_name(reference: Item | None) -> str:
    if reference is None:
        raise KmipMissingData("Current Attribute or Attribute Reference is required.")
    named = reference.find(Tag.ATTRIBUTE_NAME) if reference.type is ItemType.STRUCTURE else None
    if named is not None:
        return named.string
    for name, (tag, _) in a.TAGS.items():
        if int(tag) == reference.number:
            return name
    raise KmipInvalidField("The Attribute Reference names no attribute this server keeps.")


def _locate(stored: Stored, name: str, index: int | None, current: Attribute | None) -> int:
    instances = _instances(stored, name)
    if current is not None:
        wanted = current.stored()[1]
        matching = [i for i in instances if stored[i][1] == wanted]
        if not matching:
            raise KmipItemNotFound(f"No {current.name} with that value.")
        return matching[0]
    position = index or 0
    if position >= len(instances):
        raise KmipItemNotFound(f"No {name.removeprefix(PUBLIC_PREFIX)} at index {position}.")
    return instances[position]
