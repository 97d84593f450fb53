from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import StatementError

from strongroom.kms.domain.ids import new_account_id
from strongroom.kms.domain.principals import AccessKeyRecord, Account, Principal
from strongroom.kms.storage.database import Database, DuplicateRecord
from strongroom.kms.storage.engine import sqlite_url
from strongroom.kms.storage.identity import IdentityRepository

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
ALLOW = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*"}]}'
DENY = '{"Statement": [{"Effect": "Deny", "Action": "kms:*", "Resource": "*"}]}'


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(sqlite_url(tmp_path))


@pytest.fixture
def repo(db: Database) -> IdentityRepository:
    return IdentityRepository(db)


@pytest.fixture
def account(repo: IdentityRepository) -> str:
    account_id = new_account_id()
    repo.create_account(Account(account_id, "t", NOW))
    return account_id


def test_roles_and_users_are_kept_apart(repo: IdentityRepository, account: str) -> None:
    repo.create_principal(Principal(account, "app", NOW, "user"))
    repo.create_principal(Principal(account, "app", LATER, "role"))
    repo.create_principal(Principal(account, "ops", NOW, "role"))
    with pytest.raises(DuplicateRecord):
        repo.create_principal(Principal(account, "app", LATER, "role"))

    role = repo.get_principal(account, "app", "role")
    assert role == Principal(account, "app", LATER, "role")
    assert role.arn == f"arn:aws:iam::{account}:role/app"
    assert repo.get_principal(account, "app") == Principal(account, "app", NOW, "user")
    assert repo.get_principal(account, "ops") is None
    assert [p.arn for p in repo.list_principals(account)] == [f"arn:aws:iam::{account}:user/app"]
    assert [p.name for p in repo.list_principals(account, "role")] == ["app", "ops"]


def test_access_keys_remember_the_principal_kind(repo: IdentityRepository, account: str) -> None:
    role_key = AccessKeyRecord("AKIAROLE000000000001", account, "app", b"s", NOW, "Active", "role")
    user_key = AccessKeyRecord("AKIAUSER000000000001", account, "app", b"s", LATER)
    repo.create_access_key(role_key)
    repo.create_access_key(user_key)
    assert repo.get_access_key(role_key.access_key_id) == role_key
    assert repo.get_access_key(user_key.access_key_id) == user_key
    assert user_key.principal_kind == "user"
    assert [k.principal_kind for k in repo.list_access_keys(account)] == ["role", "user"]


def test_put_get_list_delete_policies(repo: IdentityRepository, account: str) -> None:
    assert repo.policies_of(account, "user", "bob") == []
    assert repo.list_principal_policies(account, "user", "bob") == []
    assert repo.get_principal_policy(account, "user", "bob", "P") is None

    repo.put_principal_policy(account, "user", "bob", "Zeta", ALLOW, at=NOW)
    repo.put_principal_policy(account, "user", "bob", "Alpha", DENY, at=NOW)
    assert repo.get_principal_policy(account, "user", "bob", "Zeta") == ALLOW
    assert repo.list_principal_policies(account, "user", "bob") == ["Alpha", "Zeta"]
    assert repo.policies_of(account, "user", "bob") == [("Alpha", DENY), ("Zeta", ALLOW)]

    # Replacing keeps one row per name.
    repo.put_principal_policy(account, "user", "bob", "Zeta", DENY, at=LATER)
    assert repo.policies_of(account, "user", "bob") == [("Alpha", DENY), ("Zeta", DENY)]

    # Kind, name and account all scope a policy.
    other = new_account_id()
    repo.put_principal_policy(account, "role", "bob", "Zeta", ALLOW, at=NOW)
    repo.put_principal_policy(other, "user", "bob", "Other", ALLOW, at=NOW)
    assert repo.policies_of(account, "role", "bob") == [("Zeta", ALLOW)]
    assert repo.policies_of(account, "user", "bob") == [("Alpha", DENY), ("Zeta", DENY)]
    assert repo.policies_of(other, "user", "bob") == [("Other", ALLOW)]
    assert repo.policies_of(account, "user", "alice") == []

    assert repo.delete_principal_policy(account, "user", "bob", "Zeta", LATER) is True
    assert repo.delete_principal_policy(account, "user", "bob", "Zeta", LATER) is False
    assert repo.get_principal_policy(account, "user", "bob", "Zeta") is None
    assert repo.policies_of(account, "user", "bob") == [("Alpha", DENY)]
    assert repo.policies_of(account, "role", "bob") == [("Zeta", ALLOW)]


def test_policy_writes_are_announced_with_the_principal_arn(
    db: Database, repo: IdentityRepository, account: str
) -> None:
    start = db.last_change_seq()
    bob = f"arn:aws:iam::{account}:user/bob"
    app = f"arn:aws:iam::{account}:role/app"
    repo.put_principal_policy(account, "user", "bob", "P", ALLOW, at=NOW)
    repo.put_principal_policy(account, "user", "bob", "P", DENY, at=NOW)  # a replacement too
    repo.put_principal_policy(account, "role", "app", "P", ALLOW, at=NOW)
    assert repo.delete_principal_policy(account, "role", "app", "P", LATER)
    assert not repo.delete_principal_policy(account, "role", "app", "P", LATER)  # no change
    rows = db.changes_since(start)
    assert [row.principal_arn for row in rows] == [bob, bob, app, app]
    assert [row.seq for row in rows] == sorted(row.seq for row in rows)
    assert all(row.key_id is None and row.access_key_id is None for row in rows)


def test_a_failed_policy_write_announces_nothing(
    db: Database, repo: IdentityRepository, account: str
) -> None:
    start = db.last_change_seq()
    naive = datetime(2026, 1, 1)  # the storage layer refuses naive datetimes
    with pytest.raises(StatementError, match="naive datetime"):
        repo.put_principal_policy(account, "user", "bob", "P", ALLOW, at=naive)
    assert db.changes_since(start) == []
    assert repo.policies_of(account, "user", "bob") == []
