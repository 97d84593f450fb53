"""rotate-root-key of a file root key: under quorum, in one transaction, crash-safe switch.

A real data directory and the real quorum; the crash states are made by putting files back
as they were at the moment of the crash (the database side is the real committed state).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from strongroom.kms.app import open_data_dir
from strongroom.kms.config import ConfigError
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.governance.errors import GovernanceError
from strongroom.kms.keystores.software import secret_aad
from strongroom.kms.rootkey.fence import ServingLease
from strongroom.kms.rootkey.files import file_descriptor
from strongroom.kms.rootkey.migration import PURPOSES
from strongroom.kms.rootkey.providers import FileRootKey, RootKeyUnwrapFailed
from strongroom.kms.service.credentials import CredentialCache
from strongroom.kms.storage.identity import IdentityRepository
from strongroom.kms.storage.sealed import SEALED_COLUMNS
from tests.unit.governance.helpers import Governed, governed


@pytest.fixture
def gov(tmp_path: Path) -> Iterator[Governed]:
    with governed(tmp_path) as g:
        yield g


def _approved(gov: Governed, params: dict[str, Any] | None = None) -> str:
    pid = gov.quorum.propose(
        proposer="ann",
        action="rotate-root-key",
        parameters=params or {},
        justification="yearly root key rotation",
        sign=gov.keys["ann"].sign,
    ).proposal.proposal_id
    gov.approve("bob", pid)
    return pid


def _execute(gov: Governed, pid: str) -> dict[str, object]:
    return dict(gov.quorum.execute(pid, "cat", gov.sign("cat", pid)).summary)


def _sealed(data_dir: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(data_dir / "strongroom.db")) as conn:
        return [
            tuple(row)
            for sql in (
                "SELECT material_id, wrapped FROM key_materials",
                "SELECT access_key_id, sealed_secret FROM access_keys",
                "SELECT key_id, sealed_private_key FROM audit_signing_keys",
                "SELECT name, sealed_secret FROM store_secrets",
                "SELECT name, value FROM meta WHERE name = 'root_key'",
            )
            for row in conn.execute(sql + " ORDER BY 1")
        ]


def _opened_by(key: bytes, data_dir: Path, store_id: str) -> list[bool]:
    """For every sealed secret: does ``key`` unwrap it (with its real AAD)?"""
    root, opened = FileRootKey(Secret(key)), []
    with closing(sqlite3.connect(data_dir / "strongroom.db")) as conn:
        for sealed in SEALED_COLUMNS:
            columns = f"{sealed.id_column}, {sealed.sealed_column}"
            sql = f"SELECT {columns} FROM {sealed.table}"  # noqa: S608 - our names
            for name, blob in conn.execute(sql):
                try:
                    root.unwrap(blob, secret_aad(store_id, PURPOSES[sealed.table], name))
                    opened.append(True)
                except RootKeyUnwrapFailed:
                    opened.append(False)
    return opened


def test_a_file_root_key_rotates_under_quorum_and_the_old_key_is_retired(
    gov: Governed,
) -> None:
    data_dir = gov.data.settings.data_dir
    old = (data_dir / "root.key").read_bytes()
    issued = gov.data.admin.create_access_key(gov.data.admin.list_accounts()[0].account_id, "admin")
    before = _sealed(data_dir)
    pid = _approved(gov)
    shown = gov.quorum.status(pid).proposal.parameters
    assert shown == {"from": file_descriptor(Secret(old))}  # operators sign the key replaced

    summary = _execute(gov, pid)
    new = (data_dir / "root.key").read_bytes()
    assert new != old and len(new) == 32
    assert summary["previousRootKey"] == file_descriptor(Secret(old))
    assert summary["rootKey"] == file_descriptor(Secret(new))
    assert summary["rewrappedSecrets"] == len([r for r in before if r[0] != "root_key"])
    retired = data_dir / str(summary["retiredRootKeyFile"])
    assert retired.read_bytes() == old and stat.S_IMODE(retired.stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "root.key").stat().st_mode) == 0o600
    assert not (data_dir / "root.key.next").exists()
    after = _sealed(data_dir)
    assert ("root_key", file_descriptor(Secret(new))) in after
    assert not set(after) & set(before)  # every sealed blob was re-wrapped

    # The executing process keeps working (its store moved to the new key), and so does a
    # fresh open of the data directory; the access key's secret survived.
    assert gov.quorum.status(_approved(gov)).state == "approved"
    store_id = gov.data.store.store_id
    assert set(_opened_by(new, data_dir, store_id)) == {True}
    assert set(_opened_by(old, data_dir, store_id)) == {False}
    reopened = open_data_dir(gov.data.settings)
    try:
        found = CredentialCache(IdentityRepository(reopened.db), reopened.store).lookup(
            issued.access_key_id
        )
        assert found is not None and found.secret_bytes() == issued.secret_access_key.encode()
        assert reopened.store.root.descriptor == "file"
    finally:
        reopened.db.engine.dispose()

    # The trail records the act with both descriptors and never the key bytes.
    executed = [r for r in gov.records() if r["eventName"] == "ExecuteGovernanceAction"][-1]
    text = json.dumps(executed)
    assert file_descriptor(Secret(old)) in text and file_descriptor(Secret(new)) in text
    assert old.hex() not in text and new.hex() not in text
    assert executed.get("errorCode") is None


def test_below_threshold_nothing_rotates(gov: Governed) -> None:
    data_dir = gov.data.settings.data_dir
    before, old = _sealed(data_dir), (data_dir / "root.key").read_bytes()
    pid = gov.quorum.propose(
        proposer="ann",
        action="rotate-root-key",
        parameters={},
        justification="alone",
        sign=gov.keys["ann"].sign,
    ).proposal.proposal_id
    with pytest.raises(GovernanceError, match="1 valid approval"):
        _execute(gov, pid)
    assert _sealed(data_dir) == before and (data_dir / "root.key").read_bytes() == old
    assert not (data_dir / "root.key.next").exists()


def test_a_failure_inside_the_transaction_leaves_everything_as_before(gov: Governed) -> None:
    data_dir = gov.data.settings.data_dir
    pid = _approved(gov)
    with closing(sqlite3.connect(data_dir / "strongroom.db")) as conn:
        conn.execute("INSERT INTO store_secrets VALUES ('zz-damaged', zeroblob(60))")
        conn.commit()
    before, old = _sealed(data_dir), (data_dir / "root.key").read_bytes()
    root = gov.data.store.root
    with pytest.raises(GovernanceError, match="zz-damaged does not unwrap"):
        _execute(gov, pid)
    assert _sealed(data_dir) == before
    assert (data_dir / "root.key").read_bytes() == old
    assert sorted(p.name for p in data_dir.glob("root.key*")) == ["root.key", "root.key.lock"]
    assert gov.data.store.root is root  # the process swapped back to the key in force
    assert gov.quorum.status(pid).state == "approved"  # it can run once repaired
    with closing(sqlite3.connect(data_dir / "strongroom.db")) as conn:
        conn.execute("DELETE FROM store_secrets WHERE name = 'zz-damaged'")
        conn.commit()
    assert _execute(gov, pid)["rootKey"] != file_descriptor(Secret(old))


def test_a_running_server_is_refused(gov: Governed) -> None:
    data_dir = gov.data.settings.data_dir
    pid = _approved(gov)
    worker = ServingLease(gov.data.db)  # what every server worker holds, on any node
    worker.claim()
    try:
        with pytest.raises(GovernanceError, match="a strongroom serve is running"):
            _execute(gov, pid)
    finally:
        worker.release()
    assert gov.quorum.status(pid).state == "approved"
    assert not (data_dir / "root.key.next").exists()
    _execute(gov, pid)
    ServingLease.claimed(gov.data.db).release()  # the change released its lease: serving is allowed


def test_a_crash_after_the_commit_is_finished_at_the_next_start(gov: Governed) -> None:
    data_dir = gov.data.settings.data_dir
    old = (data_dir / "root.key").read_bytes()
    summary = _execute(gov, _approved(gov))
    new = (data_dir / "root.key").read_bytes()
    # Put the files back as they were between the commit and the switch.
    (data_dir / "root.key").rename(data_dir / "root.key.next")
    (data_dir / str(summary["retiredRootKeyFile"])).rename(data_dir / "root.key")

    reopened = open_data_dir(gov.data.settings)
    reopened.db.engine.dispose()
    assert (data_dir / "root.key").read_bytes() == new
    assert not (data_dir / "root.key.next").exists()
    (retired,) = data_dir.glob("root.key.retired-*")
    assert retired.read_bytes() == old


def test_a_crash_before_the_commit_leaves_an_unused_next_key(gov: Governed) -> None:
    data_dir = gov.data.settings.data_dir
    stale = os.urandom(32)
    (data_dir / "root.key.next").write_bytes(stale)
    (data_dir / "root.key.next").chmod(0o600)
    reopened = open_data_dir(gov.data.settings)  # the database names root.key: it opens
    reopened.db.engine.dispose()
    summary = _execute(gov, _approved(gov))  # and a rotation replaces the stale file
    assert summary["rootKey"] == file_descriptor(Secret((data_dir / "root.key").read_bytes()))
    assert (data_dir / "root.key").read_bytes() != stale


def test_a_root_key_file_that_is_not_the_recorded_one_is_refused(gov: Governed) -> None:
    data_dir = gov.data.settings.data_dir
    recorded = file_descriptor(Secret((data_dir / "root.key").read_bytes()))
    os.replace(data_dir / "root.key", data_dir / "root.key.bak")
    (data_dir / "root.key").write_bytes(os.urandom(32))
    (data_dir / "root.key").chmod(0o600)
    with pytest.raises(ConfigError, match="is not the root key") as refused:
        open_data_dir(gov.data.settings)
    assert recorded in str(refused.value)
    # A data directory from before rotation existed records plain "file": still opens.
    os.replace(data_dir / "root.key.bak", data_dir / "root.key")
    with closing(sqlite3.connect(data_dir / "strongroom.db")) as conn:
        conn.execute("UPDATE meta SET value = 'file' WHERE name = 'root_key'")
        conn.commit()
    legacy = open_data_dir(gov.data.settings)
    legacy.db.engine.dispose()
    assert _approved(gov) and _execute(gov, _approved(gov))["previousRootKey"] == "file"


def test_parameters_are_checked_when_proposed_and_when_executed(gov: Governed) -> None:
    with pytest.raises(GovernanceError, match="takes no keyLabel"):
        _approved(gov, {"keyLabel": "root-v2"})
    with pytest.raises(GovernanceError, match="no parameter colour"):
        _approved(gov, {"colour": "red"})
    first, second = _approved(gov), _approved(gov)
    _execute(gov, first)
    with pytest.raises(GovernanceError, match="propose the rotation again"):
        _execute(gov, second)  # it replaces a root key that is no longer in force


def test_a_crash_between_the_link_and_the_rename_is_finished_too(gov: Governed) -> None:
    data_dir = gov.data.settings.data_dir
    old = (data_dir / "root.key").read_bytes()
    summary = _execute(gov, _approved(gov))
    new = (data_dir / "root.key").read_bytes()
    # The old key was linked as retired, root.key.next not yet renamed over root.key.
    (data_dir / "root.key").rename(data_dir / "root.key.next")
    os.link(data_dir / str(summary["retiredRootKeyFile"]), data_dir / "root.key")

    reopened = open_data_dir(gov.data.settings)
    reopened.db.engine.dispose()
    assert (data_dir / "root.key").read_bytes() == new
    assert not (data_dir / "root.key.next").exists()
    assert {p.read_bytes() for p in data_dir.glob("root.key.retired-*")} == {old}
