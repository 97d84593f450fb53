"""The console's security properties over plain HTTP: sessions, cookies, CSRF, no secret out."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from tests.support.console import ConsoleClient, ConsoleWorld


def test_sign_in_sets_a_session_cookie_with_strict_flags(
    world: ConsoleWorld, client: ConsoleClient
) -> None:
    answer = client.sign_in(world.keys["keyadmin"])
    assert answer.status == 303
    assert answer.header("location") == "/console/keys"
    session = next(c for c in answer.set_cookies() if c.startswith("strongroom_console="))
    flags = [part.strip() for part in session.split(";")[1:]]
    assert "HttpOnly" in flags
    assert "SameSite=Strict" in flags
    assert "Path=/console/" in flags
    assert "Secure" not in flags  # plain HTTP on loopback; over TLS the flag is set
    keys = client.get("/console/keys")
    assert keys.status == 200
    assert world.arn("keyadmin") in keys.body


def test_a_wrong_secret_or_unknown_key_gets_no_session(
    world: ConsoleWorld, client: ConsoleClient
) -> None:
    wrong = client.sign_in(world.keys["keyadmin"], secret="x" * 40)
    assert wrong.status == 401
    assert "Unknown access key or wrong secret." in wrong.body
    assert "strongroom_console" not in client.cookies
    assert client.get("/console/keys").status == 303


def test_sign_in_without_the_forms_token_is_refused(
    world: ConsoleWorld, client: ConsoleClient
) -> None:
    key = world.keys["keyadmin"]
    form = {"access_key_id": key.access_key_id, "secret_access_key": key.secret_access_key}
    answer = client.post("/console/sign-in", form)
    assert answer.status == 403
    assert "strongroom_console" not in client.cookies


def test_no_secret_in_pages_cookies_or_the_audit_trail(
    world: ConsoleWorld, client: ConsoleClient
) -> None:
    key = world.keys["keyadmin"]
    client.sign_in(key)
    secret = key.secret_access_key
    encoded = base64.b64encode(secret.encode()).decode()
    pages = [
        "/console/keys",
        f"/console/keys/{world.shared_key}",
        "/console/exposure",
        "/console/provider-accesses",
        "/console/key-stores",
        "/console/keys/new",
    ]
    for path in pages:
        answer = client.get(path)
        assert answer.status == 200, path
        assert secret not in answer.body and encoded not in answer.body, path
    for value in client.cookies.values():
        assert secret not in value and encoded not in value
        assert secret not in base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode(
            "latin-1"
        )
    events = world.trail(1, Principal=world.arn("keyadmin"))
    assert events
    assert all(secret not in str(event) and encoded not in str(event) for event in events)


def test_every_asset_comes_from_strongroom_and_pages_forbid_the_rest(
    world: ConsoleWorld, client: ConsoleClient
) -> None:
    client.sign_in(world.keys["keyadmin"])
    page = client.get(f"/console/keys/{world.shared_key}")
    links = re.findall(r'(?:src|href|action)="([^"]*)"', page.body)
    assert links
    assert all(link.startswith(("/console/", "#")) for link in links), links
    csp = page.header("content-security-policy") or ""
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.header("cache-control") == "no-store"
    for asset in ("/console/static/console.css", "/console/static/console.js"):
        answer = client.get(asset)
        assert answer.status == 200 and len(answer.body) > 500
    assert "<script>" not in page.body  # no inline script: the policy would block it anyway


def test_a_form_without_the_csrf_token_changes_nothing(
    world: ConsoleWorld, client: ConsoleClient
) -> None:
    client.sign_in(world.keys["keyadmin"])
    path = f"/console/keys/{world.shared_key}/disable"
    assert client.post(path, {}).status == 403
    assert client.post(path, {"csrf": "forged"}).status == 403
    token = client.csrf(f"/console/keys/{world.shared_key}")
    foreign = client.post(path, {"csrf": token}, Origin="http://evil.example")
    assert foreign.status == 403
    state = world.kms("keyadmin").describe_key(KeyId=world.shared_key)["KeyMetadata"]["KeyState"]
    assert state == "Enabled"
    assert world.trail(0, EventName="DisableKey", KeyId=world.shared_key) == []


def test_the_console_calls_the_kms_as_the_signed_in_principal(
    world: ConsoleWorld, client: ConsoleClient
) -> None:
    """No side door: the key user's deletion attempt is refused and audited as the key user."""
    client.sign_in(world.keys["app"])
    token = client.csrf(f"/console/keys/{world.shared_key}")
    answer = client.post(
        f"/console/keys/{world.shared_key}/schedule-deletion", {"csrf": token, "days": "7"}
    )
    assert answer.status == 403
    assert "AccessDeniedException" in answer.body
    assert world.arn("app") in answer.body
    refused = world.trail(1, EventName="ScheduleKeyDeletion", Principal=world.arn("app"))
    assert refused and refused[-1]["errorCode"] == "AccessDeniedException"
    identity = refused[-1]["userIdentity"]
    assert identity["accessKeyId"] == world.keys["app"].access_key_id
    assert refused[-1]["sourceIPAddress"] == "127.0.0.1"
    state = world.kms("keyadmin").describe_key(KeyId=world.shared_key)["KeyMetadata"]["KeyState"]
    assert state == "Enabled"


