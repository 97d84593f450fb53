"""The operator pages in a real browser: an operator signs in and approves a provider access
by signing with WebCrypto (Ed25519) from a key file they pick, which the page never sends;
after the quorum executes it, the tenant sees the access on its own page."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.support.browser import chromium, screenshot, sign_in, unlabelled_controls
from tests.support.operators import Operators, operators
from tests.support.servers import InProcessServer, in_process_server

pytestmark = pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists(),
    reason="Debian's chromium is not installed (scripts/test.sh installs it)",
)


@dataclass
class Provider:
    server: InProcessServer
    ops: Operators


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    root = tmp_path_factory.mktemp("operator-browser")
    with (
        in_process_server(root / "data", chained_audit=True) as server,
        operators(server.data_dir, root / "keys") as ops,
    ):
        yield Provider(server, ops)


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


def _sign_with_file(page: Page, key_file: Path, button: str) -> None:
    page.get_by_label("Your private key file").set_input_files(str(key_file))
    page.get_by_role("button", name=button).click()
    expect(page.locator(".signer [role=status]")).to_contain_text("Signed.")


def test_an_operator_approves_a_provider_access_with_webcrypto(
    provider: Provider, page: Page
) -> None:
    tenant = provider.server.client()
    key_id = tenant.create_key(Description="orders")["KeyMetadata"]["KeyId"]
    blob = tenant.encrypt(KeyId=key_id, Plaintext=b"court-ordered")["CiphertextBlob"]
    quorum, ops = provider.ops.quorum, provider.ops
    proposal = quorum.propose(
        proposer="ann",
        action="provider-decrypt",
        parameters={
            "keyId": key_id,
            "ciphertexts": [base64.b64encode(blob).decode()],
            "encryptionContext": {},
            "reasonCode": "LEGAL_ORDER",
            "reference": "case 2026-17",
        },
        justification="court order 17",
        sign=ops.key("ann").sign,
    ).proposal.proposal_id
    sent: list[str] = []

    def watch(request: Request) -> None:
        sent.append(request.post_data or "")

    page.on("request", watch)
    endpoint = provider.server.endpoint
    page.goto(f"{endpoint}/console/operator/proposals")
    expect(page).to_have_url(f"{endpoint}/console/operator/sign-in?expired=1")
    page.get_by_label("Operator name").fill("bob")
    _sign_with_file(page, ops.key_files["bob"], "Sign the challenge in this browser")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/console/operator/proposals")
    expect(page.locator("#principal")).to_have_text("bob")
    page.get_by_role("link", name=proposal).click()
    expect(page.locator("#proposal-state")).to_have_text("pending")
    _sign_with_file(page, ops.key_files["bob"], "Sign the proposal in this browser")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("[role=status].notice")).to_contain_text("Your approval is recorded")
    expect(page.locator("#proposal-state")).to_have_text("approved")
    expect(page.locator("#approvals")).to_contain_text("bob")
    screenshot(page, "operator-proposal")
    for path in ("operator/proposals", "operator/roster", "operator/trail"):
        page.goto(f"{endpoint}/console/{path}")
        assert unlabelled_controls(page) == [], path
    page.go_back()
    page.go_back()
    page.go_back()
    assert quorum.status(proposal).counted == ("ann", "bob")
    # The private key never left the browser: no request carried it.
    private_pem = ops.key_files["bob"].read_text()
    body = private_pem.split("-----")[2].strip().splitlines()[0]
    assert sent and not any(body in data for data in sent)
    # provider-decrypt runs from the command line only (the plaintexts go to a file there).
    _sign_with_file(page, ops.key_files["bob"], "Sign the proposal in this browser")
    page.get_by_role("button", name="Execute").click()
    expect(page.locator("#action-error")).to_contain_text("runs only from the command line")
    message = quorum.status(proposal).message
    outcome = quorum.execute(proposal, "ann", ops.key("ann").sign(message))
    assert outcome.output is not None
    page.get_by_role("link", name="Provider trail").click()
    expect(page.locator("#trail")).to_contain_text("ExecuteGovernanceAction")
    # The tenant sees the access, its justification and approvers, in its own console.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, endpoint, provider.server.admin_key)
    page.get_by_role("link", name="Provider accesses").click()
    accesses = page.locator("#accesses")
    expect(accesses).to_contain_text(key_id)
    expect(accesses).to_contain_text("court order 17")
    expect(accesses).to_contain_text("ann, bob")
    screenshot(page, "provider-access")


def test_a_passphrase_protected_key_is_signed_on_the_command_line(
    provider: Provider, page: Page, tmp_path: Path
) -> None:
    from strongroom.kms.governance.operators import keygen

    protected, _ = keygen("zed", tmp_path, b"correct horse")
    page.goto(f"{provider.server.endpoint}/console/operator/sign-in")
    page.get_by_label("Your private key file").set_input_files(str(protected))
    page.get_by_role("button", name="Sign the challenge in this browser").click()
    status = page.locator(".signer [role=status]")
    expect(status).to_contain_text("protected by a passphrase")
    expect(page.get_by_label("Signature over the challenge (base64)")).to_have_value("")
    assert unlabelled_controls(page) == []
    # The label check itself finds what it should.
    page.set_content("<label for=a>A</label><input id=a><input id=b><button></button>")
    assert len(unlabelled_controls(page)) == 2
