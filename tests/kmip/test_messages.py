"""Whole messages: batches with KMIP's ID placeholder, the Stop option, and the answers to
bytes that are not a request (Invalid Message) or to operations this server does not do."""

from __future__ import annotations

import socket
import ssl
from typing import Any

from kmip.core import enums
from kmip.core.factories.attributes import AttributeFactory
from kmip.core.messages import contents, messages, payloads
from kmip.core.objects import TemplateAttribute

from strongroom.kmip import ttlv
from strongroom.kmip.tags import Tag
from tests.kmip.conftest import Tenant
from tests.support.kmip import KmipWorld

FACTORY = AttributeFactory()


def _batch(operation: Any, payload: Any) -> Any:
    return messages.RequestBatchItem(
        operation=contents.Operation(operation), request_payload=payload
    )


def _create_payload() -> Any:
    template = TemplateAttribute(
        attributes=[
            FACTORY.create_attribute(
                enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM, enums.CryptographicAlgorithm.AES
            ),
            FACTORY.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 256),
        ]
    )
    return payloads.CreateRequestPayload(enums.ObjectType.SYMMETRIC_KEY, template)


def test_create_activate_get_in_one_batch_use_the_id_placeholder(
    world: KmipWorld, tenant: Tenant
) -> None:
    raw = world.raw(tenant.pair)
    try:
        request = raw._build_request_message(
            None,
            [
                _batch(enums.Operation.CREATE, _create_payload()),
                _batch(enums.Operation.ACTIVATE, payloads.ActivateRequestPayload()),
                _batch(enums.Operation.GET, payloads.GetRequestPayload()),
            ],
        )
        response = raw._send_and_receive_message(request)
    finally:
        raw.close()
    items = response.batch_items
    assert [i.result_status.value for i in items] == [enums.ResultStatus.SUCCESS] * 3
    uid = items[0].response_payload.unique_identifier
    assert items[1].response_payload.unique_identifier.value == uid
    assert items[2].response_payload.unique_identifier == uid
    assert len(items[2].response_payload.secret.key_block.key_value.key_material.value) == 32


def test_with_stop_a_batch_ends_at_its_first_failure(world: KmipWorld, tenant: Tenant) -> None:
    raw = world.raw(tenant.pair)
    try:
        request = raw._build_request_message(
            None,
            [
                _batch(enums.Operation.GET, payloads.GetRequestPayload(unique_identifier="nope")),
                _batch(enums.Operation.CREATE, _create_payload()),
            ],
        )
        request.request_header.batch_error_cont_option = contents.BatchErrorContinuationOption(
            enums.BatchErrorContinuationOption.STOP
        )
        response = raw._send_and_receive_message(request)
    finally:
        raw.close()
    assert len(response.batch_items) == 1
    failed = response.batch_items[0]
    assert failed.result_reason.value == enums.ResultReason.ITEM_NOT_FOUND


def _exchange(world: KmipWorld, tenant: Tenant, data: bytes) -> ttlv.Item:
    context = ssl.create_default_context(cafile=str(world.pki.server_ca.pem))
    context.load_cert_chain(str(tenant.pair.certificate), str(tenant.pair.private_key))
    with (
        socket.create_connection(("127.0.0.1", world.port), timeout=10) as plain,
        context.wrap_socket(plain, server_hostname="localhost") as tls,
    ):
        tls.sendall(data)
        header = b""
        while len(header) < 8:
            header += tls.recv(8 - len(header))
        body = b""
        need = ttlv.message_length(header) - 8
        while len(body) < need:
            body += tls.recv(need - len(body))
    return ttlv.decode(header + body)


def _only_item(answer: ttlv.Item) -> ttlv.Item:
    assert answer.tag == Tag.RESPONSE_MESSAGE
    item = answer.find(Tag.BATCH_ITEM)
    assert item is not None
    return item


def test_bytes_that_are_not_a_request_get_invalid_message(world: KmipWorld, tenant: Tenant) -> None:
    # A well-framed structure whose first child is an integer, not a request header.
    junk = ttlv.encode(
        ttlv.Item.struct(Tag.REQUEST_MESSAGE, [ttlv.Item.integer(Tag.BATCH_COUNT, 1)])
    )
    item = _only_item(_exchange(world, tenant, junk))
    assert item.find(Tag.RESULT_STATUS).value == enums.ResultStatus.OPERATION_FAILED.value  # type: ignore[union-attr]
    assert item.find(Tag.RESULT_REASON).value == enums.ResultReason.INVALID_MESSAGE.value  # type: ignore[union-attr]
    # Dirty padding is refused too, whole.
    dirty = bytearray(
        ttlv.encode(ttlv.Item.struct(Tag.REQUEST_MESSAGE, [ttlv.Item.integer(Tag.BATCH_COUNT, 1)]))
    )
    dirty[-1] = 1
    item = _only_item(_exchange(world, tenant, bytes(dirty)))
    assert item.find(Tag.RESULT_REASON).value == enums.ResultReason.INVALID_MESSAGE.value  # type: ignore[union-attr]


def test_an_operation_this_server_does_not_do_is_operation_not_supported(
    world: KmipWorld, tenant: Tenant
) -> None:
    raw = world.raw(tenant.pair)
    try:
        # Rekey, encoded by pykmip.
        request = raw._build_request_message(
            None,
            [_batch(enums.Operation.REKEY, payloads.RekeyRequestPayload(unique_identifier="x"))],
        )
        response = raw._send_and_receive_message(request)
    finally:
        raw.close()
    item = response.batch_items[0]
    assert item.result_status.value == enums.ResultStatus.OPERATION_FAILED
    assert item.result_reason.value == enums.ResultReason.OPERATION_NOT_SUPPORTED
