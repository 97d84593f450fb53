"""Aliases (Create, Update, Delete, List) and tags (Tag, Untag, ListResourceTags)."""

from __future__ import annotations

from typing import Any

from tests.support.errors import aws_error


def test_alias_lifecycle(kms: Any, key_id: str) -> None:
    name = f"alias/life-{key_id[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    listed = kms.list_aliases(KeyId=key_id)["Aliases"]
    assert [a["AliasName"] for a in listed] == [name]
    entry = listed[0]
    assert entry["TargetKeyId"] == key_id
    assert entry["AliasArn"].endswith(":" + name)
    assert entry["AliasArn"].startswith("arn:aws:kms:us-east-1:")
    assert entry["CreationDate"] <= entry["LastUpdatedDate"]

    other = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.update_alias(AliasName=name, TargetKeyId=other)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == other
    assert kms.list_aliases(KeyId=key_id)["Aliases"] == []

    kms.delete_alias(AliasName=name)
    with aws_error("NotFoundException"):
        kms.describe_key(KeyId=name)
    with aws_error("NotFoundException"):
        kms.delete_alias(AliasName=name)
    with aws_error("NotFoundException"):
        kms.update_alias(AliasName=name, TargetKeyId=key_id)


def test_alias_name_rules(kms: Any, key_id: str) -> None:
    with aws_error("AlreadyExistsException") as error:
        kms.create_alias(AliasName=f"alias/dup-{key_id[:8]}", TargetKeyId=key_id)
        kms.create_alias(AliasName=f"alias/dup-{key_id[:8]}", TargetKeyId=key_id)
    assert f"alias/dup-{key_id[:8]} already exists" in error.message
    with aws_error("ValidationException") as error:
        kms.create_alias(AliasName="alias/has:colon", TargetKeyId=key_id)
    assert "contains invalid characters" in error.message
    with aws_error("ValidationException") as error:
        kms.create_alias(AliasName="nope", TargetKeyId=key_id)
    assert 'must start with the prefix "alias/"' in error.message
    with aws_error("NotFoundException"):
        kms.create_alias(
            AliasName="alias/to-nothing", TargetKeyId="00000000-0000-4000-8000-000000000000"
        )


def test_alias_on_key_pending_deletion_is_refused(kms: Any, key_id: str) -> None:
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    with aws_error("KMSInvalidStateException", 400):
        kms.create_alias(AliasName=f"alias/pending-{key_id[:8]}", TargetKeyId=key_id)


def test_list_aliases_paging(kms: Any, key_id: str) -> None:
    names = [f"alias/page-{key_id[:8]}-{n}" for n in range(5)]
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=key_id)
    seen: list[str] = []
    page = kms.list_aliases(KeyId=key_id, Limit=2)
    seen += [a["AliasName"] for a in page["Aliases"]]
    while page["Truncated"]:
        page = kms.list_aliases(KeyId=key_id, Limit=2, Marker=page["NextMarker"])
        seen += [a["AliasName"] for a in page["Aliases"]]
    assert seen == sorted(names)
    all_names = [a["AliasName"] for a in kms.list_aliases(Limit=100)["Aliases"]]
    assert set(names) <= set(all_names)


def test_tags(kms: Any) -> None:
    key_id = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "blue"}])["KeyMetadata"]["KeyId"]
    kms.tag_resource(
        KeyId=key_id,
        Tags=[{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "team", "TagValue": "red"}],
    )
    tags = kms.list_resource_tags(KeyId=key_id)
    assert tags["Tags"] == [
        {"TagKey": "env", "TagValue": "prod"},
        {"TagKey": "team", "TagValue": "red"},
    ]
    assert tags["Truncated"] is False
    kms.untag_resource(KeyId=key_id, TagKeys=["team", "absent"])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "env", "TagValue": "prod"}]
    page = kms.list_resource_tags(KeyId=key_id, Limit=1)
    assert page["Truncated"] is False and len(page["Tags"]) == 1


def test_tag_rules(kms: Any, key_id: str) -> None:
    with aws_error("TagException"):
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}])
    with aws_error("TagException"):
        kms.create_key(Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}])
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": f"k{n}", "TagValue": "v"} for n in range(50)])
    with aws_error("LimitExceededException"):
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "one-too-many", "TagValue": "v"}])
    assert len(kms.list_resource_tags(KeyId=key_id, Limit=50)["Tags"]) == 50
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    with aws_error("KMSInvalidStateException"):
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "late", "TagValue": "v"}])


def test_update_alias_keeps_the_key_type(kms: Any, key_id: str) -> None:
    name = f"alias/typed-{key_id[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    with aws_error("ValidationException") as error:
        kms.update_alias(AliasName=name, TargetKeyId=signing["KeyId"])
    assert "same type" in error.message
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key_id
