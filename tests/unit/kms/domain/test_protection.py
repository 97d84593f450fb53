"""The protection policy's rules: who may approve, when a change is approved or spent."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from strongroom.kms.domain.protection import (
    CHANGE_LIFETIME,
    ChangeKind,
    ChangeStatus,
    ProtectionChange,
    ProtectionPolicy,
    counted,
    is_approved,
    principal_name,
)

NOW = datetime(2026, 11, 29, tzinfo=UTC)
ACCOUNT = "111122223333"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
APP = f"arn:aws:iam::{ACCOUNT}:role/app"


def policy(m: int, *approvers: str) -> ProtectionPolicy:
    return ProtectionPolicy(ACCOUNT, m, approvers, NOW)


def test_principal_names_of_the_account_only() -> None:
    assert principal_name(ACCOUNT, ALICE) == ("user", "alice")
    assert principal_name(ACCOUNT, APP) == ("role", "app")
    assert principal_name(ACCOUNT, "arn:aws:iam::999988887777:user/alice") is None
    assert principal_name(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root") is None
    assert principal_name(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:group/admins") is None
    assert principal_name(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/") is None


@pytest.mark.parametrize(
    ("candidate", "wording"),
    [
        (policy(0, ALICE), "between 1 and the number of approvers (1)"),
        (policy(2, ALICE), "between 1 and the number of approvers (1)"),
        (policy(1, ALICE, ALICE), "more than once"),
        (policy(1, "arn:aws:iam::999988887777:user/x"), "not the ARN of an IAM user or role"),
        (policy(1, *[f"arn:aws:iam::{ACCOUNT}:user/u{n}" for n in range(21)]), "at most 20"),
    ],
)
def test_unacceptable_policies(candidate: ProtectionPolicy, wording: str) -> None:
    with pytest.raises(ValueError, match=re.escape(wording)):
        candidate.check()


def test_approvals_count_only_for_approvers_in_force() -> None:
    two = policy(2, ALICE, BOB, APP)
    two.check()
    assert counted([ALICE, "arn:aws:iam::111122223333:user/mallory"], two) == [ALICE]
    assert not is_approved([ALICE], two)
    assert is_approved([ALICE, APP], two)
    # bob was removed from the policy: his approval no longer counts
    assert not is_approved([ALICE, BOB], policy(2, ALICE, APP))
    assert not is_approved([ALICE, BOB], None)


def test_a_change_is_pending_then_expired_or_executed() -> None:
    change = ProtectionChange(
        "pc-1",
        ACCOUNT,
        ChangeKind.RECORD_KEY_LINEAGE,
        "key",
        {"b": 1, "a": "x"},
        ALICE,
        NOW,
        NOW + CHANGE_LIFETIME,
    )
    assert change.status(NOW) is ChangeStatus.PENDING_APPROVAL
    assert change.status(NOW + timedelta(hours=24)) is ChangeStatus.EXPIRED
    done = replace(change, executed_at=NOW)
    assert done.status(NOW + timedelta(days=2)) is ChangeStatus.EXECUTED
    assert change.encoded_parameters() == '{"a":"x","b":1}'
