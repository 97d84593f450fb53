"""``strongroom admin hsm-clusters``: the provider registers HSM clusters."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.kms.app import initialize
from strongroom.kms.config import Settings
from tests.cli.test_admin import admin, admin_fails
from tests.support.hsm_clusters import new_cluster_id, trust_anchor_pem


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An initialized data directory, no server."""
    directory = tmp_path / "data"
    opened, _ = initialize(Settings(data_dir=directory))
    opened.db.engine.dispose()
    return directory


@pytest.fixture
def anchor(tmp_path: Path) -> Path:
    path = tmp_path / "customerCA.crt"
    path.write_text(trust_anchor_pem())
    return path


def test_register_and_list(data_dir: Path, anchor: Path) -> None:
    cluster_id = new_cluster_id()
    registered = admin(
        data_dir,
        "hsm-clusters",
        "register",
        cluster_id,
        "--token",
        "hsm-a",
        "--token",
        "hsm-b",
        "--trust-anchor",
        str(anchor),
    )
    assert registered["ClusterId"] == cluster_id
    assert registered["Tokens"] == ["hsm-a", "hsm-b"]
    assert registered["Module"] == "/usr/lib/softhsm/libsofthsm2.so"
    listed = admin(data_dir, "hsm-clusters", "list")
    assert [c["ClusterId"] for c in listed] == [cluster_id]


@pytest.mark.parametrize(
    "case",
    [
        ("cluster-bad", ["a"], None, "must look like"),
        (None, ["a", "a"], None, "distinct token labels"),
        (None, ["a"], "not a certificate", "not a PEM X.509 certificate"),
    ],
)
def test_bad_registrations_are_refused(
    data_dir: Path, anchor: Path, case: tuple[str | None, list[str], str | None, str]
) -> None:
    cluster_id, tokens, anchor_text, message = case
    if anchor_text is not None:
        anchor.write_text(anchor_text)
    args = ["hsm-clusters", "register", cluster_id or new_cluster_id(), "--trust-anchor"]
    args.append(str(anchor))
    for token in tokens:
        args += ["--token", token]
    assert message in admin_fails(data_dir, *args)


def test_a_cluster_is_registered_once(data_dir: Path, anchor: Path) -> None:
    cluster_id = new_cluster_id()
    args = ["hsm-clusters", "register", cluster_id, "--token", "x", "--trust-anchor", str(anchor)]
    admin(data_dir, *args)
    assert "registered already" in admin_fails(data_dir, *args)
