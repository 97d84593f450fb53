"""A real data directory, real Ed25519 operator keys and the real quorum service."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from strongroom.kms.app import DataDir, initialize
from strongroom.kms.audit.store import AuditChain
from strongroom.kms.config import Settings
from strongroom.kms.domain.clock import ManualClock
from strongroom.kms.governance.operators import raw_public_key
from strongroom.kms.governance.quorum import Quorum
from strongroom.kms.storage import schema


@dataclass
class Governed:
    data: DataDir
    quorum: Quorum
    clock: ManualClock
    keys: dict[str, Ed25519PrivateKey]

    def sign(self, name: str, proposal_id: str) -> bytes:
        return self.keys[name].sign(self.quorum.status(proposal_id).message)

    def approve(self, name: str, proposal_id: str) -> None:
        self.quorum.approve(proposal_id, name, self.sign(name, proposal_id))

    def records(self) -> list[dict[str, object]]:
        with self.data.db.read_connection() as conn:
            rows = conn.execute(select(schema.audit_events.c.record).order_by("seq")).scalars()
            return [orjson.loads(r) for r in rows]


def new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@contextmanager
def governed(
    tmp_path: Path, names: tuple[str, ...] = ("ann", "bob", "cat"), threshold: int = 2
) -> Iterator[Governed]:
    clock = ManualClock()
    data, _ = initialize(Settings(data_dir=tmp_path / "data").validated(), clock)
    region = data.settings.region
    quorum = Quorum(data.governance_env(), AuditChain(data.store, region, clock.now), clock)
    keys = {name: new_key() for name in names}
    quorum.initialise(threshold, [(n, raw_public_key(k.public_key())) for n, k in keys.items()])
    try:
        yield Governed(data, quorum, clock, keys)
    finally:
        data.db.engine.dispose()
