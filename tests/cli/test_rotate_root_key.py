"""``strongroom operator ... rotate-root-key`` of a file root key, end to end.

Keys of several kinds are made and used through boto3 against a real ``strongroom serve``;
three operators (M=2) propose, approve and execute the rotation with the real CLI, which is
refused while the server runs. After a restart everything decrypts, verifies and signs, the
retired file key opens no stored blob, an import token issued before no longer opens, and
``strongroom audit verify`` passes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from strongroom.kms.app import initialize
from strongroom.kms.config import Settings
from strongroom.kms.domain.enums import KeySpec
from strongroom.kms.domain.ids import key_arn
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.keystores.software import material_aad
from strongroom.kms.rootkey.fence import (
    claim_root_key_change,
    holder_name,
    release_root_key_change,
)
from strongroom.kms.rootkey.files import file_descriptor
from strongroom.kms.rootkey.providers import FileRootKey, RootKeyUnwrapFailed
from tests.support.byok import OAEP_256, error_of, external_key, wrapped
from tests.support.processes import strongroom
from tests.support.servers import server_process
from tests.support.used_keys import UsedKeys


def _operators(data_dir: Path, keys: Path) -> None:
    for name in ("ann", "bob", "cat"):
        made = strongroom("operator", "keygen", name, "--out", str(keys))
        assert made.returncode == 0, made.stderr
    members = [f"--operator={n}={keys / f'{n}.pub.pem'}" for n in ("ann", "bob", "cat")]
    done = strongroom("operator", "init", "--data-dir", str(data_dir), "--threshold", "2", *members)
    assert done.returncode == 0, done.stderr


def _operator(data_dir: Path, keys: Path, verb: str, who: str, *rest: str) -> Any:
    key = str(keys / f"{who}.key")
    return strongroom("operator", verb, *rest, "--data-dir", str(data_dir), "--key", key)


def _materials_opened_by(data_dir: Path, key: bytes) -> list[bool]:
    """For every stored material row: does ``key`` unwrap it with its real AAD?"""
    root = FileRootKey(Secret(key))
    with closing(sqlite3.connect(data_dir / "strongroom.db")) as conn:
        query = "SELECT value FROM meta WHERE name = 'default_store_id'"
        (store_id,) = conn.execute(query).fetchone()
        rows = conn.execute(
            "SELECT m.material_id, m.wrapped, k.key_id, k.account_id, k.region, k.key_spec "
            "FROM key_materials m JOIN keys k ON k.key_id = m.key_id"
        ).fetchall()
    opened = []
    for material_id, blob, key_id, account, region, spec in rows:
        aad = material_aad(store_id, key_arn(region, account, key_id), material_id, KeySpec(spec))
        try:
            root.unwrap(blob, aad)
            opened.append(True)
        except RootKeyUnwrapFailed:
            opened.append(False)
    return opened


def test_a_quorum_rotates_the_file_root_key_and_every_key_keeps_working(tmp_path: Path) -> None:
    data_dir, keys = tmp_path / "data", tmp_path / "operators"
    with server_process(data_dir, 2) as first:
        kms = first.client()
        used = UsedKeys.create(kms)
        byok = external_key(kms)
        token, encrypted = wrapped(kms, tmp_path, byok, os.urandom(32), OAEP_256)

        _operators(data_dir, keys)
        proposed = _operator(
            data_dir, keys, "propose", "ann", "rotate-root-key", "--justification", "yearly"
        )
        assert proposed.returncode == 0, proposed.stderr
        pid = json.loads(proposed.stdout)["ProposalId"]
        approved = _operator(data_dir, keys, "approve", "bob", pid)
        assert approved.returncode == 0, approved.stderr
        refused = _operator(data_dir, keys, "execute", "cat", pid)
        assert refused.returncode == 2
        assert "a strongroom serve is running" in refused.stderr

    old = (data_dir / "root.key").read_bytes()
    assert set(_materials_opened_by(data_dir, old)) == {True}
    executed = _operator(data_dir, keys, "execute", "cat", pid)
    assert executed.returncode == 0, executed.stderr
    outcome = json.loads(executed.stdout)["Executed"]
    new = (data_dir / "root.key").read_bytes()
    assert outcome["previousRootKey"] == file_descriptor(Secret(old))
    assert outcome["rootKey"] == file_descriptor(Secret(new))
    assert outcome["rewrappedMaterials"] == len(_materials_opened_by(data_dir, new)) >= 5
    assert (data_dir / outcome["retiredRootKeyFile"]).read_bytes() == old
    assert old.hex() not in executed.stdout + executed.stderr

    with server_process(data_dir, 2) as second:
        kms = second.client()  # the admin's access key secret was re-wrapped too
        used.check(kms)
        # An import token sealed under the old root key no longer opens (they last 24 h).
        code, status, _ = error_of(
            lambda: kms.import_key_material(
                KeyId=byok,
                ImportToken=token,
                EncryptedKeyMaterial=encrypted,
                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
            )
        )
        assert (code, status) == ("InvalidImportTokenException", 400)

    assert set(_materials_opened_by(data_dir, old)) == {False}
    assert set(_materials_opened_by(data_dir, new)) == {True}
    verified = strongroom("audit", "verify", "--data-dir", str(data_dir))
    assert verified.returncode == 0, verified.stderr
    trail = strongroom("audit", "export", "--data-dir", str(data_dir), "--account", "provider")
    events = [json.loads(line) for line in trail.stdout.splitlines()]
    done = [
        e for e in events if e["eventName"] == "ExecuteGovernanceAction" and not e.get("errorCode")
    ]
    assert done[-1]["additionalEventData"]["outcome"]["rootKey"] == outcome["rootKey"]
    assert old.hex() not in trail.stdout and new.hex() not in trail.stdout


def test_a_server_does_not_start_while_the_root_key_changes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data, _ = initialize(Settings(data_dir=data_dir).validated())
    holder = holder_name()
    with data.db.transaction() as tx:  # what rotation and migration hold while they run
        claim_root_key_change(tx, holder)
    try:
        refused = strongroom("serve", "--data-dir", str(data_dir), "--port", "1")
    finally:
        release_root_key_change(data.db, holder)
        data.db.engine.dispose()
    assert refused.returncode == 2
    assert "is being rotated or migrated" in refused.stderr
