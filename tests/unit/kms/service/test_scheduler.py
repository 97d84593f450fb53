"""The lifecycle scheduler: due rotations and deletions, exactly once however many run it.

Every worker (and node) runs ``LifecycleScheduler.run_due`` on its own engine against the same
database. These tests build the parts as ``kms/app.py`` does, once per simulated worker, and
make the workers race from behind a barrier: in threads, and in spawned processes.

The last test overlaps an automatic and an on-demand rotation of one key and checks that the
material made current last is listed as the latest rotation.
"""

from __future__ import annotations

import multiprocessing
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Barrier, Event, Thread
from typing import Any

import pytest

from strongroom.kms.domain.enums import KeySpec, KeyState, RotationType
from strongroom.kms.domain.ids import new_account_id
from strongroom.kms.domain.key import AliasRecord, KeyRecord
from strongroom.kms.domain.principals import Account
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.keystores.base import KeyStore, MaterialCipher, MaterialHandle
from strongroom.kms.service.rotation import rotate, rotate_if_due
from strongroom.kms.service.scheduler import DueWork
from strongroom.kms.storage.engine import sqlite_url
from tests.support.lifecycle import (
    REGION,
    Parts,
    SettableClock,
    build_parts,
    create_key,
    run_due_in_process,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PERIOD = 90
RUNNERS = 4


@dataclass
class World:
    url: str
    store_id: str
    root_key: bytes
    clock: SettableClock
    parts: Parts
    account_id: str

    def new_parts(self) -> Parts:
        """Another worker's parts: its own engine, store object and cache, same database."""
        return build_parts(self.url, self.store_id, self.root_key, self.clock)

    def key(self, **changes: Any) -> KeyRecord:
        return create_key(self.parts, self.account_id, NOW - timedelta(days=400), **changes)

    def due_rotation(self, overdue: timedelta) -> KeyRecord:
        return self.key(rotation_period_days=PERIOD, next_rotation_date=NOW - overdue)

    def due_deletion(self, overdue: timedelta) -> KeyRecord:
        return self.key(
            state=KeyState.PENDING_DELETION, deletion_date=NOW - overdue, pending_window_days=7
        )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = SettableClock(NOW)
    url = sqlite_url(tmp_path)
    root_key = secrets.token_bytes(32)
    store_id = secrets.token_hex(16)
    parts = build_parts(url, store_id, root_key, clock)
    account_id = new_account_id()
    parts.ctx.identity.create_account(Account(account_id, "t", NOW - timedelta(days=500)))
    yield World(url, store_id, root_key, clock, parts, account_id)
    parts.close()


def race(world: World, runners: int = RUNNERS) -> list[DueWork]:
    """``run_due`` from ``runners`` threads, each with its own parts, released at once."""
    barrier = Barrier(runners)
    results: list[DueWork | None] = [None] * runners
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            parts = world.new_parts()
        except BaseException as error:
            errors.append(error)
            barrier.abort()
            return
        try:
            barrier.wait(timeout=30)
            results[index] = parts.scheduler.run_due()
        except BaseException as error:
            errors.append(error)
        finally:
            parts.close()

    threads = [Thread(target=run, args=(n,)) for n in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def union(results: list[DueWork]) -> tuple[Counter[str], Counter[str]]:
    deleted = Counter(k for r in results for k in r.deleted)
    rotated = Counter(k for r in results for k in r.rotated)
    return deleted, rotated


def changed_keys(world: World, since: int) -> Counter[str]:
    return Counter(c.key_id for c in world.parts.db.changes_since(since) if c.key_id is not None)


def assert_rotated_once_at(world: World, before: KeyRecord, at: datetime) -> None:
    """``before`` now has exactly one more (AUTOMATIC, current, usable) version, made at ``at``."""
    repo = world.parts.keys
    after = repo.get_key(before.key_id)
    assert after is not None
    versions = repo.list_materials(before.key_id)
    assert len(versions) == 2, versions
    first, second = versions
    assert first.material_id == before.current_material_id
    assert first.rotation_type is None
    assert second.rotation_type is RotationType.AUTOMATIC
    assert second.created_at == at
    assert after.current_material_id == second.material_id != before.current_material_id
    assert after.next_rotation_date == at + timedelta(days=PERIOD)
    # Nothing else about the key changed.
    assert replace(
        after, current_material_id=before.current_material_id, next_rotation_date=None
    ) == replace(before, next_rotation_date=None)
    # The new version is stored wrapped for this key and version, and works.
    found = repo.get_material(before.record_id, second.material_id)
    assert found is not None
    store_id, wrapped = found
    assert store_id == world.store_id
    cipher = world.parts.ctx.store.open_material(after.arn, second.material_id, wrapped)
    nonce, sealed = cipher.encrypt(b"after rotation", b"aad")
    assert cipher.decrypt(nonce, sealed, b"aad") == b"after rotation"


# --- (a) exactly once under a race ----------------------------------------------------------


def test_due_rotations_happen_exactly_once_across_racing_workers(world: World) -> None:
    due = [world.due_rotation(timedelta(days=d)) for d in (1, 2, 30, 365)]
    due.append(world.due_rotation(timedelta(0)))  # due exactly now
    later = world.due_rotation(-timedelta(days=30))  # due in 30 days
    seq = world.parts.db.last_change_seq()

    results = race(world)

    deleted, rotated = union(results)
    assert deleted == Counter()
    assert rotated == Counter({k.key_id: 1 for k in due})
    for key in due:
        assert_rotated_once_at(world, key, NOW)
    assert world.parts.keys.get_key(later.key_id) == later
    assert len(world.parts.keys.list_materials(later.key_id)) == 1
    # The losers wrote nothing: one change per rotation in the feed.
    assert changed_keys(world, seq) == Counter({k.key_id: 1 for k in due})

    # A second round at the same time finds nothing due.
    seq = world.parts.db.last_change_seq()
    again = race(world)
    assert union(again) == (Counter(), Counter())
    for key in due:
        assert len(world.parts.keys.list_materials(key.key_id)) == 2
    assert world.parts.db.last_change_seq() == seq

    # One period on, every key rotates once more, the not-yet-due one too, and only once.
    next_round = NOW + timedelta(days=PERIOD + 1)
    world.clock.set(next_round)
    deleted, rotated = union(race(world))
    assert deleted == Counter()
    assert rotated == Counter({k.key_id: 1 for k in [*due, later]})
    for key in due:
        versions = world.parts.keys.list_materials(key.key_id)
        assert [v.rotation_type for v in versions] == [
            None,
            RotationType.AUTOMATIC,
            RotationType.AUTOMATIC,
        ]
        current = world.parts.keys.get_key(key.key_id)
        assert current is not None
        assert current.current_material_id == versions[-1].material_id
        assert current.next_rotation_date == next_round + timedelta(days=PERIOD)
    assert_rotated_once_at(world, later, next_round)


def test_due_deletions_happen_exactly_once_across_racing_workers(world: World) -> None:
    repo = world.parts.keys
    due = [world.due_deletion(timedelta(days=d)) for d in (1, 3, 29)]
    due.append(world.due_deletion(timedelta(0)))  # the window ends exactly now
    with_alias = due[0]
    repo.create_alias(
        AliasRecord(world.account_id, REGION, "alias/doomed", with_alias.key_id, NOW, NOW)
    )
    repo.put_tags(with_alias.key_id, {"team": "x"}, NOW)
    survivor = world.due_deletion(-timedelta(seconds=1))  # one second left
    enabled = world.key()  # never scheduled for deletion
    seq = world.parts.db.last_change_seq()

    results = race(world)

    deleted, rotated = union(results)
    assert rotated == Counter()
    assert deleted == Counter({k.key_id: 1 for k in due})
    for key in due:
        assert repo.get_key(key.key_id) is None
        assert repo.list_materials(key.key_id) == []
        assert repo.get_material(key.record_id, key.current_material_id or "") is None
    assert repo.get_alias(world.account_id, REGION, "alias/doomed") is None
    assert repo.list_tags(with_alias.key_id) == []
    assert repo.get_key(survivor.key_id) == survivor
    assert repo.get_key(enabled.key_id) == enabled
    assert len(repo.list_materials(survivor.key_id)) == 1
    # Exactly one deletion was written per key (the losers' conditional deletes matched none).
    assert changed_keys(world, seq) == Counter({k.key_id: 1 for k in due})

    seq = world.parts.db.last_change_seq()
    assert union(race(world)) == (Counter(), Counter())
    assert world.parts.db.last_change_seq() == seq


def test_mixed_due_work_in_spawned_processes(world: World) -> None:
    """The same race between real processes (as uvicorn's workers are), each with its parts."""
    rotations = [world.due_rotation(timedelta(days=d)) for d in (1, 10, 100)]
    deletions = [world.due_deletion(timedelta(days=d)) for d in (1, 2)]
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(RUNNERS)
    results = spawn.Queue()
    processes = [
        spawn.Process(
            target=run_due_in_process,
            args=(world.url, world.store_id, world.root_key, NOW),
            kwargs={"barrier": barrier, "results": results},
        )
        for _ in range(RUNNERS)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=30) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=10)
    assert [p.exitcode for p in processes] == [0] * RUNNERS
    assert [o for o in outcomes if o[0] != "ok"] == []
    work = [DueWork(deleted=list(o[1]), rotated=list(o[2])) for o in outcomes]
    deleted, rotated = union(work)
    assert deleted == Counter({k.key_id: 1 for k in deletions})
    assert rotated == Counter({k.key_id: 1 for k in rotations})
    for key in rotations:
        assert_rotated_once_at(world, key, NOW)
    for key in deletions:
        assert world.parts.keys.get_key(key.key_id) is None


# --- (b) what is not due ------------------------------------------------------------------

NOT_DUE: dict[str, dict[str, Any]] = {
    "disabled": {
        "state": KeyState.DISABLED,
        "rotation_period_days": PERIOD,
        "next_rotation_date": NOW - timedelta(days=30),
    },
    "pending deletion": {
        "state": KeyState.PENDING_DELETION,
        "deletion_date": NOW + timedelta(days=3),
        "pending_window_days": 7,
        "rotation_period_days": PERIOD,
        "next_rotation_date": NOW - timedelta(days=30),
    },
    "rotation disabled": {"rotation_period_days": None, "next_rotation_date": None},
    "rotation disabled, stale date": {
        "rotation_period_days": None,
        "next_rotation_date": NOW - timedelta(days=30),
    },
    "not yet due": {
        "rotation_period_days": PERIOD,
        "next_rotation_date": NOW + timedelta(seconds=1),
    },
    **{
        f"state {state.value}": {
            "state": state,
            "rotation_period_days": PERIOD,
            "next_rotation_date": NOW - timedelta(days=30),
        }
        for state in (
            KeyState.CREATING,
            KeyState.PENDING_IMPORT,
            KeyState.UNAVAILABLE,
            KeyState.UPDATING,
        )
    },
}


@pytest.mark.parametrize("case", list(NOT_DUE))
def test_keys_that_are_not_due_are_left_alone(world: World, case: str) -> None:
    key = world.key(**NOT_DUE[case])
    seq = world.parts.db.last_change_seq()
    assert world.parts.keys.due_rotations(NOW) == []
    done = world.parts.scheduler.run_due()
    assert (done.deleted, done.rotated) == ([], [])
    # Asked directly, the rotation decides against it too.
    assert rotate_if_due(world.parts.ctx, key) is None
    assert world.parts.keys.get_key(key.key_id) == key
    assert [v.material_id for v in world.parts.keys.list_materials(key.key_id)] == [
        key.current_material_id
    ]
    assert world.parts.db.last_change_seq() == seq


def test_rotation_is_decided_again_under_the_row_lock(world: World) -> None:
    """A key listed as due but disabled (or rotated) before the lock is not rotated."""
    key = world.due_rotation(timedelta(days=1))
    assert world.parts.keys.due_rotations(NOW) == [key.key_id]
    world.parts.keys.update_key(key.key_id, NOW, lambda k: k.with_state(KeyState.DISABLED))
    assert rotate_if_due(world.parts.ctx, key) is None  # the stale record says Enabled, due
    assert len(world.parts.keys.list_materials(key.key_id)) == 1

    other = world.due_rotation(timedelta(days=1))
    first = rotate_if_due(world.parts.ctx, other)
    assert first is not None
    assert first.next_rotation_date == NOW + timedelta(days=PERIOD)
    assert rotate_if_due(world.parts.ctx, other) is None  # the stale record is still "due"
    assert len(world.parts.keys.list_materials(other.key_id)) == 2
    assert world.parts.keys.get_key(other.key_id) == first


class PausingStore:
    """A key store whose ``new_material`` waits until released (a slow HSM, a busy host)."""

    def __init__(self, inner: KeyStore) -> None:
        self._inner = inner
        self.entered = Event()
        self.release = Event()

    @property
    def store_id(self) -> str:
        return self._inner.store_id

    def new_material(
        self, key_arn: str, material_id: str, key_spec: KeySpec = KeySpec.SYMMETRIC_DEFAULT
    ) -> bytes:
        self.entered.set()
        assert self.release.wait(timeout=10)
        return self._inner.new_material(key_arn, material_id, key_spec)

    def open_material(self, key_arn: str, material_id: str, wrapped: bytes) -> MaterialCipher:
        return self._inner.open_material(key_arn, material_id, wrapped)

    def open_handle(
        self, key_arn: str, material_id: str, wrapped: bytes, key_spec: KeySpec
    ) -> MaterialHandle:
        return self._inner.open_handle(key_arn, material_id, wrapped, key_spec)

    def seal_secret(self, purpose: str, name: str, secret: bytes) -> bytes:
        return self._inner.seal_secret(purpose, name, secret)

    def unseal_secret(self, purpose: str, name: str, sealed: bytes) -> bytes:
        return self._inner.unseal_secret(purpose, name, sealed)

    def import_material(
        self, key_arn: str, material_id: str, key_spec: KeySpec, material: bytes
    ) -> bytes:
        return self._inner.import_material(key_arn, material_id, key_spec, material)

    def imported_material_id(self, key_arn: str, material: bytes) -> str:
        return self._inner.imported_material_id(key_arn, material)

    def export_material(
        self, key_arn: str, material_id: str, wrapped: bytes, key_spec: KeySpec
    ) -> Secret:
        return self._inner.export_material(key_arn, material_id, wrapped, key_spec)


def test_the_version_made_current_last_is_the_latest_rotation(world: World) -> None:
    """An automatic and an on-demand rotation of one key overlap (two workers, say).

    The scheduler's rotation reads the clock, then is delayed before it takes the row lock;
    meanwhile an on-demand rotation commits. The automatic rotation still happens (the key is
    still due) and commits last, so its material is current. ListKeyRotations must then show
    it as the latest rotation, listed last; a RotationDate taken before the lock is older than
    the on-demand one, and the CURRENT material is listed before a NON_CURRENT one.
    """
    repo = world.parts.keys
    key = world.due_rotation(timedelta(days=1))
    paused = PausingStore(world.parts.ctx.store)
    scheduler_ctx = replace(world.parts.ctx, store=paused)
    automatic: list[KeyRecord | None] = []
    thread = Thread(target=lambda: automatic.append(rotate_if_due(scheduler_ctx, key)))
    thread.start()
    try:
        assert paused.entered.wait(timeout=10)
        world.clock.set(NOW + timedelta(seconds=1))
        on_demand = rotate(world.parts.ctx, key, RotationType.ON_DEMAND, lambda k, _n, _t: k)
    finally:
        paused.release.set()
        thread.join(timeout=10)
    assert on_demand is not None
    assert len(automatic) == 1 and automatic[0] is not None
    final = repo.get_key(key.key_id)
    assert final is not None
    assert final.current_material_id == automatic[0].current_material_id  # committed last

    versions = repo.list_materials(key.key_id)
    assert versions[0].material_id == key.current_material_id
    assert {v.rotation_type for v in versions[1:]} == {
        RotationType.AUTOMATIC,
        RotationType.ON_DEMAND,
    }
    listing = [v.listing(final) for v in versions]
    assert [e["KeyMaterialState"] for e in listing] == ["NON_CURRENT", "NON_CURRENT", "CURRENT"]
    dates = [v.created_at for v in versions]
    assert dates == sorted(dates)
