"""``strongroom backup`` / ``restore`` with a live server: everything comes back, nothing else.

One source data directory is served by a real ``strongroom serve``, filled with something of
every kind (tests/support/backup_world.py), and backed up while requests keep coming. The
backup is restored into a new directory, whose trail ``strongroom audit verify`` checks and
which a second server then serves: a client must see the same keys, aliases, grants, policies,
imports, stores and governance records, and open what was made before the backup.
"""

from __future__ import annotations

import shutil
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from strongroom.kms.backup.container import MAGIC
from strongroom.kms.rootkey.key_file import create_root_key_file
from tests.support.backup_world import Made, check_outputs, observe, populate
from tests.support.cli import run
from tests.support.servers import server_process


@dataclass
class Source:
    data_dir: Path
    backup: Path
    made: Made
    before: dict[str, Any]  # what a client saw just before the backup began
    during: list[str]  # aliases created while the backup ran


def _load(server: Any, stop: threading.Event, made_aliases: list[str]) -> None:
    """Requests while the backup runs: data-plane calls and control-plane changes."""
    kms = server.client()
    key_id = kms.create_key(Description="load")["KeyMetadata"]["KeyId"]
    n = 0
    while not stop.is_set():
        kms.encrypt(KeyId=key_id, Plaintext=b"load")
        name = f"alias/load-{n}"
        kms.create_alias(AliasName=name, TargetKeyId=key_id)
        made_aliases.append(name)
        n += 1


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    base = tmp_path_factory.mktemp("backup")
    data_dir = base / "source"
    data_dir.mkdir(mode=0o700)
    # Digests published outside the data directory, as docs/security.md advises.
    (data_dir / "strongroom.toml").write_text(f'audit_digest_dir = "{base / "published"}"\n')
    with server_process(data_dir, workers=1) as server:
        made = populate(server, base)
        # The trail's anchors outside the database: an archived (and pruned) segment of the
        # oldest events, and a signed digest of the head.
        cut = datetime.now(UTC).isoformat()
        archived = run("audit", "archive", "--data-dir", str(data_dir), "--before", cut)
        assert archived[0] == 0 and "archived seq 1-" in archived[1], archived
        before = observe(server)
        digest = run("audit", "digest", "--data-dir", str(data_dir))
        assert digest[0] == 0, digest
        stop, during = threading.Event(), list[str]()
        loader = threading.Thread(target=_load, args=(server, stop, during))
        loader.start()
        try:
            while len(during) < 3:  # the load is running before the backup starts
                threading.Event().wait(0.05)
            status, out, err = run(
                "backup", "--data-dir", str(data_dir), "--out", str(base / "full.backup")
            )
        finally:
            stop.set()
            loader.join()
        assert (status, err) == (0, ""), err
        assert "written to" in out
    yield Source(data_dir, base / "full.backup", made, before, during)


def _restore(backup: Path, target: Path, root_key: Path) -> tuple[int, str, str]:
    return run(
        "restore", "--backup", str(backup), "--data-dir", str(target),
        "--root-key-file", str(root_key),
    )  # fmt: skip


def test_a_backup_is_private_and_says_what_it_is(source: Source) -> None:
    assert stat.S_IMODE(source.backup.stat().st_mode) == 0o600
    data = source.backup.read_bytes()
    assert data.startswith(MAGIC)
    assert b"alias/backup-symmetric" not in data  # the contents are encrypted
    assert (source.data_dir / "root.key").read_bytes() not in data


def test_restore_brings_everything_back_and_the_trail_verifies(
    source: Source, tmp_path: Path
) -> None:
    target = tmp_path / "restored"
    status, out, err = _restore(source.backup, target, source.data_dir / "root.key")
    assert status == 0, err
    assert "note: strongroom.toml sets audit_digest_dir" in err  # the source's own directory
    (target / "strongroom.toml").unlink()  # this restore gets the default places
    assert "restored" in out
    assert sorted(p.name for p in target.iterdir()) == [
        "audit-archive",
        "audit-digests",
        "root.key",
        "strongroom.db",
        "strongroom.db-writer.lock",  # SQLite writers' queue (storage/write_queue.py)
    ]
    assert list((target / "audit-digests").glob("**/strongroom-audit-digest_*"))
    status, out, err = run(
        "audit", "verify", "--data-dir", str(target),
        "--digests", str(target / "audit-digests"), "--archive", str(target / "audit-archive"),
    )  # fmt: skip
    assert status == 0, out + err
    assert "chain intact" in out
    (target / "aws").mkdir(mode=0o700)  # the admin keeps their credentials; they are valid
    shutil.copy(source.data_dir / "aws" / "credentials", target / "aws" / "credentials")
    with server_process(target, workers=1) as restored:
        after = observe(restored)
        kms = restored.client()
        check_outputs(kms, source.made)
        aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    # Everything made before the backup began is back, as it was.
    for key_id, seen in source.before["keys"].items():
        assert after["keys"][key_id] == seen, key_id
    assert after["stores"] == source.before["stores"]
    assert after["protection"] == source.before["protection"]
    imported = after["keys"][source.made.keys["imported"]]["meta"]
    assert imported["ExpirationModel"] == "KEY_MATERIAL_EXPIRES" and "ValidTo" in imported
    # What the load made while the backup ran came back as a consistent prefix: every alias
    # restored points at a key that was restored.
    loaded = [name for name in source.during if name in aliases]
    assert loaded == source.during[: len(loaded)]
    assert all(target_key in after["keys"] for target_key in aliases.values() if target_key)


def test_a_tampered_or_truncated_backup_is_refused_and_nothing_is_written(
    source: Source, tmp_path: Path
) -> None:
    data = source.backup.read_bytes()
    cases = {
        "flipped": data[: len(data) // 2]
        + bytes([data[len(data) // 2] ^ 1])
        + data[len(data) // 2 + 1 :],
        "truncated": data[: len(data) - 40],
        "extended": data + data[-60:],
        "header": data.replace(b'"region": "us-east-1"', b'"region": "us-east-2"'),
    }
    for name, changed in cases.items():
        copy = tmp_path / f"{name}.backup"
        copy.write_bytes(changed)
        target = tmp_path / f"from-{name}"
        status, _, err = _restore(copy, target, source.data_dir / "root.key")
        assert status == 1 and "restore refused" in err, (name, err)
        assert not target.exists(), name
        assert not list(tmp_path.glob(f".from-{name}*")), name


def test_restore_needs_the_root_key_and_an_empty_target(source: Source, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    create_root_key_file(other)
    status, _, err = _restore(source.backup, tmp_path / "t1", other)
    assert status == 1 and "not the root key this backup was made under" in err
    status, _, err = run(
        "restore", "--backup", str(source.backup), "--data-dir", str(tmp_path / "t2")
    )
    assert status == 1 and "--root-key-file" in err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "something").write_text("x")
    status, _, err = _restore(source.backup, busy, source.data_dir / "root.key")
    assert status == 1 and "not empty" in err
    assert sorted(p.name for p in busy.iterdir()) == ["something"]
