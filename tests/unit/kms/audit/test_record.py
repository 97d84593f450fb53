from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta, timezone

import orjson

from strongroom.kms.audit.record import (
    canonical_bytes,
    event_accounts,
    is_read_only,
    other_accounts,
    record_accounts,
    to_record,
)
from tests.unit.kms.audit.helpers import ALICE, BOB, CAROL, REGION, event, key_arn


def test_record_has_cloudtrail_fields() -> None:
    record = to_record(
        event(3, ALICE, (key_arn(BOB),), error_code="AccessDeniedException"), 7, REGION
    )
    assert record["eventTime"] == "2026-01-01T00:03:00.000000Z"
    assert record["eventSource"] == "kms.amazonaws.com"
    assert record["eventName"] == "Decrypt"
    assert record["awsRegion"] == REGION
    assert record["requestID"] == f"req-{ALICE}-3"
    assert record["userIdentity"] == {
        "type": "IAMUser",
        "arn": f"arn:aws:iam::{ALICE}:user/u3",
        "accountId": ALICE,
        "accessKeyId": f"AKIA{ALICE}",
    }
    assert record["sourceIPAddress"] == "192.0.2.7"
    assert record["recipientAccountId"] == ALICE
    assert record["resources"] == [{"ARN": key_arn(BOB), "accountId": BOB, "type": "AWS::KMS::Key"}]
    assert record["errorCode"] == "AccessDeniedException"
    assert record["readOnly"] is True
    assert record["managementEvent"] is True
    assert record["eventCategory"] == "Management"
    assert record["sequenceNumber"] == 7


def test_every_record_gets_its_own_event_id() -> None:
    e = event(1)
    first, second = to_record(e, 1, REGION)["eventID"], to_record(e, 1, REGION)["eventID"]
    assert first != second
    assert str(uuid.UUID(str(first))) == first  # UUID-shaped, as CloudTrail's event ids


def test_canonical_bytes_are_sorted_compact_and_independent_of_insertion_order() -> None:
    record = to_record(event(1), 1, REGION)
    reordered = dict(reversed(list(record.items())))
    assert canonical_bytes(record) == canonical_bytes(reordered)
    text = canonical_bytes(record)
    assert b": " not in text and b", " not in text
    keys = list(orjson.loads(text))
    assert keys == sorted(keys)


def test_the_time_zone_of_the_event_does_not_change_the_record() -> None:
    e = event(1)
    shifted = dataclasses.replace(e, time=e.time.astimezone(timezone(timedelta(hours=5))))
    assert to_record(e, 1, REGION)["eventTime"] == to_record(shifted, 1, REGION)["eventTime"]


def test_read_only_classification() -> None:
    for name in ("Decrypt", "GenerateDataKey", "ListKeys", "DescribeKey", "Sign", "ReEncrypt"):
        assert is_read_only(name), name
    for name in ("CreateKey", "PutKeyPolicy", "ScheduleKeyDeletion", "CreateGrant", "TagResource"):
        assert not is_read_only(name), name


def test_accounts_of_an_event_are_the_caller_and_the_resource_owners() -> None:
    e = event(1, ALICE, (key_arn(BOB), f"arn:aws:kms:{REGION}:{ALICE}:alias/x"))
    assert event_accounts(e) == {ALICE, BOB}
    assert record_accounts(to_record(e, 1, REGION)) == {ALICE, BOB}
    assert to_record(e, 1, REGION)["resources"][1]["type"] == "AWS::KMS::Alias"  # type: ignore[index]


def test_an_access_denial_belongs_to_the_caller_only() -> None:
    e = event(1, ALICE, (key_arn(BOB),), error_code="AccessDeniedException")
    assert event_accounts(e) == {ALICE}
    assert record_accounts(to_record(e, 1, REGION)) == {ALICE}


def test_other_accounts_are_the_event_accounts_but_the_callers() -> None:
    cases = [
        event(1, ALICE, (key_arn(BOB), f"arn:aws:kms:{REGION}:{ALICE}:alias/x")),
        event(2, ALICE, (key_arn(ALICE),)),
        event(3, ALICE, ()),
        event(4, ALICE, ("not-an-arn", key_arn(CAROL), key_arn(BOB))),
        event(5, ALICE, (key_arn(BOB),), error_code="AccessDeniedException"),
    ]
    for e in cases:
        assert other_accounts(e) == event_accounts(e) - {e.account_id}, e


def test_a_record_is_its_event_whatever_was_recorded_before() -> None:
    """The parts of records that are cached (identities, resources) are per caller and key."""
    first, second = event(1, ALICE), event(2, BOB)
    utc_record = to_record(first, 1, REGION)
    to_record(second, 2, REGION)
    assert to_record(first, 1, REGION)["userIdentity"] == utc_record["userIdentity"]
    assert to_record(second, 2, REGION)["userIdentity"] == {
        "type": "IAMUser",
        "arn": f"arn:aws:iam::{BOB}:user/u2",
        "accountId": BOB,
        "accessKeyId": f"AKIA{BOB}",
    }
    naive = dataclasses.replace(first, time=first.time.replace(tzinfo=None))
    assert str(to_record(naive, 1, REGION)["eventTime"]).endswith("Z")
