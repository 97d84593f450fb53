"""LookupAuditEvents: a tenant reads its own trail, filtered and paged, and its chain's state."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from strongroom.kms.app import open_data_dir
from strongroom.kms.config import Settings
from strongroom.kms.service.admin import ADMINISTRATOR_POLICY, IssuedAccessKey
from tests.support.raw_kms import RawKms
from tests.support.servers import InProcessServer, in_process_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with in_process_server(tmp_path_factory.mktemp("trail"), chained_audit=True) as running:
        yield running


def lookup(server: InProcessServer, key: IssuedAccessKey | None = None, **request: Any) -> Any:
    conn = RawKms(server.endpoint, key or server.admin_key)
    try:
        return conn.call("LookupAuditEvents", request)
    finally:
        conn.close()


def tenant(server: InProcessServer, *users: str) -> dict[str, IssuedAccessKey]:
    data = open_data_dir(Settings(data_dir=server.data_dir))
    try:
        account = data.admin.create_account(f"t-{uuid.uuid4().hex[:6]}").account_id
        keys = {}
        for user in ("admin", *users):
            data.admin.create_user(account, user)
            keys[user] = data.admin.create_access_key(account, user)
        data.admin.put_user_policy(account, "admin", "Admin", ADMINISTRATOR_POLICY)
        return keys
    finally:
        data.db.engine.dispose()


def settled(server: InProcessServer, key: IssuedAccessKey, want: int, **request: Any) -> Any:
    """Data-plane events are group-committed: wait (bounded) until ``want`` are in the trail."""
    deadline = time.monotonic() + 5
    while True:
        reply = lookup(server, key, **request)
        assert reply.status == 200, reply
        if len(reply.body["Events"]) >= want or time.monotonic() > deadline:
            return reply.body
        time.sleep(0.1)


def test_a_tenant_reads_its_own_events_filtered_by_name_key_and_principal(
    server: InProcessServer,
) -> None:
    keys = tenant(server, "reader")
    kms = server.client(keys["admin"])
    first = kms.create_key(Description="one")["KeyMetadata"]
    second = kms.create_key(Description="two")["KeyMetadata"]
    kms.encrypt(KeyId=first["KeyId"], Plaintext=b"x")
    kms.encrypt(KeyId=second["KeyId"], Plaintext=b"y")
    body = settled(server, keys["admin"], 2, EventName="Encrypt")
    assert [e["eventName"] for e in body["Events"]] == ["Encrypt", "Encrypt"]
    by_key = settled(server, keys["admin"], 1, EventName="Encrypt", KeyId=first["KeyId"])
    assert [e["resources"][0]["ARN"] for e in by_key["Events"]] == [first["Arn"]]
    by_arn = lookup(server, keys["admin"], KeyId=second["Arn"]).body["Events"]
    assert {e["eventName"] for e in by_arn} == {"CreateKey", "Encrypt"}
    admin_arn = body["Events"][0]["userIdentity"]["arn"]
    mine = lookup(server, keys["admin"], Principal=admin_arn).body["Events"]
    assert mine and all(e["userIdentity"]["arn"] == admin_arn for e in mine)
    assert lookup(server, keys["admin"], Principal=admin_arn + "x").body["Events"] == []
    # Another tenant's trail holds none of these events.
    other = tenant(server)
    server.client(other["admin"]).create_key(Description="theirs")
    theirs = lookup(server, other["admin"]).body["Events"]
    seen = {e["eventID"] for e in theirs}
    assert not seen & {e["eventID"] for e in mine}
    assert all(first["Arn"] not in str(e) for e in theirs)


def test_time_window_paging_and_markers(server: InProcessServer) -> None:
    keys = tenant(server)
    kms = server.client(keys["admin"])
    for _ in range(5):
        kms.create_key(Description="paged")
    everything = lookup(server, keys["admin"], EventName="CreateKey").body["Events"]
    assert len(everything) == 5
    page = lookup(server, keys["admin"], EventName="CreateKey", Limit=2).body
    assert len(page["Events"]) == 2 and page["Truncated"] is True
    rest = lookup(
        server, keys["admin"], EventName="CreateKey", Limit=10, Marker=page["NextMarker"]
    ).body
    assert rest["Truncated"] is False and "NextMarker" not in rest
    paged = [e["eventID"] for e in page["Events"] + rest["Events"]]
    assert paged == [e["eventID"] for e in everything]
    future = (datetime.now(UTC) + timedelta(days=400)).timestamp()
    assert lookup(server, keys["admin"], StartTime=future).body["Events"] == []
    for marker in ("-5", "1_0", " 5", "99999999999999999999"):
        reply = lookup(server, keys["admin"], Marker=marker)
        assert reply.error_code == "InvalidMarkerException", marker


def test_the_chain_state_on_request_and_the_permission(server: InProcessServer) -> None:
    keys = tenant(server, "reader")
    without = lookup(server, keys["admin"]).body
    assert "ChainVerification" not in without
    verified = lookup(server, keys["admin"], VerifyChain=True).body["ChainVerification"]
    assert verified["Intact"] is True
    assert verified["Events"] > 0 and "chain intact" in verified["Summary"]
    denied = lookup(server, keys["reader"])
    assert denied.error_code == "AccessDeniedException"
    assert "kms:LookupAuditEvents" in denied.body["message"]
