"""Callers of API requests, kept on their credential per (address, region)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from strongroom.kms.domain.principals import Principal
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.service import caller as caller_module
from strongroom.kms.service.caller import Caller, Credential

PRINCIPAL = Principal("111122223333", "alice", datetime(2026, 12, 5, tzinfo=UTC))


def credential() -> Credential:
    return Credential("AKIAEXAMPLE", PRINCIPAL, Secret(b"secret"))


def test_a_caller_is_the_credential_s_principal_at_an_address_in_a_region() -> None:
    found = Caller.from_credential(credential(), "10.0.0.1", "eu-west-1")
    assert found == Caller(
        "111122223333",
        "arn:aws:iam::111122223333:user/alice",
        "AKIAEXAMPLE",
        "10.0.0.1",
        "eu-west-1",
        counted=True,
    )


def test_the_same_address_and_region_get_the_same_caller() -> None:
    key = credential()
    first = Caller.from_credential(key, "10.0.0.1", "us-east-1")
    assert Caller.from_credential(key, "10.0.0.1", "us-east-1") is first
    assert Caller.from_credential(key, "10.0.0.2", "us-east-1").source_ip == "10.0.0.2"
    assert Caller.from_credential(key, "10.0.0.1", "eu-west-1").region == "eu-west-1"


def test_callers_are_never_shared_between_credentials() -> None:
    first = Caller.from_credential(credential(), "10.0.0.1", "us-east-1")
    renamed = dataclasses.replace(credential(), principal=dataclasses.replace(PRINCIPAL, name="b"))
    assert Caller.from_credential(renamed, "10.0.0.1", "us-east-1").principal_arn.endswith("/b")
    assert first.principal_arn.endswith("/alice")


def test_a_replaced_credential_starts_without_callers() -> None:
    key = credential()
    Caller.from_credential(key, "10.0.0.1", "us-east-1")
    assert dataclasses.replace(key).callers == {}
    assert key == dataclasses.replace(key)  # the callers are no part of equality


def test_callers_per_credential_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(caller_module, "CALLERS_PER_CREDENTIAL", 3)
    key = credential()
    for index in range(10):
        Caller.from_credential(key, f"10.0.0.{index}", "us-east-1")
        assert len(key.callers) <= 3


def test_a_caller_cannot_be_changed() -> None:
    found = Caller.from_credential(credential(), "10.0.0.1", "us-east-1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.region = "eu-west-1"  # type: ignore[misc]
