"""A backup of a data directory whose root key lives in an HSM (SoftHSM2) is useless without
that HSM: its key is wrapped inside the token, and restore needs the token to unwrap it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import server_process
from tests.support.softhsm import SoftHsmToken, bring_back, take_away


def _config(token: SoftHsmToken, key_label: str) -> str:
    return (
        'root_key = "pkcs11"\n'
        f'hsm_module = "{token.module}"\n'
        f'hsm_token_label = "{token.label}"\n'
        f'hsm_key_label = "{key_label}"\n'
    )


def _strongroom(*argv: str) -> subprocess.CompletedProcess[str]:
    """A separate process: SoftHSM reads its token directory once per process."""
    env = {k: v for k, v in os.environ.items() if k != "STRONGROOM_CONFIG"}
    command = [sys.executable, "-m", "strongroom.cli.main", *argv]
    return subprocess.run(
        command, check=False, capture_output=True, text=True, env=env, timeout=120
    )


def test_an_hsm_sealed_backup_restores_only_with_that_hsm(
    tmp_path: Path, softhsm_token: SoftHsmToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "source"
    source.mkdir(mode=0o700)
    (source / "strongroom.toml").write_text(_config(softhsm_token, "backup-root"))
    monkeypatch.setenv("STRONGROOM_HSM_PIN", softhsm_token.pin)
    backup = tmp_path / "hsm.backup"
    with server_process(source, 1) as running:
        kms = running.client()
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"sealed in the token")["CiphertextBlob"]
        done = _strongroom("backup", "--data-dir", str(source), "--out", str(backup))
        assert done.returncode == 0, done.stderr
    assert not (source / "root.key").exists()
    restore = ("restore", "--backup", str(backup), "--data-dir")

    refused = _strongroom(*restore, str(tmp_path / "no-config"))
    assert refused.returncode == 1 and "give --config" in refused.stderr
    other = tmp_path / "other.toml"
    other.write_text(_config(softhsm_token, "some-other-key"))
    refused = _strongroom(*restore, str(tmp_path / "wrong"), "--config", str(other))
    assert refused.returncode == 2 and "backup-root" in refused.stderr
    away = take_away(softhsm_token)
    try:
        refused = _strongroom(*restore, str(tmp_path / "no-hsm"), "--config", str(other))
        assert refused.returncode != 0
    finally:
        bring_back(away)
    for name in ("no-config", "wrong", "no-hsm"):
        assert not (tmp_path / name).exists()

    target = tmp_path / "restored"
    done = _strongroom(*restore, str(target), "--config", str(source / "strongroom.toml"))
    assert done.returncode == 0, done.stderr
    assert not (target / "root.key").exists()
    assert (target / "strongroom.toml").read_text() == _config(softhsm_token, "backup-root")
    (target / "aws").mkdir(mode=0o700)
    shutil.copy(source / "aws" / "credentials", target / "aws" / "credentials")
    with server_process(target, 1) as restored:
        plaintext = restored.client().decrypt(CiphertextBlob=blob)["Plaintext"]
    assert plaintext == b"sealed in the token"
