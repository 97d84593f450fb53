"""``strongroom admin migrate-root-key``: from root.key to a SoftHSM2 token, end to end.

Keys of three kinds are made and used through boto3 against a real ``strongroom serve``; the
server is stopped, the migration runs as an operator would run it, and a restarted server (two
worker processes, each logging in to the token itself) must open every old ciphertext, MAC and
access key. The retired file key must open nothing any more. A migration that fails part way
must leave the data directory exactly as it was.
"""

from __future__ import annotations

import json
import sqlite3
import stat
import tomllib
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.kms.app import initialize
from strongroom.kms.config import Settings
from tests.support.processes import OutputDrain, strongroom
from tests.support.servers import server_process
from tests.support.softhsm import SoftHsmToken
from tests.support.used_keys import UsedKeys

BANNER_END = "aws kms create-key --endpoint-url"


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return [tuple(row) for row in conn.execute(sql)]


def _sealed_state(data_dir: Path) -> list[list[tuple[Any, ...]]]:
    db = data_dir / "strongroom.db"
    return [
        _rows(db, "SELECT material_id, wrapped FROM key_materials ORDER BY material_id"),
        _rows(db, "SELECT access_key_id, sealed_secret FROM access_keys ORDER BY 1"),
        _rows(db, "SELECT key_id, sealed_private_key FROM audit_signing_keys ORDER BY 1"),
        _rows(db, "SELECT name, value FROM meta ORDER BY name"),
    ]


def _banner(process: Any, port: str) -> str:
    text = OutputDrain(process).wait_for(BANNER_END)
    return text[: text.index(BANNER_END)].replace(port, "PORT")


def _migrate(data_dir: Path, token: SoftHsmToken, pin_file: Path) -> Any:
    return strongroom(
        "admin",
        "--data-dir",
        str(data_dir),
        "migrate-root-key",
        "--to-pkcs11",
        "--module",
        token.module,
        "--token-label",
        token.label,
        "--pin-file",
        str(pin_file),
        "--key-label",
        "strongroom-root-v1",
    )


@pytest.fixture
def pin_file(tmp_path: Path, softhsm_token: SoftHsmToken) -> Path:
    path = tmp_path / "hsm.pin"
    path.write_text(softhsm_token.pin + "\n")
    path.chmod(0o600)
    return path


def test_migration_keeps_every_key_and_the_server_runs_on_the_hsm(
    tmp_path: Path, softhsm_token: SoftHsmToken, pin_file: Path
) -> None:
    data_dir = tmp_path / "data"
    with server_process(data_dir, 2) as first:
        kms = first.client()
        banner_before = _banner(first.process, first.endpoint.rsplit(":", 1)[1])
        used = UsedKeys.create(kms)
    root_key = (data_dir / "root.key").read_bytes()
    assert len(_sealed_state(data_dir)[0]) >= 4

    result = _migrate(data_dir, softhsm_token, pin_file)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["RootKey"] == "pkcs11:strongroom-root-v1"
    assert report["RewrappedMaterials"] == len(_sealed_state(data_dir)[0])
    assert report["RewrappedSecrets"] >= 2  # the admin's access key and the audit signing key
    assert softhsm_token.pin not in result.stdout + result.stderr
    assert "Exception" not in result.stderr and "Traceback" not in result.stderr
    assert not (data_dir / "root.key").exists()
    (retired,) = data_dir.glob("root.key.retired-*")
    assert retired.read_bytes() == root_key
    assert stat.S_IMODE(retired.stat().st_mode) == 0o600
    config_text = (data_dir / "strongroom.toml").read_text()
    config = tomllib.loads(config_text)
    assert config["root_key"] == "pkcs11" and config["hsm_token_label"] == softhsm_token.label
    assert config["hsm_pin_file"] == str(pin_file.resolve())
    assert softhsm_token.pin not in config_text

    with server_process(data_dir, 2) as second:
        kms = second.client()  # the admin's access key secret was re-wrapped too
        assert _banner(second.process, second.endpoint.rsplit(":", 1)[1]) == banner_before

        def use_everything(_: int) -> None:
            used.check(second.client())

        # Both workers serve (new connections are spread over them), each logged in itself.
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(use_everything, range(16)))

    # The retired file key opens no stored blob any more, old or new.
    materials = _sealed_state(data_dir)[0]
    assert len(materials) == report["RewrappedMaterials"] + 16  # one new key per check()
    for _, wrapped in materials:
        with pytest.raises(InvalidTag):
            AESGCM(root_key).decrypt(wrapped[:12], wrapped[12:], None)
    verified = strongroom("audit", "verify", "--data-dir", str(data_dir))
    assert verified.returncode == 0, verified.stderr


def test_failed_migration_leaves_the_data_directory_as_it_was(
    tmp_path: Path, softhsm_token: SoftHsmToken, pin_file: Path
) -> None:
    data_dir = tmp_path / "data"
    with server_process(data_dir, 1) as first:
        kms = first.client()
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        ciphertext = kms.encrypt(KeyId=key, Plaintext=b"kept")["CiphertextBlob"]
    db = data_dir / "strongroom.db"
    # The audit signing key is re-wrapped last: damage it, so every material row has been
    # re-wrapped inside the transaction before the migration fails.
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE audit_signing_keys SET sealed_private_key = zeroblob(60)")
        conn.commit()
    before = _sealed_state(data_dir)
    files_before = sorted(p.name for p in data_dir.iterdir())

    wrong_pin = tmp_path / "wrong.pin"
    wrong_pin.write_text("not-the-pin\n")
    wrong_pin.chmod(0o600)
    refused = _migrate(data_dir, softhsm_token, wrong_pin)
    assert refused.returncode == 2 and "refused the PIN" in refused.stderr
    assert "not-the-pin" not in refused.stderr

    failed = _migrate(data_dir, softhsm_token, pin_file)
    assert failed.returncode == 2
    assert "does not unwrap" in failed.stderr and "nothing was changed" in failed.stderr
    assert _sealed_state(data_dir) == before
    assert sorted(p.name for p in data_dir.iterdir()) == files_before
    assert (data_dir / "root.key").exists() and not (data_dir / "strongroom.toml").exists()

    # Repaired (a backup of the row restored, here: the signing key dropped and re-made), the
    # file-based server still opens what it encrypted before the failed attempt.
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("DELETE FROM audit_signing_keys")
        conn.commit()
    with server_process(data_dir, 1) as again:
        assert again.client().decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"kept"


def test_a_migration_stopped_after_its_commit_is_finished_by_running_it_again(
    tmp_path: Path, softhsm_token: SoftHsmToken, pin_file: Path
) -> None:
    data_dir = tmp_path / "data"
    data, issued = initialize(Settings(data_dir=data_dir))
    assert issued is not None
    data.db.engine.dispose()
    assert _migrate(data_dir, softhsm_token, pin_file).returncode == 0
    # Put back what steps 3 and 4 changed: the state of a crash right after the commit.
    (retired,) = data_dir.glob("root.key.retired-*")
    retired.rename(data_dir / "root.key")
    (data_dir / "strongroom.toml").unlink()

    refused = strongroom("admin", "--data-dir", str(data_dir), "accounts", "list")
    assert refused.returncode == 2
    assert "sealed under root key 'pkcs11:strongroom-root-v1'" in refused.stderr
    assert "run it again" in refused.stderr

    again = _migrate(data_dir, softhsm_token, pin_file)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["RewrappedMaterials"] == 0  # nothing left to re-wrap
    assert not (data_dir / "root.key").exists()
    listed = strongroom("admin", "--data-dir", str(data_dir), "access-keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert issued.access_key_id in listed.stdout
