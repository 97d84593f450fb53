"""AddAttribute, ModifyAttribute, DeleteAttribute (KMIP 1.x) and SetAttribute (2.0): what
clients may change, the result reasons for what they may not, and that changes persist."""

from __future__ import annotations

from typing import Any

import pytest
from kmip.core import enums, primitives, utils
from kmip.core import objects as cobjects
from kmip.core.exceptions import OperationFailure
from kmip.core.factories.attributes import AttributeFactory
from kmip.core.messages import messages
from kmip.services.kmip_client import KMIPProxy

from strongroom.kmip import ttlv
from strongroom.kmip.tags import Tag
from tests.support.kmip import KmipWorld

FACTORY = AttributeFactory()


def _custom(name: str, value: str, index: int | None = None) -> Any:
    attribute = FACTORY.create_attribute(name, value, index)
    return attribute


class _Payload(primitives.Struct):  # type: ignore[misc]
    """A request payload pykmip has no class for (AddAttribute), from pykmip's own primitives."""

    def __init__(self, children: list[Any]) -> None:
        super().__init__(enums.Tags.REQUEST_PAYLOAD)
        self._children = children

    def write(self, ostream: Any, kmip_version: Any = enums.KMIPVersion.KMIP_1_2) -> None:
        buffer = utils.BytearrayStream()
        for child in self._children:
            child.write(buffer, kmip_version=kmip_version)
        self.length = buffer.length()
        super().write(ostream, kmip_version=kmip_version)
        ostream.write(buffer.buffer)


def add_attribute(raw: KMIPProxy, uid: str, attribute: Any) -> ttlv.Item:
    """AddAttribute encoded by pykmip, sent on pykmip's TLS connection; the answer's batch item
    decoded with Strongroom's codec."""
    batch = messages.RequestBatchItem(
        operation=primitives.Enumeration(
            enums.Operation, enums.Operation.ADD_ATTRIBUTE, tag=enums.Tags.OPERATION
        ),
        request_payload=_Payload(
            [primitives.TextString(uid, enums.Tags.UNIQUE_IDENTIFIER), attribute]
        ),
    )
    message = raw._build_request_message(None, [batch])
    stream = utils.BytearrayStream()
    message.write(stream, kmip_version=enums.KMIPVersion.KMIP_1_2)
    raw.protocol.write(stream.buffer)
    answer = ttlv.decode(bytes(raw.protocol.read().buffer))
    item = answer.find(Tag.BATCH_ITEM)
    assert item is not None
    return item


def _values(proxy: Any, uid: str, name: str) -> list[Any]:
    _, attributes = proxy.get_attributes(uid, [name])
    return [a.attribute_value.value for a in attributes]


def test_a_custom_attribute_is_added_modified_and_deleted(
    world: KmipWorld, tenant: Any, proxy: Any
) -> None:
    uid = proxy.create(enums.CryptographicAlgorithm.AES, 256)
    raw = world.raw(tenant.pair)
    try:
        answer = add_attribute(raw, uid, _custom("x-vm", "vm-17"))
    finally:
        raw.close()
    status = answer.find(Tag.RESULT_STATUS)
    assert status is not None and status.value == 0
    assert _values(proxy, uid, "x-vm") == ["vm-17"]
    _, modified = proxy.modify_attribute(uid, attribute=_custom("x-vm", "vm-18", 0))
    assert modified.attribute_value.value == "vm-18"
    assert _values(proxy, uid, "x-vm") == ["vm-18"]
    _, deleted = proxy.delete_attribute(uid, attribute_name="x-vm", attribute_index=0)
    assert deleted.attribute_value.value == "vm-18"
    assert _values(proxy, uid, "x-vm") == []


def test_a_second_name_is_added_and_found_by_locate(
    world: KmipWorld, tenant: Any, proxy: Any
) -> None:
    uid = proxy.create(enums.CryptographicAlgorithm.AES, 256, name="first-name")
    raw = world.raw(tenant.pair)
    try:
        answer = add_attribute(
            raw, uid, FACTORY.create_attribute(enums.AttributeType.NAME, f"alias-{uid}")
        )
    finally:
        raw.close()
    assert answer.find(Tag.RESULT_STATUS).value == 0  # type: ignore[union-attr]
    name = FACTORY.create_attribute(enums.AttributeType.NAME, f"alias-{uid}")
    assert proxy.locate(attributes=[name]) == [uid]


@pytest.mark.parametrize(
    "attribute",
    [
        FACTORY.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 128),
        FACTORY.create_attribute(enums.AttributeType.STATE, enums.State.ACTIVE),
    ],
    ids=["length", "state"],
)
def test_server_attributes_are_read_only(
    world: KmipWorld, tenant: Any, proxy: Any, attribute: Any
) -> None:
    uid = proxy.create(enums.CryptographicAlgorithm.AES, 256)
    raw = world.raw(tenant.pair)
    try:
        answer = add_attribute(raw, uid, attribute)
    finally:
        raw.close()
    assert answer.find(Tag.RESULT_STATUS).value == 1  # type: ignore[union-attr]
    assert answer.find(Tag.RESULT_REASON).value == enums.ResultReason.PERMISSION_DENIED.value  # type: ignore[union-attr]
    with pytest.raises(OperationFailure) as failure:
        proxy.delete_attribute(uid, attribute_name="State")
    assert failure.value.reason == enums.ResultReason.PERMISSION_DENIED


def test_modifying_an_absent_attribute_is_item_not_found(proxy: Any) -> None:
    uid = proxy.create(enums.CryptographicAlgorithm.AES, 256)
    with pytest.raises(OperationFailure) as failure:
        proxy.modify_attribute(uid, attribute=_custom("x-missing", "v", 0))
    assert failure.value.reason == enums.ResultReason.ITEM_NOT_FOUND


def test_kmip_2_0_set_and_delete_attribute(world: KmipWorld, tenant: Any) -> None:
    client = world.proxy(tenant.pair, enums.KMIPVersion.KMIP_2_0)
    try:
        uid = client.create(enums.CryptographicAlgorithm.AES, 256)
        assert (
            client.set_attribute(
                uid, attribute_name="Contact Information", attribute_value="ops@example.org"
            )
            == uid
        )
        _, attributes = client.get_attributes(uid, ["Contact Information"])
        assert [a.attribute_value.value for a in attributes] == ["ops@example.org"]
        reference = cobjects.AttributeReference(
            vendor_identification="", attribute_name="Contact Information"
        )
        deleted_uid, _ = client.delete_attribute(uid, attribute_reference=reference)
        assert deleted_uid == uid
        _, attributes = client.get_attributes(uid, ["Contact Information"])
        assert attributes == []
    finally:
        client.close()
