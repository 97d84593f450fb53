from __future__ import annotations

import re
from datetime import UTC, datetime

from strongroom.kms.domain.principals import Principal, principal_arn

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def test_arns() -> None:
    assert Principal("123456789012", "bob", NOW).arn == "arn:aws:iam::123456789012:user/bob"
    assert Principal("123456789012", "app", NOW, "role").arn == (
        "arn:aws:iam::123456789012:role/app"
    )
    assert principal_arn("123456789012", "role", "app") == "arn:aws:iam::123456789012:role/app"


def test_unique_ids_have_aws_shape_and_are_stable() -> None:
    user = Principal("123456789012", "app", NOW)
    role = Principal("123456789012", "app", NOW, "role")
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", user.unique_id), user.unique_id
    assert re.fullmatch(r"AROA[A-Z2-7]{17}", role.unique_id), role.unique_id
    # Derived from the ARN alone: the same on every node, different for every principal.
    assert Principal("123456789012", "app", datetime(2020, 1, 1, tzinfo=UTC)).unique_id == (
        user.unique_id
    )
    assert user.unique_id[4:] != role.unique_id[4:]
    assert Principal("123456789013", "app", NOW).unique_id != user.unique_id
    # Pinned: a different derivation would change every caller's aws:userid.
    assert (user.unique_id, role.unique_id) == ("AIDAMEEOANPQNY7GFJTME", "AROALS77IFHHSFRSZ7CZ2")
