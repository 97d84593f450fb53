"""The operator pages over plain HTTP: sign-in by signature, proposals approved and executed
by signature through the quorum service the CLI uses, enrolment and the threshold by
proposals, the provider trail, and the walls between operators and tenants."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.console import ConsoleClient, hidden_field
from tests.support.operators import (
    Operators,
    bytes_to_sign,
    operator_sign_in,
    operators,
    sign_and_post,
)
from tests.support.servers import InProcessServer, in_process_server


@dataclass
class Provider:
    server: InProcessServer
    ops: Operators
    keys: Path


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    root = tmp_path_factory.mktemp("operators")
    with (
        in_process_server(root / "data", chained_audit=True) as server,
        operators(server.data_dir, root / "keys") as ops,
    ):
        yield Provider(server, ops, root / "keys")


def _client(provider: Provider, name: str = "ann") -> ConsoleClient:
    client = ConsoleClient(provider.server.endpoint)
    answer = operator_sign_in(client, provider.ops, name)
    assert answer.status == 303, answer.body
    assert answer.header("location") == "/console/operator/proposals"
    return client


def _propose(provider: Provider, client: ConsoleClient, proposer: str, **form: str) -> str:
    """Draft on the roster page, sign the draft's bytes as ``proposer``, submit: its id."""
    roster = client.get("/console/operator/roster")
    draft = client.post(
        "/console/operator/drafts", {"csrf": hidden_field(roster.body, "csrf"), **form}
    )
    assert draft.status == 200, draft.body
    answer = client.post(
        "/console/operator/proposals",
        {
            "csrf": hidden_field(draft.body, "csrf"),
            "draft": hidden_field(draft.body, "draft"),
            "signature": provider.ops.sign(proposer, bytes_to_sign(draft)),
        },
    )
    assert answer.status == 303, answer.body
    location = answer.header("location") or ""
    return location.rsplit("/", 1)[-1].split("?")[0]


def test_an_operator_signs_in_with_a_signature_over_the_challenge(provider: Provider) -> None:
    client = _client(provider)
    page = client.get("/console/operator/proposals")
    assert page.status == 200
    assert 'Signed in as operator <strong id="principal">ann</strong>' in page.body
    assert client.cookies["strongroom_console"]
    tenant_only = client.get(f"/console/keys/{'0' * 8}")
    assert tenant_only.status == 403  # an operator's session is no KMS principal


def test_a_wrong_signature_or_name_gets_no_session(provider: Provider) -> None:
    client = ConsoleClient(provider.server.endpoint)
    assert operator_sign_in(client, provider.ops, "ann", signer="bob").status == 401
    assert operator_sign_in(client, provider.ops, "nobody", signer="ann").status == 401
    assert "strongroom_console" not in client.cookies
    assert client.get("/console/operator/proposals").header("location") == (
        "/console/operator/sign-in?expired=1"
    )


def test_a_signed_proposal_is_not_a_sign_in(provider: Provider) -> None:
    """Domain separation: a signature over a proposal's bytes never opens a session."""
    client = ConsoleClient(provider.server.endpoint)
    page = client.get("/console/operator/sign-in")
    status = provider.ops.quorum.draft(
        proposer="ann", action="set-threshold", parameters={"threshold": 2}, justification="x"
    )
    form = {
        "login_token": hidden_field(page.body, "login_token"),
        "issued": hidden_field(page.body, "issued"),
        "operator": "ann",
        "signature": provider.ops.sign("ann", status[1]),
    }
    assert client.post("/console/operator/sign-in", form).status == 401


def test_operators_and_tenants_each_see_only_their_own_pages(provider: Provider) -> None:
    operator = _client(provider)
    denied = operator.get("/console/keys")
    assert denied.status == 403 and "Operators have no tenant pages" in denied.body
    assert operator.get("/console/exposure").status == 403
    tenant = ConsoleClient(provider.server.endpoint)
    assert tenant.sign_in(provider.server.admin_key).status == 303
    refused = tenant.get("/console/operator/proposals")
    assert refused.status == 403 and "for the provider&#39;s operators" in refused.body
    assert tenant.get("/console/operator/trail").status == 403


def test_a_quorum_changes_the_threshold_through_the_pages(provider: Provider) -> None:
    ann, bob = _client(provider, "ann"), _client(provider, "bob")
    proposal_id = _propose(
        provider,
        ann,
        "ann",
        action="set-threshold",
        threshold="3",
        justification="three signatures from now on",
    )
    page = ann.get(f"/console/operator/proposals/{proposal_id}")
    assert "Approvals: 1 of M=2" in page.body and "Approved by you" in page.body
    path = f"/console/operator/proposals/{proposal_id}"
    # bob's signature over what the page shows is his approval.
    approved = sign_and_post(bob, provider.ops, "bob", path, f"{path}/approve")
    assert approved.status == 303
    assert provider.ops.quorum.status(proposal_id).counted == ("ann", "bob")
    again = sign_and_post(bob, provider.ops, "bob", path, f"{path}/approve")
    assert again.status == 400 and "bob has approved" in again.body  # distinct operators
    executed = sign_and_post(bob, provider.ops, "bob", path, f"{path}/execute")
    assert executed.status == 303, executed.body
    assert provider.ops.quorum.roster()[0] == 3
    assert "M=3" in ann.get("/console/operator/roster").body
    assert "executed" in ann.get(path).body
    trail = ann.get("/console/operator/trail").body
    for event in (
        "ConsoleOperatorSignIn",
        "ProposeGovernanceAction",
        "ApproveGovernanceAction",
        "ExecuteGovernanceAction",
    ):
        assert event in trail
    assert proposal_id in trail
    # Back to M=2 for the other tests, through the CLI's own service.
    status = provider.ops.quorum.propose(
        proposer="ann",
        action="set-threshold",
        parameters={"threshold": 2},
        justification="back",
        sign=provider.ops.key("ann").sign,
    )
    back = status.proposal.proposal_id
    for name in ("bob", "cat"):
        provider.ops.quorum.approve(
            back, name, provider.ops.key(name).sign(provider.ops.quorum.status(back).message)
        )
    provider.ops.quorum.execute(
        back, "ann", provider.ops.key("ann").sign(provider.ops.quorum.status(back).message)
    )


