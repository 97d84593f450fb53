"""``strongroom serve`` on a fresh data directory whose root key lives in a SoftHSM2 token."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.processes import OutputDrain, cmdline, uvicorn_workers
from tests.support.servers import server_process
from tests.support.softhsm import SoftHsmToken

BANNER_END = "aws kms create-key --endpoint-url"


def test_fresh_start_with_the_root_key_in_a_token(
    tmp_path: Path, softhsm_token: SoftHsmToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / "strongroom.toml").write_text(
        'root_key = "pkcs11"\n'
        f'hsm_module = "{softhsm_token.module}"\n'
        f'hsm_token_label = "{softhsm_token.label}"\n'
        'hsm_key_label = "fresh-root"\n'
    )
    monkeypatch.setenv("STRONGROOM_HSM_PIN", softhsm_token.pin)  # the default PIN variable
    with server_process(data_dir, 2) as running:
        assert running.process is not None
        banner = OutputDrain(running.process).wait_for(BANNER_END)
        assert "2 workers" in banner and softhsm_token.pin not in banner
        workers = uvicorn_workers(running.process.pid)
        assert len(workers) == 2
        for pid in [running.process.pid, *workers]:
            assert softhsm_token.pin not in cmdline(pid)
        kms = running.client()
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        blobs = [kms.encrypt(KeyId=key, Plaintext=b"%d" % n)["CiphertextBlob"] for n in range(8)]
        for n, blob in enumerate(blobs):
            assert running.client().decrypt(CiphertextBlob=blob)["Plaintext"] == b"%d" % n
    assert not (data_dir / "root.key").exists()
