"""The pipeline's audit event of a request: every field, from the call (built positionally)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from strongroom.kms.audit.events import KMS_EVENT_SOURCE
from strongroom.kms.audit.parameters import RequestParameters
from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.states import OpClass
from strongroom.kms.service.caller import Caller
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Pipeline

NOW = datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
CALLER = Caller(
    "111122223333", "arn:aws:iam::111122223333:user/alice", "AKIDX", "10.0.0.7", "eu-west-3"
)


def _key(key_id: str) -> KeyRecord:
    return KeyRecord(key_id, "111122223333", "eu-west-3", NOW, KeyState.ENABLED)


def _call(keys: tuple[KeyRecord | None, ...], extra: list[str]) -> tuple[Pipeline, Call]:
    pipeline = Pipeline(cast(Any, None), cast(Any, None), cast(Any, None))
    operation = Operation(
        "Encrypt",
        lambda call: {},
        (KeyAccess("KeyId", "kms:Encrypt", OpClass.CRYPTO),),
    )
    request = {"KeyId": "k", "Plaintext": b"secret", "EncryptionContext": {"a": "b"}}
    call = Call(operation, request, CALLER, "req-1", cast(Any, None), pipeline, keys)
    call.extra_resources.extend(extra)
    return pipeline, call


def test_every_field_of_a_request_event() -> None:
    key = _key("1234abcd-12ab-34cd-56ef-1234567890ab")
    pipeline, call = _call((key,), [])
    event = pipeline._event(call, "DisabledException", NOW)
    assert event.time == NOW
    assert event.request_id == "req-1"
    assert event.account_id == CALLER.account_id
    assert event.principal_arn == CALLER.principal_arn
    assert event.access_key_id == "AKIDX"
    assert event.source_ip == "10.0.0.7"
    assert event.operation == "Encrypt"
    assert event.resources == (key.arn,)
    assert event.error_code == "DisabledException"
    assert event.request_parameters == RequestParameters().select("Encrypt", call.request)
    assert event.request_parameters == {"KeyId": "k", "EncryptionContext": {"a": "b"}}
    assert event.additional_data is None
    assert event.event_source == KMS_EVENT_SOURCE
    assert event.region == "eu-west-3"


def test_resources_are_the_keys_then_what_the_operation_added() -> None:
    first, second = _key("1234abcd-12ab-34cd-56ef-1234567890ab"), _key("mrk-" + "a" * 32)
    pipeline, call = _call((first, None, second), ["arn:aws:kms:eu-west-3:111122223333:alias/x"])
    event = pipeline._event(call, None, NOW)
    assert event.resources == (first.arn, second.arn, "arn:aws:kms:eu-west-3:111122223333:alias/x")
    assert event.error_code is None
    _, bare = _call((None,), [])
    assert pipeline._event(bare, None, NOW).resources == ()
