"""Every call through the pipeline leaves an audit event, refused calls included."""

from __future__ import annotations

from typing import Any

from tests.support.errors import aws_error
from tests.support.servers import InProcessServer


def _events(server: InProcessServer, request_id: str) -> list[Any]:
    return [e for e in server.audit.events if e.request_id == request_id]


def test_success_and_refusal_are_audited_with_the_key(
    kms: Any, server: InProcessServer, key_id: str
) -> None:
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    out = kms.encrypt(KeyId=key_id, Plaintext=b"audited secret")
    (event,) = _events(server, out["ResponseMetadata"]["RequestId"])
    assert (event.operation, event.resources, event.error_code) == ("Encrypt", (arn,), None)
    assert event.principal_arn.endswith(":user/admin")
    assert event.source_ip == "127.0.0.1"
    assert "audited secret" not in repr(event.to_json())

    kms.disable_key(KeyId=key_id)
    with aws_error("DisabledException"):
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    refused = [
        e
        for e in server.audit.events
        if e.operation == "Encrypt" and e.error_code == "DisabledException"
    ]
    assert refused and refused[-1].resources == (arn,)
    assert refused[-1].to_json()["outcome"] == "failure"


def test_a_request_through_a_local_proxy_is_audited_with_the_forwarded_address(
    server: InProcessServer, key_id: str
) -> None:
    """A request forwarded by a proxy on loopback carries the client's address in
    X-Forwarded-For (uvicorn's proxy-headers handling, on the ASGI path); a plain request is
    answered by the direct path (ADR 33) with the connection's address. Both are audited."""
    kms = server.client()

    def forwarded(request: Any, **_: Any) -> None:
        request.headers["X-Forwarded-For"] = "203.0.113.7"

    kms.meta.events.register("before-send.kms.Encrypt", forwarded)
    proxied = kms.encrypt(KeyId=key_id, Plaintext=b"via a proxy")
    plain = server.client().encrypt(KeyId=key_id, Plaintext=b"direct")
    (via_proxy,) = _events(server, proxied["ResponseMetadata"]["RequestId"])
    (direct,) = _events(server, plain["ResponseMetadata"]["RequestId"])
    assert (via_proxy.source_ip, direct.source_ip) == ("203.0.113.7", "127.0.0.1")


def test_a_request_body_above_the_direct_limit_is_answered_on_the_asgi_path(
    raw_kms: Any, key_id: str
) -> None:
    """Over 64 KiB (uvicorn's high-water mark) the body is read through ASGI; the operation's
    own validation still answers."""
    with aws_error("ValidationException", 400) as error:
        raw_kms.encrypt(KeyId=key_id, Plaintext=b"x" * 70_000)
    assert "'plaintext'" in error.message
