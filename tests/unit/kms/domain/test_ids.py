from __future__ import annotations

import pytest

from strongroom.kms.domain.ids import (
    RefKind,
    check_alias_name,
    is_account_id,
    new_account_id,
    new_key_id,
    new_material_id,
    parse_key_ref,
)
from strongroom.kms.errors import (
    InvalidArnException,
    NotFoundException,
    ValidationException,
)

KEY = "1234abcd-12ab-34cd-56ef-1234567890ab"


def test_generated_ids_have_aws_shapes() -> None:
    assert parse_key_ref(new_key_id()).kind is RefKind.KEY_ID
    assert len(new_material_id()) == 64 and int(new_material_id(), 16) >= 0
    accounts = {new_account_id() for _ in range(50)}
    assert all(is_account_id(a) and not a.startswith("0") for a in accounts)
    assert len(accounts) == 50


@pytest.mark.parametrize(
    ("raw", "kind", "value", "account"),
    [
        (KEY, RefKind.KEY_ID, KEY, None),
        (f"arn:aws:kms:us-east-1:111122223333:key/{KEY}", RefKind.KEY_ARN, KEY, "111122223333"),
        ("alias/my-key", RefKind.ALIAS_NAME, "alias/my-key", None),
        (
            "arn:aws:kms:us-east-1:111122223333:alias/my-key",
            RefKind.ALIAS_ARN,
            "alias/my-key",
            "111122223333",
        ),
        ("mrk-" + "0" * 32, RefKind.KEY_ID, "mrk-" + "0" * 32, None),
    ],
)
def test_parse_key_ref(raw: str, kind: RefKind, value: str, account: str | None) -> None:
    ref = parse_key_ref(raw)
    assert (ref.kind, ref.value, ref.account_id) == (kind, value, account)
    assert ref.is_alias is (kind in (RefKind.ALIAS_NAME, RefKind.ALIAS_ARN))


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("nope", NotFoundException),
        (KEY.upper(), NotFoundException),
        ("arn:aws:s3:::bucket", InvalidArnException),
        ("arn:aws:kms:us-east-1:1234:key/" + KEY, InvalidArnException),
        ("arn:aws:kms:us-east-1:111122223333:key/not-a-uuid", InvalidArnException),
    ],
)
def test_bad_refs(raw: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_key_ref(raw)


def test_alias_names() -> None:
    check_alias_name("alias/ok_name-1/sub")
    with pytest.raises(ValidationException):
        check_alias_name("noprefix")
    with pytest.raises(ValidationException):
        check_alias_name("alias/")
    with pytest.raises(ValidationException):
        check_alias_name("alias/colon:name")
