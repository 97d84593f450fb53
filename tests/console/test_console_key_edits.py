"""Editing a key on its page: aliases, tags, grants, rotation period, description.

Each form is one KMS call as the signed-in principal: the change is checked through boto3,
a refusal is the KMS's own error on the page, and a form the console cannot turn into a
request changes nothing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from strongroom.kms.domain.policy_templates import separation_of_duties_policy
from tests.support.console import ConsoleClient, ConsoleWorld


@pytest.fixture
def key_id(world: ConsoleWorld) -> str:
    policy = separation_of_duties_policy(
        world.account, [world.arn("keyadmin")], [world.arn("app")], strict=True
    )
    return str(world.kms("keyadmin").create_key(Policy=policy)["KeyMetadata"]["KeyId"])


def _post(client: ConsoleClient, key_id: str, path: str, form: dict[str, Any]) -> Any:
    token = client.csrf(f"/console/keys/{key_id}")
    return client.request("POST", f"/console/keys/{key_id}/{path}", {"csrf": token, **form})


def test_aliases_are_added_and_deleted(
    world: ConsoleWorld, client: ConsoleClient, key_id: str
) -> None:
    client.sign_in(world.keys["keyadmin"])
    name = f"alias/edit-{key_id[:8]}"
    answer = _post(client, key_id, "aliases", {"alias": name})
    assert answer.status == 303
    assert answer.header("location") == f"/console/keys/{key_id}?done=create-alias"
    kms = world.kms("keyadmin")
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key_id
    page = client.get(f"/console/keys/{key_id}?done=create-alias")
    assert "Alias created." in page.body and name in page.body
    taken = _post(client, key_id, "aliases", {"alias": name})
    assert taken.status == 400 and "AlreadyExistsException" in taken.body
    assert _post(client, key_id, "aliases/delete", {"alias": name}).status == 303
    names = [a["AliasName"] for a in kms.list_aliases(KeyId=key_id)["Aliases"]]
    assert names == []


def test_tags_are_saved_replaced_and_removed(
    world: ConsoleWorld, client: ConsoleClient, key_id: str
) -> None:
    client.sign_in(world.keys["keyadmin"])
    kms = world.kms("keyadmin")
    assert _post(client, key_id, "tags", {"tag_key": "team", "tag_value": "blue"}).status == 303
    assert _post(client, key_id, "tags", {"tag_key": "team", "tag_value": "red"}).status == 303
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "red"}]
    assert "<code>red</code>" in client.get(f"/console/keys/{key_id}").body
    empty = _post(client, key_id, "tags", {"tag_key": " ", "tag_value": "x"})
    assert empty.status == 400 and "The tag key is required." in empty.body
    assert _post(client, key_id, "tags/delete", {"tag_key": "team"}).status == 303
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == []


def test_a_key_user_may_not_tag_and_sees_the_kms_refusal(
    world: ConsoleWorld, client: ConsoleClient, key_id: str
) -> None:
    client.sign_in(world.keys["app"])
    answer = _post(client, key_id, "tags", {"tag_key": "owner", "tag_value": "app"})
    assert answer.status == 403
    assert "AccessDeniedException" in answer.body and "kms:TagResource" in answer.body
    assert world.kms("keyadmin").list_resource_tags(KeyId=key_id)["Tags"] == []


def test_grants_are_created_with_constraints_then_retired_and_revoked(
    world: ConsoleWorld, client: ConsoleClient, key_id: str
) -> None:
    client.sign_in(world.keys["keyadmin"])
    kms = world.kms("keyadmin")
    form = {
        "grantee": world.arn("reader"),
        "operations": "Decrypt",
        "retiring": world.arn("keyadmin"),
        "name": "batch-job",
        "context": '{"job": "nightly"}',
        "context_kind": "equals",
    }
    assert _post(client, key_id, "grants", form).status == 303
    (grant,) = kms.list_grants(KeyId=key_id)["Grants"]
    assert grant["GranteePrincipal"] == world.arn("reader")
    assert grant["Operations"] == ["Decrypt"]
    assert grant["Name"] == "batch-job"
    assert grant["Constraints"] == {"EncryptionContextEquals": {"job": "nightly"}}
    page = client.get(f"/console/keys/{key_id}").body
    assert "batch-job" in page and "EncryptionContextEquals" in page
    assert _post(client, key_id, "grants/retire", {"grant_id": grant["GrantId"]}).status == 303
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    form.update(name="second", context="", retiring="")
    assert _post(client, key_id, "grants", form).status == 303
    (second,) = kms.list_grants(KeyId=key_id)["Grants"]
    assert "Constraints" not in second
    assert _post(client, key_id, "grants/revoke", {"grant_id": second["GrantId"]}).status == 303
    assert kms.list_grants(KeyId=key_id)["Grants"] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"operations": ""}, "Choose at least one operation."),
        ({"context": "[1]"}, "The encryption context must be a JSON object of strings"),
        ({"context": "{not json"}, "The encryption context must be a JSON object."),
        ({"operations": "Sign"}, "ValidationException"),
    ],
    ids=["no-operation", "context-not-an-object", "context-not-json", "wrong-operation"],
)
def test_a_bad_grant_form_creates_nothing(
    world: ConsoleWorld, client: ConsoleClient, key_id: str, change: dict[str, str], message: str
) -> None:
    client.sign_in(world.keys["keyadmin"])
    form = {"grantee": world.arn("reader"), "operations": "Decrypt", **change}
    answer = _post(client, key_id, "grants", form)
    assert answer.status == 400
    assert message in answer.body
    assert 'value="' + world.arn("reader") in answer.body  # what was typed is kept
    assert world.kms("keyadmin").list_grants(KeyId=key_id)["Grants"] == []


def test_the_rotation_period_and_description_are_saved(
    world: ConsoleWorld, client: ConsoleClient, key_id: str
) -> None:
    client.sign_in(world.keys["keyadmin"])
    kms = world.kms("keyadmin")
    assert _post(client, key_id, "rotation-period", {"period": "180"}).status == 303
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 180
    page = client.get(f"/console/keys/{key_id}").body
    assert re.search(r"is <strong>on</strong>, every 180 days", page)
    too_short = _post(client, key_id, "rotation-period", {"period": "30"})
    assert too_short.status == 400 and "ValidationException" in too_short.body
    assert kms.get_key_rotation_status(KeyId=key_id)["RotationPeriodInDays"] == 180
    words = _post(client, key_id, "rotation-period", {"period": "soon"})
    assert words.status == 400 and "whole number of days" in words.body
    assert _post(client, key_id, "description", {"description": "orders <b>"}).status == 303
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "orders <b>"
    assert "orders &lt;b&gt;" in client.get(f"/console/keys/{key_id}").body
