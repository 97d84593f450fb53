"""Query and DiscoverVersions over TLS with pykmip's KmipClient; who may connect at all."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
from kmip.core import enums
from kmip.core.messages.contents import ProtocolVersion
from kmip.pie.exceptions import KmipOperationFailure
from kmip.services.kmip_protocol import RequestLengthMismatch

from tests.kmip.conftest import Tenant
from tests.support.kmip import KmipWorld, authority


def test_discover_versions_lists_2_0_and_1_4_to_1_0_newest_first(
    world: KmipWorld, tenant: Tenant
) -> None:
    client = world.raw(tenant.pair)
    try:
        result = client.discover_versions()
    finally:
        client.close()
    assert result.result_status.value == enums.ResultStatus.SUCCESS
    versions = [(v.major, v.minor) for v in result.protocol_versions]
    assert versions == [(2, 0), (1, 4), (1, 3), (1, 2), (1, 1), (1, 0)]


def test_discover_versions_answers_the_subset_the_client_offers(
    world: KmipWorld, tenant: Tenant
) -> None:
    client = world.raw(tenant.pair)
    try:
        offered = [ProtocolVersion(3, 0), ProtocolVersion(1, 2), ProtocolVersion(1, 1)]
        result = client.discover_versions(protocol_versions=offered)
    finally:
        client.close()
    assert [(v.major, v.minor) for v in result.protocol_versions] == [(1, 2), (1, 1)]


def test_query_names_the_operations_objects_and_vendor(world: KmipWorld, tenant: Tenant) -> None:
    client = world.raw(tenant.pair)
    try:
        result = client.query(
            query_functions=[
                enums.QueryFunction.QUERY_OPERATIONS,
                enums.QueryFunction.QUERY_OBJECTS,
                enums.QueryFunction.QUERY_SERVER_INFORMATION,
            ]
        )
    finally:
        client.close()
    assert result.result_status.value == enums.ResultStatus.SUCCESS
    operations = {enums.Operation(op.value) for op in result.operations}
    assert {enums.Operation.QUERY, enums.Operation.DISCOVER_VERSIONS} <= operations
    objects = {enums.ObjectType(o.value) for o in result.object_types}
    assert objects == {
        enums.ObjectType.SYMMETRIC_KEY,
        enums.ObjectType.PUBLIC_KEY,
        enums.ObjectType.PRIVATE_KEY,
    }
    assert result.vendor_identification == "Strongroom"


def test_a_certificate_from_the_right_ca_that_is_not_registered_is_not_authenticated(
    world: KmipWorld,
) -> None:
    stranger = world.pki.client("stranger")
    client = world.proxy(stranger)
    try:
        with pytest.raises(KmipOperationFailure) as failure:
            client.create(enums.CryptographicAlgorithm.AES, 256)
    finally:
        client.close()
    assert failure.value.reason == enums.ResultReason.AUTHENTICATION_NOT_SUCCESSFUL


def test_a_certificate_from_another_ca_fails_the_handshake(world: KmipWorld, tmp_path: Any) -> None:
    rogue_ca = authority(tmp_path, "rogue-ca")
    rogue = world.pki.client("rogue", ca=rogue_ca)
    # TLS 1.3: the client's handshake ends before the server checks its certificate, so the
    # refusal shows as an alert or a closed connection on the first read; never an answer.
    with pytest.raises((ssl.SSLError, OSError, EOFError, RequestLengthMismatch)):
        client = world.raw(rogue)
        try:
            client.discover_versions()
        finally:
            client.close()


def test_no_client_certificate_fails_the_handshake(world: KmipWorld) -> None:
    context = ssl.create_default_context(cafile=str(world.pki.server_ca.pem))
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        import socket

        with (
            socket.create_connection(("127.0.0.1", world.port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"\x42\x00\x78\x01\x00\x00\x00\x00")
            if not tls.recv(8):
                raise ConnectionError("closed without an answer")
