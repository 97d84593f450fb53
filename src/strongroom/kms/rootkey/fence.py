"""Root key changes fenced against serving workers on every node, by database leases.

A root key rotation or migration re-wraps everything under a new key; a worker that runs
meanwhile would keep using (and sealing under) the old one. Every serving worker therefore
holds a ``serving/<host>/<pid>/<nonce>`` lease that it renews (``ServingLease``), and a change
holds ``root-key-change`` (``claim_root_key_change``). Each side checks the other's leases in
the transaction that claims its own (storage/leases.py serialises those decisions), so a
change never runs beside a worker, on this host or any other. A worker killed without
releasing its lease fences changes until the lease expires (``SERVING_TTL``).

Leases use the system's clock, never a test's movable one: they are about real processes.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import UTC, datetime, timedelta

from strongroom.kms.config import ConfigError
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.unit_of_work import Transaction

SERVING = "serving/"
ROOT_KEY_CHANGE = "root-key-change"
SERVING_TTL = timedelta(seconds=30)
CHANGE_TTL = timedelta(hours=1)


def holder_name() -> str:
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


def _now() -> datetime:
    return datetime.now(UTC)


class ServingLease:
    """One worker's claim to serve; refused while a root key change runs."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.holder = holder_name()

    @classmethod
    def claimed(cls, db: Database) -> ServingLease:
        """A new worker's lease, claimed (ConfigError while a root key change runs)."""
        lease = cls(db)
        lease.claim()
        return lease

    def claim(self) -> None:
        """Take or renew the lease (at start, then every scheduler period)."""
        now = _now()
        with self._db.transaction() as tx:
            change = tx.leases.live(ROOT_KEY_CHANGE, now)
            if change:
                raise ConfigError(
                    f"the root key is being rotated or migrated (by {change[0].holder}); "
                    "start the server when that is done"
                )
            tx.leases.claim(SERVING + self.holder, self.holder, now, now + SERVING_TTL)

    def claim_and_release(self) -> None:
        """Check, as a worker would at its start, that serving is allowed now."""
        self.claim()
        self.release()

    def release(self) -> None:
        with self._db.transaction() as tx:
            tx.leases.release(SERVING + self.holder, self.holder)


def claim_root_key_change(tx: Transaction, holder: str) -> None:
    """Claim the change in ``tx``; ConfigError if a worker serves or another change runs."""
    now = _now()
    other = tx.leases.claim(ROOT_KEY_CHANGE, holder, now, now + CHANGE_TTL)
    if other is not None:
        raise ConfigError(f"another root key change is running (by {other.holder})")
    serving = tx.leases.live(SERVING, now)
    if serving:
        hosts = sorted({lease.holder.split("/")[0] for lease in serving})
        raise ConfigError(
            f"a strongroom serve is running ({len(serving)} worker(s) on {', '.join(hosts)}); "
            "stop every server on this database first"
        )


def release_root_key_change(db: Database, holder: str) -> None:
    with db.transaction() as tx:
        tx.leases.release(ROOT_KEY_CHANGE, holder)
