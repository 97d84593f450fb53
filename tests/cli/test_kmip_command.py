"""``strongroom admin kmip``: register, list and remove client certificates, and refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from strongroom.kms.app import initialize
from strongroom.kms.config import Settings
from tests.support.cli import run
from tests.support.kmip import authority, issue


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path, str, str]:
    """A data directory, a client certificate, its fingerprint and the admin user's ARN."""
    data_dir = tmp_path / "data"
    data, issued = initialize(Settings(data_dir=data_dir).validated())
    data.db.engine.dispose()
    assert issued is not None
    status, out, _ = run("admin", "--data-dir", str(data_dir), "accounts", "list")
    assert status == 0, out
    arn = f"arn:aws:iam::{json.loads(out)[0]['AccountId']}:user/admin"
    ca = authority(tmp_path, "ca")
    pair = issue(ca, tmp_path, "vsphere")
    der = x509.load_pem_x509_certificate(pair.certificate.read_bytes()).public_bytes(Encoding.DER)
    return data_dir, pair.certificate, hashlib.sha256(der).hexdigest(), arn


def test_a_certificate_is_registered_listed_and_removed(
    world: tuple[Path, Path, str, str],
) -> None:
    data_dir, certificate, fingerprint, arn = world
    base = ("admin", "--data-dir", str(data_dir), "kmip")
    status, out, err = run(*base, "add-client", "--cert", str(certificate), "--principal", arn)
    assert status == 0, err
    added = json.loads(out)
    assert added["Fingerprint"] == fingerprint
    assert added["Principal"] == arn
    assert added["Subject"] == "CN=vsphere"
    status, out, _ = run(*base, "list-clients")
    assert [c["Fingerprint"] for c in json.loads(out)] == [fingerprint]
    status, out, err = run(*base, "add-client", "--cert", str(certificate), "--principal", arn)
    assert status != 0 and "registered already" in err
    colons = ":".join(fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    status, out, err = run(*base, "remove-client", colons)
    assert status == 0, err
    status, out, _ = run(*base, "list-clients")
    assert json.loads(out) == []
    status, _, err = run(*base, "remove-client", fingerprint)
    assert status != 0 and f"no KMIP client {fingerprint}" in err


def test_changes_are_audited_in_the_account_trail(world: tuple[Path, Path, str, str]) -> None:
    data_dir, certificate, _, arn = world
    base = ("admin", "--data-dir", str(data_dir), "kmip")
    assert run(*base, "add-client", "--cert", str(certificate), "--principal", arn)[0] == 0
    status, out, err = run(
        "audit", "export", "--data-dir", str(data_dir), "--account", arn.split(":")[4]
    )
    assert status == 0, err
    names = [json.loads(line)["eventName"] for line in out.splitlines() if line.strip()]
    assert "AdminAddClientKmip" in names


@pytest.mark.parametrize(
    ("principal", "phrase"),
    [
        ("admin", "is not a user or role ARN"),
        ("arn:aws:iam::999999999999:user/admin", "no user"),
        ("arn:aws:iam::{account}:user/nobody", "no user"),
    ],
    ids=["not-an-arn", "unknown-account", "unknown-user"],
)
def test_a_principal_that_does_not_exist_is_refused(
    world: tuple[Path, Path, str, str], principal: str, phrase: str
) -> None:
    data_dir, certificate, _, arn = world
    principal = principal.format(account=arn.split(":")[4])
    status, _, err = run(
        "admin", "--data-dir", str(data_dir), "kmip", "add-client",
        "--cert", str(certificate), "--principal", principal,
    )  # fmt: skip
    assert status != 0 and phrase in err


def test_a_file_that_is_not_a_certificate_is_refused(
    world: tuple[Path, Path, str, str], tmp_path: Path
) -> None:
    data_dir, _, _, arn = world
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    status, _, err = run(
        "admin", "--data-dir", str(data_dir), "kmip", "add-client",
        "--cert", str(junk), "--principal", arn,
    )  # fmt: skip
    assert status != 0 and "not a PEM certificate" in err
