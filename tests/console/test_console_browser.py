"""The console in a real browser (headless Chromium from Debian) against a live server."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from strongroom.kms.domain.policy_templates import separation_of_duties_policy
from tests.support.browser import chromium, screenshot, sign_in, unlabelled_controls
from tests.support.console import ConsoleWorld
from tests.support.s3 import kms_bucket, s3_client

pytestmark = pytest.mark.skipif(
    not __import__("pathlib").Path("/usr/bin/chromium").exists(),
    reason="Debian's chromium is not installed (scripts/test.sh installs it)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def test_sign_in_by_keyboard_and_see_only_your_accounts_keys(
    world: ConsoleWorld, page: Page
) -> None:
    page.goto(f"{world.server.endpoint}/console/keys")
    expect(page).to_have_url(f"{world.server.endpoint}/console/sign-in?expired=1")
    key = world.keys["keyadmin"]
    # The access key field has focus; everything else is typed and tabbed.
    page.keyboard.type(key.access_key_id)
    page.keyboard.press("Tab")
    page.keyboard.type(key.secret_access_key)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/keys")
    expect(page.locator("#principal")).to_have_text(world.arn("keyadmin"))
    table = page.locator("table.keys")
    expect(table).to_contain_text(world.shared_key)
    expect(table).to_contain_text("alias/shared")
    expect(table).not_to_contain_text(world.other_key)
    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"] == "strongroom_console")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # nothing readable by scripts
    screenshot(page, "keys")
    # The skip link is the first stop of the keyboard and leads to the content.
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_filters_narrow_the_keys_list(world: ConsoleWorld, page: Page) -> None:
    kms = world.kms("keyadmin")
    disabled = kms.create_key(Description="to disable")["KeyMetadata"]["KeyId"]
    sign_in(page, world.server.endpoint, world.keys["admin"])
    page.goto(f"{world.server.endpoint}/console/keys")
    admin_kms = world.kms("admin")
    admin_kms.disable_key(KeyId=disabled)
    page.reload()
    page.get_by_label("State").select_option("Disabled")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.keys tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(disabled)


def test_a_key_user_cannot_schedule_deletion(world: ConsoleWorld, page: Page) -> None:
    sign_in(page, world.server.endpoint, world.keys["app"])
    expect(page.locator("main")).to_contain_text("AccessDeniedException")  # no kms:ListKeys
    page.get_by_label("Open a key by id").fill(world.shared_key)
    page.get_by_role("button", name="Open").click()
    expect(page.locator("h1")).to_have_text(f"Key {world.shared_key}")
    page.get_by_role("button", name="Schedule deletion").click()
    alert = page.locator("#action-error")
    expect(alert).to_contain_text("AccessDeniedException")
    expect(alert).to_contain_text("kms:ScheduleKeyDeletion")
    expect(page.locator("#action-error [role=alert]")).to_be_visible()
    state = world.kms("keyadmin").describe_key(KeyId=world.shared_key)["KeyMetadata"]
    assert state["KeyState"] == "Enabled"
    screenshot(page, "access-denied", full_page=False)


def test_create_a_key_with_separate_administrator_and_user(world: ConsoleWorld, page: Page) -> None:
    sign_in(page, world.server.endpoint, world.keys["keyadmin"])
    page.get_by_role("link", name="Create key").click()
    page.get_by_label("Description").fill("payments")
    page.get_by_label("Alias (optional)").fill("alias/payments")
    page.get_by_label("Key users (one ARN a line)").fill(world.arn("app"))
    screenshot(page, "create-key")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("[role=status]").first).to_contain_text("Key created.")
    expect(page.locator("#administrators")).to_contain_text(world.arn("keyadmin"))
    expect(page.locator("#users")).to_contain_text(world.arn("app"))
    expect(page.locator("#users")).not_to_contain_text(world.arn("keyadmin"))
    key_id = page.locator("h1").inner_text().removeprefix("Key ")
    kms = world.kms("keyadmin")
    assert kms.describe_key(KeyId="alias/payments")["KeyMetadata"]["KeyId"] == key_id
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    sids = {s["Sid"] for s in policy["Statement"]}
    assert "Allow use of the key" in sids and "Enable IAM User Permissions" not in sids


def test_edit_a_policy_invalid_json_and_the_lockout_error(world: ConsoleWorld, page: Page) -> None:
    sign_in(page, world.server.endpoint, world.keys["keyadmin"])
    page.goto(f"{world.server.endpoint}/console/keys/{world.shared_key}")
    editor = page.get_by_label("Policy document (JSON)")
    before = world.kms("keyadmin").get_key_policy(KeyId=world.shared_key, PolicyName="default")
    editor.fill('{"Statement": [')
    expect(page.locator("#policy-status")).to_contain_text("Not a valid policy document")
    page.get_by_role("button", name="Save policy").click()
    expect(editor).to_be_focused()  # the script kept the invalid text from being sent
    locked_out = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": world.arn("app")},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    editor.fill(json.dumps(locked_out, indent=2))
    expect(page.locator("#policy-status")).to_contain_text("Valid JSON")
    page.get_by_role("button", name="Save policy").click()
    alert = page.locator("#action-error")
    expect(alert).to_contain_text("MalformedPolicyDocumentException")
    expect(alert).to_contain_text("will not allow you to update the key policy")
    expect(editor).to_have_value(json.dumps(locked_out, indent=2))  # the draft is kept
    screenshot(page, "policy-lockout", full_page=False)
    after = world.kms("keyadmin").get_key_policy(KeyId=world.shared_key, PolicyName="default")
    assert after["Policy"] == before["Policy"]


def test_rotate_and_schedule_then_cancel_deletion(world: ConsoleWorld, page: Page) -> None:
    kms = world.kms("keyadmin")
    sign_in(page, world.server.endpoint, world.keys["keyadmin"])
    page.goto(f"{world.server.endpoint}/console/keys/{world.shared_key}")
    page.get_by_role("button", name="Rotate now").click()
    expect(page.locator("#rotations tbody tr")).to_have_count(1)
    expect(page.locator("#rotations")).to_contain_text("ON_DEMAND")
    policy = separation_of_duties_policy(world.account, [world.arn("keyadmin")], [], strict=True)
    key = kms.create_key(Description="scratch", Policy=policy)["KeyMetadata"]["KeyId"]
    page.goto(f"{world.server.endpoint}/console/keys/{key}")
    page.get_by_label("Waiting period (days)").select_option("7")
    page.get_by_role("button", name="Schedule deletion").click()
    expect(page.locator("#key-state")).to_have_text("PendingDeletion")
    expect(page.locator("#deletion-date")).to_contain_text("waiting period 7 days")
    described = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert described["KeyState"] == "PendingDeletion"
    page.get_by_role("button", name="Cancel deletion").click()
    expect(page.locator("#key-state")).to_have_text("Disabled")


def test_a_form_without_its_csrf_token_is_refused(world: ConsoleWorld, page: Page) -> None:
    sign_in(page, world.server.endpoint, world.keys["keyadmin"])
    page.goto(f"{world.server.endpoint}/console/keys/{world.shared_key}")
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach((e) => e.remove())")
    page.get_by_role("button", name="Disable").click()
    expect(page.locator("main")).to_contain_text("CSRF token is missing or wrong")
    state = world.kms("keyadmin").describe_key(KeyId=world.shared_key)["KeyMetadata"]
    assert state["KeyState"] == "Enabled"


def test_view_the_audit_trail_and_verify_the_chain(world: ConsoleWorld, page: Page) -> None:
    world.trail(1, EventName="CreateAlias")
    sign_in(page, world.server.endpoint, world.keys["keyadmin"])
    page.get_by_role("link", name="Audit trail").click()
    page.get_by_label("Event name").fill("CreateAlias")
    page.get_by_label("Verify the chain").check()
    page.get_by_label("Verify the chain").press("Enter")
    expect(page.locator("#chain-state")).to_contain_text("Chain intact")
    rows = page.locator("#events tbody tr")
    expect(rows.first).to_contain_text("CreateAlias")
    expect(rows.first).to_contain_text(world.arn("keyadmin"))
    screenshot(page, "audit")


def test_exposure_report_and_an_expired_session(world: ConsoleWorld, page: Page) -> None:
    key = world.kms("admin").create_key(Description="orders bucket")["KeyMetadata"]
    s3 = s3_client(world.server)
    orders = kms_bucket(s3, key["Arn"])
    s3.put_object(Bucket=orders, Key="2026/order-1.txt", Body=b"order 1")
    sign_in(page, world.server.endpoint, world.keys["keyadmin"])
    page.get_by_role("link", name="Exposure report").click()
    chart = page.get_by_role("img", name="Keys by who could be compelled to reveal them")
    expect(chart).to_be_visible()
    expect(page.locator("#options")).to_contain_text("Provider, under operator quorum")
    expect(page.locator("#exposure-keys")).to_contain_text(world.shared_key)
    expect(page.locator("#exposure-keys")).not_to_contain_text(world.other_key)
    buckets = page.get_by_role(
        "img", name="Buckets by who could be compelled to reveal their most exposed objects"
    )
    expect(buckets).to_be_visible()
    expect(page.locator("#exposure-buckets")).to_contain_text(orders)
    expect(page.locator("#exposure-buckets")).to_contain_text(
        f"1 object with aws:kms under {key['KeyId']}"
    )
    screenshot(page, "exposure", full_page=False)
    assert unlabelled_controls(page) == []
    world.server.clock.advance(timedelta(minutes=16))
    started = time.monotonic()
    page.get_by_role("link", name="Keys", exact=True).click()
    expect(page).to_have_url(f"{world.server.endpoint}/console/sign-in?expired=1")
    expect(page.locator("main")).to_contain_text("Your session has ended")
    assert time.monotonic() - started < 5


def test_edit_tags_and_grants_on_the_key_page(world: ConsoleWorld, page: Page) -> None:
    policy = separation_of_duties_policy(
        world.account, [world.arn("keyadmin")], [world.arn("app")], strict=True
    )
    key_id = world.kms("keyadmin").create_key(Policy=policy)["KeyMetadata"]["KeyId"]
    sign_in(page, world.server.endpoint, world.keys["keyadmin"])
    page.goto(f"{world.server.endpoint}/console/keys/{key_id}")
    page.get_by_label("Tag key").fill("team")
    page.get_by_label("Value", exact=True).fill("payments")
    page.get_by_role("button", name="Save tag").click()
    expect(page.locator("[role=status].notice")).to_contain_text("Tag saved.")
    expect(page.locator("#tags")).to_contain_text("payments")
    page.get_by_label("Grantee principal (ARN)").fill(world.arn("reader"))
    page.get_by_role("checkbox", name="Decrypt", exact=True).check()
    page.get_by_label("Name (optional)").fill("nightly-batch")
    page.get_by_role("button", name="Create grant").click()
    expect(page.locator("#grants")).to_contain_text("nightly-batch")
    expect(page.locator("#grants")).to_contain_text(world.arn("reader"))
    screenshot(page, "grants", selector="section[aria-labelledby=h-grants]")
    assert unlabelled_controls(page) == []
    page.get_by_role("button", name="Revoke grant nightly-batch").click()
    expect(page.locator("[role=status].notice")).to_contain_text("Grant revoked.")
    assert world.kms("keyadmin").list_grants(KeyId=key_id)["Grants"] == []


def test_import_key_material_wrapped_in_the_browser(
    world: ConsoleWorld, page: Page, tmp_path: Path
) -> None:
    kms = world.kms("admin")
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    material = tmp_path / "material.bin"
    material.write_bytes(os.urandom(32))
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.post_data or ""))
    sign_in(page, world.server.endpoint, world.keys["admin"])
    page.goto(f"{world.server.endpoint}/console/keys/{key_id}")
    page.get_by_role("link", name="Import key material").click()
    page.get_by_label("Key material file").set_input_files(str(material))
    page.get_by_role("button", name="Wrap in this browser").click()
    expect(page.locator(".signer [role=status]")).to_contain_text("Wrapped.")
    assert unlabelled_controls(page) == []
    page.get_by_role("button", name="Import").click()
    expect(page.locator("[role=status].notice")).to_contain_text("Key material imported.")
    expect(page.locator("#key-state")).to_have_text("Enabled")
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"byok")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"byok"
    # The material itself was never sent, in any encoding.
    raw = material.read_bytes()
    for encoded in (base64.b64encode(raw).decode(), raw.hex(), quote(base64.b64encode(raw))):
        assert not any(encoded in data for data in sent)


def test_an_import_without_wrapped_material_changes_nothing(
    world: ConsoleWorld, page: Page
) -> None:
    kms = world.kms("admin")
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    sign_in(page, world.server.endpoint, world.keys["admin"])
    page.goto(f"{world.server.endpoint}/console/keys/{key_id}/import")
    page.get_by_label("Wrapped key material (base64)").fill("not base64!")
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#action-error")).to_contain_text("Wrap the key material first")
    # Base64 that is no wrapped material: the KMS itself refuses it.
    page.get_by_label("Wrapped key material (base64)").fill("bm90IHdyYXBwZWQgYXQgYWxs")
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#action-error")).to_contain_text("InvalidCiphertextException")
    state = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
    assert state == "PendingImport"
