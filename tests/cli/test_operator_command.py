"""``strongroom operator``: key pairs, initialisation and the proposal flow from the CLI."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from strongroom.kms.app import initialize
from strongroom.kms.config import Settings
from tests.support.cli import run


@pytest.fixture
def setup(tmp_path: Path) -> tuple[str, Path]:
    directory = tmp_path / "data"
    data, _ = initialize(Settings(data_dir=directory).validated())
    data.db.engine.dispose()
    keys = tmp_path / "keys"
    for name in ("ann", "bob"):
        assert run("operator", "keygen", name, "--out", str(keys))[0] == 0
    return str(directory), keys


def _init(data_dir: str, keys: Path, threshold: str = "2", *names: str) -> tuple[int, str, str]:
    members = [f"--operator={n}={keys / f'{n}.pub.pem'}" for n in (names or ("ann", "bob"))]
    return run("operator", "init", "--data-dir", data_dir, "--threshold", threshold, *members)


def test_keygen_writes_a_private_key_only_its_owner_reads(setup: tuple[str, Path]) -> None:
    _, keys = setup
    assert stat.S_IMODE((keys / "ann.key").stat().st_mode) == 0o600
    public = serialization.load_pem_public_key((keys / "ann.pub.pem").read_bytes())
    assert isinstance(public, Ed25519PublicKey)
    status, _, err = run("operator", "keygen", "ann", "--out", str(keys))
    assert status == 2 and "exists already" in err


def test_init_sets_m_once(setup: tuple[str, Path]) -> None:
    data_dir, keys = setup
    status, out, err = _init(data_dir, keys)
    assert (status, err) == (0, "")
    roster = json.loads(out)
    assert roster["Threshold"] == 2
    assert [o["Name"] for o in roster["Operators"]] == ["ann", "bob"]
    status, _, err = _init(data_dir, keys)
    assert status == 2 and "initialised already" in err


def test_init_refuses_m_above_n_and_warns_for_m_of_one(
    tmp_path: Path, setup: tuple[str, Path]
) -> None:
    data_dir, keys = setup
    status, _, err = _init(data_dir, keys, "3")
    assert status == 2 and "M=3 exceeds the number of operators N=2" in err
    status, _, err = _init(data_dir, keys, "1")
    assert status == 0 and "M>=2 is recommended" in err


def test_a_key_file_others_can_read_is_refused(setup: tuple[str, Path]) -> None:
    data_dir, keys = setup
    _init(data_dir, keys)
    (keys / "ann.key").chmod(0o644)
    status, _, err = run(
        "operator",
        "propose",
        "set-threshold",
        "--data-dir",
        data_dir,
        "--key",
        str(keys / "ann.key"),
        "--threshold",
        "1",
        "--justification",
        "x",
    )
    assert status == 2 and "accessible by others" in err


def test_show_prints_the_bytes_every_approval_signs(setup: tuple[str, Path]) -> None:
    data_dir, keys = setup
    _init(data_dir, keys)
    status, out, _ = run(
        "operator",
        "propose",
        "set-threshold",
        "--data-dir",
        data_dir,
        "--key",
        str(keys / "ann.key"),
        "--threshold",
        "1",
        "--justification",
        "one is enough for a lab",
    )
    assert status == 0
    pid = json.loads(out)["ProposalId"]
    assert (
        run("operator", "approve", pid, "--data-dir", data_dir, "--key", str(keys / "bob.key"))[0]
        == 0
    )
    shown = json.loads(run("operator", "show", pid, "--data-dir", data_dir)[1])
    message = base64.b64decode(shown["CanonicalBytesBase64"])
    assert message.startswith(b"strongroom-governance-proposal/v1\n")
    body = json.loads(message.split(b"\n", 1)[1])
    assert (body["id"], body["threshold"], body["parameters"]) == (pid, 2, {"threshold": 1})
    assert shown["State"] == "approved"
    assert shown["CountedApprovals"] == ["ann", "bob"]
    listed = json.loads(run("operator", "list", "--data-dir", data_dir)[1])
    assert [p["ProposalId"] for p in listed] == [pid]
    status, out, _ = run(
        "operator", "execute", pid, "--data-dir", data_dir, "--key", str(keys / "bob.key")
    )
    assert status == 0 and json.loads(out)["Executed"] == {"threshold": 1, "previous": 2}
    # the whole flow is on the provider's trail
    status, out, _ = run("audit", "export", "--data-dir", data_dir, "--account", "provider")
    names = [json.loads(line)["eventName"] for line in out.splitlines()]
    assert names == [
        "InitializeOperators",
        "ProposeGovernanceAction",
        "ApproveGovernanceAction",
        "ExecuteGovernanceAction",
    ]


def test_admin_changes_are_audited_without_their_secrets(setup: tuple[str, Path]) -> None:
    data_dir, _ = setup
    status, out, _ = run("admin", "--data-dir", data_dir, "accounts", "create", "--name", "acme")
    account = json.loads(out)["AccountId"]
    run("admin", "--data-dir", data_dir, "users", "create", "--account", account, "dev")
    status, out, err = run(
        "admin",
        "--data-dir",
        data_dir,
        "access-keys",
        "create",
        "--account",
        account,
        "--user",
        "dev",
    )
    assert (status, err) == (0, "")
    secret = json.loads(out)["SecretAccessKey"]
    status, out, _ = run("audit", "export", "--data-dir", data_dir, "--account", account)
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["eventName"] for e in events] == ["AdminCreateUser", "AdminCreateAccessKey"]
    assert events[1]["userIdentity"]["type"] == "StrongroomAdministrator"
    assert events[1]["requestParameters"] == {"account": account, "user": "dev"}
    assert secret not in out


def test_a_key_protected_by_a_passphrase_needs_it(
    setup: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, keys = setup
    secret = tmp_path / "cat.passphrase"
    secret.write_text("correct horse battery staple\n")
    secret.chmod(0o600)
    made = run("operator", "keygen", "cat", "--out", str(keys), "--passphrase-file", str(secret))
    assert made[0] == 0
    pem = (keys / "cat.key").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in pem and b"correct horse" not in pem
    _init(data_dir, keys, "2", "ann", "bob", "cat")

    def propose(*extra: str) -> tuple[int, str, str]:
        return run(
            "operator",
            "propose",
            "set-threshold",
            "--data-dir",
            data_dir,
            "--key",
            str(keys / "cat.key"),
            "--threshold",
            "3",
            "--justification",
            "x",
            *extra,
        )

    status, _, err = propose()
    assert status == 2 and "protected by a passphrase" in err
    wrong = tmp_path / "wrong"
    wrong.write_text("not it")
    wrong.chmod(0o600)
    status, _, err = propose("--passphrase-file", str(wrong))
    assert status == 2 and "the passphrase is wrong" in err and "not it" not in err
    loose = tmp_path / "loose"
    loose.write_text("correct horse battery staple")
    loose.chmod(0o644)
    status, _, err = propose("--passphrase-file", str(loose))
    assert status == 2 and "accessible by others" in err
    status, _, err = propose("--passphrase-env", "CAT_PASSPHRASE")
    assert status == 2 and "CAT_PASSPHRASE is not set" in err
    monkeypatch.setenv("CAT_PASSPHRASE", "correct horse battery staple")
    status, out, err = propose("--passphrase-env", "CAT_PASSPHRASE")
    assert (status, err) == (0, "")
    assert json.loads(out)["Proposer"] == "cat"