def test_a_tenant_never_sees_another_accounts_keys(
    world: ConsoleWorld, client: ConsoleClient
) -> None:
    client.sign_in(world.keys["keyadmin"])
    keys = client.get("/console/keys")
    assert world.shared_key in keys.body
    assert world.other_key not in keys.body
    foreign = client.get(f"/console/keys/{world.other_key}")
    assert foreign.status == 404
    assert "NotFoundException" in foreign.body


def test_signing_out_ends_the_session(world: ConsoleWorld, client: ConsoleClient) -> None:
    client.sign_in(world.keys["keyadmin"])
    stolen = dict(client.cookies)
    out = client.post("/console/sign-out", {"csrf": client.csrf("/console/keys")})
    assert out.status == 303
    assert "strongroom_console" not in client.cookies
    replay = ConsoleClient(world.server.endpoint, stolen)
    answer = replay.get("/console/keys")
    assert answer.status == 303
    assert answer.header("location") == "/console/sign-in?expired=1"


def test_deleting_the_access_key_ends_its_sessions(
    world: ConsoleWorld, client: ConsoleClient
) -> None:
    admin = world.data.admin
    key = admin.create_access_key(world.account, "reader")
    client.sign_in(key)
    assert client.get("/console/keys").status == 200
    admin.delete_access_key(key.access_key_id)
    deadline = time.monotonic() + 5
    while client.get("/console/keys").status == 200:
        assert time.monotonic() < deadline, "the session outlived its access key"
        time.sleep(0.05)
    assert client.get("/console/keys").header("location") == "/console/sign-in?expired=1"


def test_an_idle_session_expires(world: ConsoleWorld, client: ConsoleClient) -> None:
    client.sign_in(world.keys["keyadmin"])
    assert client.get("/console/keys").status == 200
    world.server.clock.advance(timedelta(minutes=14))
    assert client.get("/console/keys").status == 200  # activity renews the session
    world.server.clock.advance(timedelta(minutes=14))
    assert client.get("/console/keys").status == 200
    world.server.clock.advance(timedelta(minutes=16))
    answer = client.get("/console/keys")
    assert answer.status == 303
    assert answer.header("location") == "/console/sign-in?expired=1"
    assert "Your session has ended" in client.get("/console/sign-in?expired=1").body


def test_the_kms_api_is_unchanged_beside_the_console(world: ConsoleWorld) -> None:
    kms = world.kms("keyadmin")
    assert kms.describe_key(KeyId="alias/shared")["KeyMetadata"]["KeyId"] == world.shared_key
    root = ConsoleClient(world.server.endpoint).get("/")
    assert root.status == 400 and "UnknownOperationException" in root.body
    assert ConsoleClient(world.server.endpoint).get("/console/").status == 303


def test_the_audit_page_filters_the_trail_and_verifies_the_chain(
    world: ConsoleWorld, client: ConsoleClient
) -> None:
    world.kms("app").encrypt(KeyId=world.shared_key, Plaintext=b"audited")
    world.trail(1, EventName="Encrypt", Principal=world.arn("app"))
    client.sign_in(world.keys["keyadmin"])
    query = urlencode(
        {"event": "Encrypt", "principal": world.arn("app"), "key": world.shared_key, "verify": "on"}
    )
    page = client.get(f"/console/audit?{query}")
    assert page.status == 200
    rows = re.findall(r"<tr><td>(\d+)</td><td>[^<]*</td><td>([A-Za-z]+)</td>", page.body)
    assert rows and {name for _, name in rows} == {"Encrypt"}
    assert world.arn("app") in page.body
    assert 'id="chain-state" class="notice"' in page.body and "Chain intact" in page.body
    reader = ConsoleClient(world.server.endpoint)
    reader.sign_in(world.keys["reader"])
    denied = reader.get("/console/audit")
    assert denied.status == 200 and "AccessDeniedException" in denied.body
    assert "kms:LookupAuditEvents" in denied.body


def test_a_sign_in_is_an_event_of_the_tenants_trail(
    world: ConsoleWorld, client: ConsoleClient
) -> None:
    key = world.data.admin.create_access_key(world.account, "reader")

    def sign_ins(want: int) -> list[dict[str, Any]]:
        events = world.trail(want, EventName="ConsoleLogin", Principal=world.arn("reader"))
        return [e for e in events if e["userIdentity"]["accessKeyId"] == key.access_key_id]

    assert client.sign_in(key, secret="y" * 40).status == 401
    assert client.sign_in(key).status == 303
    deadline = time.monotonic() + 5
    while not (found := sign_ins(1)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(found) == 1  # the refused attempt left nothing
    event = found[0]
    assert event["eventSource"] == "signin.amazonaws.com"
    assert event["sourceIPAddress"] == "127.0.0.1"
    assert event["errorCode"] is None
    assert key.secret_access_key not in json.dumps(event)


def test_a_key_that_does_not_rotate_says_so(world: ConsoleWorld, client: ConsoleClient) -> None:
    """GetKeyRotationStatus answers false for an asymmetric key (as AWS): the page offers no
    rotation controls for it, and keeps them for a symmetric key."""
    made = world.kms("admin").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    client.sign_in(world.keys["admin"])
    page = client.get(f"/console/keys/{made['KeyMetadata']['KeyId']}")
    assert page.status == 200
    assert "This key does not rotate automatically" in page.body
    assert "Turn automatic rotation on" not in page.body
    plain = world.kms("admin").create_key()["KeyMetadata"]["KeyId"]
    assert "Turn automatic rotation on" in client.get(f"/console/keys/{plain}").body
