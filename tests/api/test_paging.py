"""Paging of the List operations: strict markers, and pages that survive changes between them."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.support.errors import aws_error
from tests.support.raw_kms import RawKms
from tests.support.servers import InProcessServer

# Markers this server never issues: not canonical base64url, or a position out of range.
BAD_MARKERS = (
    "9223372036854775808",
    "1_0",
    " 5 ",
    "-5",
    "%%%not-a-marker",
    "QQ",  # unpadded
    "QR==",  # padding bits set: decodes to "A" too, but is not what the server writes
    "YQ== ",
)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def raw(server: InProcessServer) -> Any:
    conn = RawKms(server.endpoint, server.admin_key)
    yield conn
    conn.close()


def _admin_arn(kms: Any, key_id: str) -> str:
    account = kms.describe_key(KeyId=key_id)["KeyMetadata"]["AWSAccountId"]
    return f"arn:aws:iam::{account}:user/admin"


@pytest.mark.parametrize("marker", BAD_MARKERS)
def test_every_list_operation_refuses_a_marker_it_did_not_issue(
    raw: RawKms, key_id: str, marker: str
) -> None:
    arn = "arn:aws:iam::111122223333:user/nobody"
    for operation, members in (
        ("ListKeys", {}),
        ("ListAliases", {}),
        ("ListGrants", {"KeyId": key_id}),
        ("ListRetirableGrants", {"RetiringPrincipal": arn}),
        ("ListResourceTags", {"KeyId": key_id}),
        ("ListKeyRotations", {"KeyId": key_id}),
        ("ListProviderAccesses", {}),
    ):
        reply = raw.call(operation, {**members, "Marker": marker})
        if operation == "ListRetirableGrants" and reply.error_code == "AccessDeniedException":
            continue  # another account's principal is refused before the marker is read
        assert (reply.status, reply.body) == (
            400,
            {"__type": "InvalidMarkerException", "message": "Invalid marker."},
        ), operation


@pytest.mark.parametrize("position", ["9223372036854775808", "-5", "05", "0", "1_0", " 5 ", "x"])
def test_provider_access_markers_hold_a_64_bit_sequence_number(raw: RawKms, position: str) -> None:
    reply = raw.call("ListProviderAccesses", {"Marker": _b64(position)})
    assert reply.error_code == "InvalidMarkerException"
    assert raw.call("ListProviderAccesses", {"Marker": _b64("9223372036854775807")}).body == {
        "ProviderAccesses": [],
        "Truncated": False,
    }


def test_list_grants_pages_on_when_the_marker_grant_is_revoked(kms: Any, key_id: str) -> None:
    grantee = _admin_arn(kms, key_id)
    made = [
        kms.create_grant(KeyId=key_id, GranteePrincipal=grantee, Operations=["Encrypt"])["GrantId"]
        for _ in range(5)
    ]
    first = kms.list_grants(KeyId=key_id, Limit=2)
    assert [g["GrantId"] for g in first["Grants"]] == made[:2]
    assert first["Truncated"] is True
    kms.revoke_grant(KeyId=key_id, GrantId=made[1])  # the grant the marker points at
    second = kms.list_grants(KeyId=key_id, Limit=2, Marker=first["NextMarker"])
    assert [g["GrantId"] for g in second["Grants"]] == made[2:4]
    assert second["Truncated"] is True
    kms.revoke_grant(KeyId=key_id, GrantId=made[3])
    kms.revoke_grant(KeyId=key_id, GrantId=made[4])  # nothing left after the marker
    last = kms.list_grants(KeyId=key_id, Limit=2, Marker=second["NextMarker"])
    assert last == {"Grants": [], "Truncated": False, "ResponseMetadata": last["ResponseMetadata"]}


def test_list_grants_pages_through_many_in_creation_order_with_filters(
    kms: Any, key_id: str
) -> None:
    grantee = _admin_arn(kms, key_id)
    other = grantee.replace(":user/admin", ":root")
    made = []
    for n in range(23):
        made.append(
            kms.create_grant(
                KeyId=key_id,
                GranteePrincipal=grantee if n % 3 else other,
                Operations=["Decrypt"],
            )["GrantId"]
        )
    for limit, principal, expected in ((4, None, made), (2, other, made[::3])):
        seen: list[str] = []
        marker = None
        while True:
            request: dict[str, Any] = {"KeyId": key_id, "Limit": limit}
            if principal is not None:
                request["GranteePrincipal"] = principal
            if marker is not None:
                request["Marker"] = marker
            reply = kms.list_grants(**request)
            assert len(reply["Grants"]) <= limit
            seen += [g["GrantId"] for g in reply["Grants"]]
            if not reply["Truncated"]:
                assert "NextMarker" not in reply
                break
            marker = reply["NextMarker"]
        assert seen == expected
    single = kms.list_grants(KeyId=key_id, GrantId=made[7])
    assert [g["GrantId"] for g in single["Grants"]] == [made[7]]
    with aws_error("InvalidGrantIdException"):
        kms.list_grants(KeyId=key_id, GrantId="0" * 64)
