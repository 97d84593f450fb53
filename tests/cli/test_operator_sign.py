"""``strongroom operator sign``: signs what the console shows, with the operator's key file,
after saying what it is; refuses anything that is not a Strongroom proposal or sign-in."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import pytest

from strongroom.kms.governance.operators import keygen, load_private_key
from strongroom.kms.governance.proposals import Realm
from strongroom.kms.governance.sign_in import sign_in_bytes
from tests.support.cli import run

PROPOSAL = (
    b"strongroom-governance-proposal/v1\n"
    b'{"action":"set-threshold","created":"2026-12-05T08:00:00.000000Z",'
    b'"expires":"2026-12-06T08:00:00.000000Z","id":"gp-0123456789abcdef0123",'
    b'"justification":"more approvers","nonce":"00112233445566778899aabbccddeeff",'
    b'"parameters":{"threshold":3},"proposer":"ann",'
    b'"realm":{"region":"us-east-1","storeId":"s"},"threshold":2}'
)


def test_a_proposal_is_signed_after_saying_what_it_is(tmp_path: Path) -> None:
    private, _ = keygen("ann", tmp_path)
    status, out, err = run(
        "operator", "sign", "--key", str(private), base64.b64encode(PROPOSAL).decode()
    )
    assert status == 0
    assert "signing proposal gp-0123456789abcdef0123: set-threshold" in err
    assert "'more approvers'" in err
    signature = base64.b64decode(out.strip())
    load_private_key(private).public_key().verify(signature, PROPOSAL)


def test_a_sign_in_challenge_is_read_from_standard_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private, _ = keygen("bob", tmp_path, b"a passphrase")
    (tmp_path / "pass").write_text("a passphrase\n")
    (tmp_path / "pass").chmod(0o600)
    challenge = sign_in_bytes(Realm("s", "us-east-1"), "127.0.0.1:8080", "n0nce", 1_800_000_000)
    monkeypatch.setattr(sys, "stdin", io.StringIO(base64.b64encode(challenge).decode() + "\n"))
    status, out, err = run(
        "operator", "sign", "--key", str(private), "--passphrase-file", str(tmp_path / "pass")
    )
    assert status == 0, err
    assert "a web console sign-in at 127.0.0.1:8080" in err
    key = load_private_key(private, b"a passphrase")
    key.public_key().verify(base64.b64decode(out.strip()), challenge)


@pytest.mark.parametrize(
    "payload",
    [b"anything else", b"strongroom-governance-proposal/v1\nnot json", b"\x00" * 64],
    ids=["plain-text", "prefix-without-json", "binary"],
)
def test_other_bytes_are_not_signed(tmp_path: Path, payload: bytes) -> None:
    private, _ = keygen("cat", tmp_path)
    status, out, err = run(
        "operator", "sign", "--key", str(private), base64.b64encode(payload).decode()
    )
    assert status != 0 and out == ""
    assert "neither a Strongroom proposal nor a console sign-in" in err


def test_bytes_that_are_not_base64_are_refused(tmp_path: Path) -> None:
    private, _ = keygen("dan", tmp_path)
    status, out, err = run("operator", "sign", "--key", str(private), "not base64!")
    assert status != 0 and out == "" and "not base64" in err
