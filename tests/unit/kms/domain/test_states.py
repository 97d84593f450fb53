from __future__ import annotations

import pytest

from strongroom.kms.domain.enums import KeyManager, KeyState
from strongroom.kms.domain.states import OpClass, check, check_manager, refusal
from strongroom.kms.errors import (
    DisabledException,
    KmsError,
    KMSInvalidStateException,
    UnsupportedOperationException,
)

ARN = "arn:aws:kms:us-east-1:111122223333:key/k"


@pytest.mark.parametrize(
    ("op_class", "state", "expected"),
    [
        (OpClass.CRYPTO, KeyState.ENABLED, None),
        (OpClass.CRYPTO, KeyState.DISABLED, DisabledException),
        (OpClass.CRYPTO, KeyState.PENDING_DELETION, KMSInvalidStateException),
        (OpClass.CRYPTO, KeyState.PENDING_IMPORT, KMSInvalidStateException),
        (OpClass.CRYPTO, KeyState.UNAVAILABLE, KMSInvalidStateException),
        (OpClass.CRYPTO, KeyState.UPDATING, None),
        (OpClass.READ, KeyState.PENDING_DELETION, None),
        # KMIP Get: Pre-Active and Deactivated keys (Disabled) are retrieved, not doomed ones.
        (OpClass.EXPORT, KeyState.DISABLED, None),
        (OpClass.EXPORT, KeyState.PENDING_DELETION, KMSInvalidStateException),
        (OpClass.EXPORT, KeyState.UNAVAILABLE, KMSInvalidStateException),
        (OpClass.MODIFY, KeyState.DISABLED, None),
        (OpClass.MODIFY, KeyState.PENDING_DELETION, KMSInvalidStateException),
        (OpClass.ENABLE_DISABLE, KeyState.PENDING_IMPORT, KMSInvalidStateException),
        (OpClass.ENABLE_DISABLE, KeyState.UNAVAILABLE, None),
        (OpClass.SCHEDULE_DELETION, KeyState.PENDING_IMPORT, None),
        (OpClass.SCHEDULE_DELETION, KeyState.PENDING_DELETION, KMSInvalidStateException),
        (OpClass.CANCEL_DELETION, KeyState.PENDING_DELETION, None),
        (OpClass.CANCEL_DELETION, KeyState.ENABLED, KMSInvalidStateException),
        (OpClass.CREATE_GRANT, KeyState.UNAVAILABLE, None),
    ],
)
def test_table(op_class: OpClass, state: KeyState, expected: type[KmsError] | None) -> None:
    assert refusal(op_class, state) is expected
    if expected is None:
        check(op_class, state, ARN)
    else:
        with pytest.raises(expected):
            check(op_class, state, ARN)


def test_messages_follow_aws() -> None:
    cases = {
        (OpClass.CRYPTO, KeyState.DISABLED): f"{ARN} is disabled.",
        (OpClass.CRYPTO, KeyState.PENDING_DELETION): f"{ARN} is pending deletion.",
        (OpClass.CRYPTO, KeyState.PENDING_IMPORT): f"{ARN} is pending import.",
        (OpClass.CANCEL_DELETION, KeyState.ENABLED): f"{ARN} is not pending deletion.",
    }
    for (op_class, state), message in cases.items():
        with pytest.raises(KmsError) as info:
            check(op_class, state, ARN)
        assert info.value.message == message


def test_every_class_and_state_has_a_decision() -> None:
    for op_class in OpClass:
        for state in KeyState:
            result = refusal(op_class, state)
            assert result is None or issubclass(result, KmsError)
    # Enabled keys may do everything except cancel a deletion that was never scheduled.
    assert [c for c in OpClass if refusal(c, KeyState.ENABLED)] == [OpClass.CANCEL_DELETION]


def test_aws_managed_keys_are_used_and_read_never_changed() -> None:
    usable = {OpClass.CRYPTO, OpClass.READ, OpClass.CREATE_GRANT}
    for op_class in OpClass:
        check_manager(op_class, KeyManager.CUSTOMER, ARN)
        if op_class in usable:
            check_manager(op_class, KeyManager.AWS, ARN)
            continue
        with pytest.raises(UnsupportedOperationException) as info:
            check_manager(op_class, KeyManager.AWS, ARN)
        assert info.value.message.startswith(f"{ARN} is an AWS managed key.")
