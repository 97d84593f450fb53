"""The wire protocol: AWS JSON 1.1, SigV4 failures, bodies, unknown operations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from tests.support.errors import aws_error
from tests.support.servers import InProcessServer
from tests.support.signing import send, signed_request


def _call(server: InProcessServer, target: str, body: bytes, **options: Any) -> Any:
    key = server.admin_key
    secret = options.pop("secret", key.secret_access_key)
    headers, payload = signed_request(
        server.endpoint, key.access_key_id, secret, target, body, **options
    )
    return send(server.endpoint, headers, payload)


def test_success_has_request_id_and_json(server: InProcessServer) -> None:
    reply = _call(server, "TrentService.GenerateRandom", b'{"NumberOfBytes": 16}')
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/x-amz-json-1.1"
    assert len(reply.headers["x-amzn-requestid"]) == 36
    assert set(reply.json) == {"Plaintext"}


def test_errors_have_type_message_and_request_id(server: InProcessServer) -> None:
    reply = _call(server, "TrentService.DescribeKey", b'{"KeyId": "alias/absent"}')
    assert reply.status == 400
    assert reply.json["__type"] == "NotFoundException"
    assert "alias/absent" in str(reply.json["message"])
    assert len(reply.headers["x-amzn-requestid"]) == 36


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "SerializationException"),
        (b"[1, 2]", "SerializationException"),
        (b'{"NumberOfBytes": "sixteen"}', "SerializationException"),
    ],
)
def test_malformed_bodies(server: InProcessServer, body: bytes, code: str) -> None:
    reply = _call(server, "TrentService.GenerateRandom", body)
    assert (reply.status, reply.json["__type"]) == (400, code)


def test_unknown_and_unimplemented_operations(server: InProcessServer) -> None:
    reply = _call(server, "TrentService.MakeCoffee", b"{}")
    assert (reply.status, reply.json["__type"]) == (400, "UnknownOperationException")
    reply = _call(server, "Other.Encrypt", b"{}")
    assert reply.json["__type"] == "UnknownOperationException"
    # Every operation of the model is served: one without its required members is invalid.
    reply = _call(server, "TrentService.ReplicateKey", b"{}")
    assert (reply.status, reply.json["__type"]) == (400, "ValidationException")


def test_oversized_body_is_refused(server: InProcessServer) -> None:
    body = orjson.dumps({"Description": "x" * (server.settings.max_body_bytes + 10)})
    reply = _call(server, "TrentService.CreateKey", body)
    assert (reply.status, reply.json["__type"]) == (413, "RequestEntityTooLargeException")


def test_missing_authentication(server: InProcessServer) -> None:
    reply = send(
        server.endpoint,
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"},
        b"{}",
    )
    assert reply.json["__type"] == "MissingAuthenticationTokenException"


def test_wrong_secret(server: InProcessServer) -> None:
    reply = _call(server, "TrentService.ListKeys", b"{}", secret="wrong-secret-0000000000")
    assert (reply.status, reply.json["__type"]) == (400, "InvalidSignatureException")
    assert "wrong-secret" not in reply.body.decode()


def test_tampered_body_after_signing(server: InProcessServer) -> None:
    key = server.admin_key
    headers, _ = signed_request(
        server.endpoint,
        key.access_key_id,
        key.secret_access_key,
        "TrentService.GenerateRandom",
        b'{"NumberOfBytes": 16}',
    )
    reply = send(server.endpoint, headers, b'{"NumberOfBytes": 17}')
    assert reply.json["__type"] == "InvalidSignatureException"


@pytest.mark.parametrize("minutes", [-6, 6])
def test_signature_outside_five_minutes(server: InProcessServer, minutes: int) -> None:
    when = datetime.now(UTC) + timedelta(minutes=minutes)
    reply = _call(server, "TrentService.ListKeys", b"{}", when=when)
    assert reply.json["__type"] == "InvalidSignatureException"
    word = "expired" if minutes < 0 else "not yet current"
    assert word in str(reply.json["message"])


def test_signature_four_minutes_old_is_accepted(server: InProcessServer) -> None:
    reply = _call(
        server, "TrentService.ListKeys", b"{}", when=datetime.now(UTC) - timedelta(minutes=4)
    )
    assert reply.status == 200


def test_wrong_region_and_service(server: InProcessServer) -> None:
    reply = _call(server, "TrentService.ListKeys", b"{}", region="xx-nowhere-1")
    assert reply.json["__type"] == "InvalidSignatureException"
    assert reply.json["message"] == (
        "Credential should be scoped to a valid region, not 'xx-nowhere-1'. "
    )
    reply = _call(server, "TrentService.ListKeys", b"{}", service="s3")
    assert reply.json["__type"] == "InvalidSignatureException"


def test_wrong_region_through_boto3(server: InProcessServer) -> None:
    with aws_error("InvalidSignatureException"):
        server.client(region="xx-nowhere-1").list_keys()


def test_unknown_access_key(server: InProcessServer) -> None:
    from strongroom.kms.service.admin import IssuedAccessKey

    stranger = IssuedAccessKey("AKIAUNKNOWN000000000", "x" * 40, "", "")
    with aws_error("UnrecognizedClientException") as error:
        server.client(key=stranger).list_keys()
    assert error.message == "The security token included in the request is invalid."


def test_health_endpoint_needs_no_signature(server: InProcessServer) -> None:
    reply = send(server.endpoint, {}, b"", method="GET", path="/health")
    assert (reply.status, reply.json) == (200, {"status": "ok"})
    reply = send(server.endpoint, {}, b"", method="GET", path="/")
    assert reply.json["__type"] == "UnknownOperationException"
