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
