"""Events, a database file and a key store for the audit trail tests."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from strongroom.kms.audit.events import AuditEvent
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.keystores.software import SoftwareKeyStore
from strongroom.kms.storage.database import Database

ALICE = "111111111111"
BOB = "222222222222"
CAROL = "333333333333"
REGION = "eu-west-1"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def key_arn(account: str, n: int = 1) -> str:
    return f"arn:aws:kms:{REGION}:{account}:key/0000000{n}-aaaa-bbbb-cccc-000000000000"


def event(
    n: int,
    account: str = ALICE,
    resources: tuple[str, ...] | None = None,
    operation: str = "Decrypt",
    error_code: str | None = None,
) -> AuditEvent:
    return AuditEvent(
        time=T0 + timedelta(minutes=n),
        request_id=f"req-{account}-{n}",
        account_id=account,
        principal_arn=f"arn:aws:iam::{account}:user/u{n}",
        access_key_id=f"AKIA{account}",
        source_ip="192.0.2.7",
        operation=operation,
        resources=(key_arn(account),) if resources is None else resources,
        error_code=error_code,
    )


def new_store() -> SoftwareKeyStore:
    return SoftwareKeyStore("store-1", Secret(os.urandom(32)))


def db_path(tmp_path: Path) -> Path:
    return tmp_path / "strongroom.db"


def open_db(tmp_path: Path) -> Database:
    return Database.open(f"sqlite:///{db_path(tmp_path)}")
