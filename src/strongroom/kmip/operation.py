"""What a KMIP operation is to the server: a KMS pipeline operation and its KMIP payloads.

Each KMIP operation is one :class:`~strongroom.kms.service.pipeline.Operation` (named
``Kmip<Operation>`` in the audit trail) run through the one pipeline: resolve the key the
request's Unique Identifier names, authorize it for the operation's ``kms:`` action, check the
key-state table, run, audit. ``request`` turns the payload into the pipeline's request (the
key id under ``KeyId``, the payload under ``Payload``); the handler answers ``{"Payload":
Item}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strongroom.kmip.enums import Operation as OperationCode
from strongroom.kmip.errors import KmipMissingData
from strongroom.kmip.messages import Version
from strongroom.kmip.tags import Tag
from strongroom.kmip.ttlv import Item, ItemType
from strongroom.kms.domain.kmip import split_unique_id
from strongroom.kms.service.pipeline import Call, Operation

KEY_ID = "KeyId"
PAYLOAD = "Payload"
VERSION = "Version"
PUBLIC = "Public"
UID = "UniqueIdentifier"


@dataclass(frozen=True, slots=True)
class KmipOperation:
    code: OperationCode
    operation: Operation
    # Whether the payload names an object (Unique Identifier, or the batch's ID placeholder).
    names_object: bool = True
    # Adds further key ids the pipeline must resolve and authorize (Get's wrapping key).
    prepare: Callable[[dict[str, Any]], None] | None = None
    # Picks another pipeline operation for some requests (Get of a public key, or wrapped).
    choose: Callable[[dict[str, Any]], Operation] | None = None

    def pipeline_operation(self, request: dict[str, Any]) -> Operation:
        return self.operation if self.choose is None else self.choose(request)


def request_of(
    op: KmipOperation, payload: Item | None, version: Version, placeholder: str | None
) -> dict[str, Any]:
    """The pipeline's request for one batch item."""
    request: dict[str, Any] = {PAYLOAD: payload, VERSION: version}
    if not op.names_object:
        return request
    uid = None if payload is None else payload.find(Tag.UNIQUE_IDENTIFIER)
    if uid is not None:
        if uid.type is not ItemType.TEXT_STRING:
            raise KmipMissingData("Unique Identifier must be a text string.")
        value = str(uid.value)
    elif placeholder is not None:
        value = placeholder
    else:
        raise KmipMissingData("Unique Identifier is missing and no earlier batch item set one.")
    key_id, public = split_unique_id(value)
    request[KEY_ID] = key_id
    request[PUBLIC] = public
    request[UID] = value
    if op.prepare is not None:
        op.prepare(request)
    return request


def payload_of(call: Call) -> Item | None:
    payload = call.request.get(PAYLOAD)
    return payload if isinstance(payload, Item) else None


def version_of(call: Call) -> Version:
    version = call.request[VERSION]
    assert isinstance(version, tuple)
    return version


def answer(children: list[Item]) -> dict[str, object]:
    return {PAYLOAD: Item.struct(Tag.RESPONSE_PAYLOAD, children)}


Handler = Callable[[Call], dict[str, object]]