def test_a_bad_signature_or_form_is_refused_and_changes_nothing(provider: Provider) -> None:
    ann, cat = _client(provider, "ann"), _client(provider, "cat")
    proposal_id = _propose(
        provider, ann, "ann", action="remove-operator", name="bob", justification="left"
    )
    path = f"/console/operator/proposals/{proposal_id}"
    page = cat.get(path)
    forged = cat.post(
        f"{path}/approve",
        {
            "csrf": hidden_field(page.body, "csrf"),
            "signature": provider.ops.sign("bob", bytes_to_sign(page)),
        },
    )
    assert forged.status == 400 and "does not verify" in forged.body
    junk = cat.post(f"{path}/approve", {"csrf": hidden_field(page.body, "csrf"), "signature": "!!"})
    assert junk.status == 400 and "not base64" in junk.body
    no_csrf = cat.post(
        f"{path}/approve", {"signature": provider.ops.sign("cat", bytes_to_sign(page))}
    )
    assert no_csrf.status == 403
    assert provider.ops.quorum.status(proposal_id).counted == ("ann",)
    roster = ann.get("/console/operator/roster")
    bad_key = ann.post(
        "/console/operator/drafts",
        {
            "csrf": hidden_field(roster.body, "csrf"),
            "action": "enrol-operator",
            "name": "dan",
            "public_key": "not a key",
            "justification": "new hire",
        },
    )
    assert bad_key.status == 400 and "not a PEM public key" in bad_key.body
    assert "not a key" in bad_key.body  # what was typed is kept


def test_an_operator_is_enrolled_and_signs_with_the_cli(provider: Provider, tmp_path: Path) -> None:
    from strongroom.kms.governance.operators import keygen

    private, public = keygen("dan", tmp_path)
    ann = _client(provider, "ann")
    proposal_id = _propose(
        provider,
        ann,
        "ann",
        action="enrol-operator",
        name="dan",
        public_key=public.read_text(),
        justification="new hire",
    )
    path = f"/console/operator/proposals/{proposal_id}"
    bob = _client(provider, "bob")
    page = bob.get(path)
    # bob signs on the command line: `strongroom operator sign` with the bytes the page shows.
    encoded = base64.b64encode(bytes_to_sign(page)).decode()
    signed = subprocess.run(
        [
            sys.executable,
            "-m",
            "strongroom.cli.main",
            "operator",
            "sign",
            "--key",
            str(provider.ops.key_files["bob"]),
            encoded,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert f"signing proposal {proposal_id}: enrol-operator" in signed.stderr
    answer = bob.post(
        f"{path}/approve",
        {"csrf": hidden_field(page.body, "csrf"), "signature": signed.stdout.strip()},
    )
    assert answer.status == 303
    assert sign_and_post(ann, provider.ops, "ann", path, f"{path}/execute").status == 303
    assert "dan" in ann.get("/console/operator/roster").body
    dan = ConsoleClient(provider.server.endpoint)
    provider.ops.key_files["dan"] = private
    assert operator_sign_in(dan, provider.ops, "dan").status == 303


def test_the_cli_signs_only_strongroom_bytes(provider: Provider) -> None:
    anything = base64.b64encode(b"transfer all the money").decode()
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "strongroom.cli.main",
            "operator",
            "sign",
            "--key",
            str(provider.ops.key_files["ann"]),
            anything,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert "neither a Strongroom proposal nor a console sign-in" in refused.stderr
    assert refused.stdout == ""


def test_an_operator_signs_out(provider: Provider) -> None:
    client = _client(provider, "cat")
    stolen = dict(client.cookies)
    page = client.get("/console/operator/proposals")
    out = client.post("/console/sign-out", {"csrf": hidden_field(page.body, "csrf")})
    assert out.header("location") == "/console/operator/sign-in?signed_out=1"
    assert "You are signed out." in client.get("/console/operator/sign-in?signed_out=1").body
    replay = ConsoleClient(provider.server.endpoint, stolen).get("/console/operator/proposals")
    assert replay.header("location") == "/console/operator/sign-in?expired=1"


def test_removing_an_operator_ends_their_session(provider: Provider, tmp_path: Path) -> None:
    from strongroom.kms.governance.operators import keygen, load_private_key

    private, _ = keygen("eve", tmp_path)
    quorum, ops = provider.ops.quorum, provider.ops
    ops.key_files["eve"] = private

    def run(action: str, **parameters: object) -> None:
        status = quorum.propose(
            proposer="ann",
            action=action,
            parameters=parameters,
            justification="t",
            sign=ops.key("ann").sign,
        )
        pid = status.proposal.proposal_id
        quorum.approve(pid, "bob", ops.key("bob").sign(quorum.status(pid).message))
        quorum.execute(pid, "ann", ops.key("ann").sign(quorum.status(pid).message))

    raw = load_private_key(private).public_key().public_bytes_raw()
    run("enrol-operator", name="eve", publicKey=base64.b64encode(raw).decode())
    eve = _client(provider, "eve")
    assert eve.get("/console/operator/proposals").status == 200
    run("remove-operator", name="eve")
    answer = eve.get("/console/operator/proposals")
    assert answer.status == 303
    assert answer.header("location") == "/console/operator/sign-in?expired=1"
