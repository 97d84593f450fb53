"""KMIP's lifecycle over the one key-state table, and KMIP unique identifiers."""

from __future__ import annotations

import pytest

from strongroom.kms.domain import kmip
from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.kmip import KmipState, LifecycleError

S = KmipState


@pytest.mark.parametrize(
    ("kms", "recorded", "seen"),
    [
        (KeyState.ENABLED, S.PRE_ACTIVE, S.ACTIVE),  # EnableKey through the KMS API activates
        (KeyState.DISABLED, S.PRE_ACTIVE, S.PRE_ACTIVE),
        (KeyState.DISABLED, S.ACTIVE, S.DEACTIVATED),  # DisableKey through the KMS API
        (KeyState.DISABLED, S.COMPROMISED, S.COMPROMISED),
        (KeyState.PENDING_DELETION, S.ACTIVE, S.DEACTIVATED),
    ],
    ids=["enabled", "pre-active", "disabled-by-kms", "compromised", "pending-deletion"],
)
def test_the_state_a_client_sees(kms: KeyState, recorded: KmipState, seen: KmipState) -> None:
    assert kmip.reported_state(kms, recorded) is seen


def test_activate_only_from_pre_active() -> None:
    assert kmip.activate(S.PRE_ACTIVE) == (S.ACTIVE, KeyState.ENABLED)
    for state in (S.ACTIVE, S.DEACTIVATED, S.COMPROMISED):
        with pytest.raises(LifecycleError):
            kmip.activate(state)


def test_revoke_deactivates_or_marks_compromised() -> None:
    assert kmip.revoke(S.ACTIVE, compromised=False) == (S.DEACTIVATED, KeyState.DISABLED)
    assert kmip.revoke(S.DEACTIVATED, compromised=True) == (S.COMPROMISED, KeyState.DISABLED)
    with pytest.raises(LifecycleError):
        kmip.revoke(S.COMPROMISED, compromised=False)


def test_an_active_object_is_not_destroyed() -> None:
    with pytest.raises(LifecycleError):
        kmip.check_destroy(S.ACTIVE)
    for state in (S.PRE_ACTIVE, S.DEACTIVATED, S.COMPROMISED):
        kmip.check_destroy(state)


def test_unique_identifiers_of_a_pair() -> None:
    assert kmip.unique_id("k1") == "k1"
    assert kmip.unique_id("k1", public=True) == "k1/public"
    assert kmip.split_unique_id("k1/public") == ("k1", True)
    assert kmip.split_unique_id("k1") == ("k1", False)
