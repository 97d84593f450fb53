from __future__ import annotations

from pathlib import Path

from strongroom.kms.domain.policy import parse_policy
from strongroom.kms.service.policy_cache import PolicyCache
from strongroom.kms.storage.database import Change, Database
from strongroom.kms.storage.engine import sqlite_url
from strongroom.kms.storage.grants import GrantRepository
from strongroom.kms.storage.identity import IdentityRepository

ALICE = "arn:aws:iam::111122223333:user/alice"


def _cache(tmp_path: Path) -> PolicyCache:
    db = Database.open(sqlite_url(tmp_path))
    return PolicyCache(IdentityRepository(db), GrantRepository(db))


def test_remembered_allows_are_forgotten_when_an_identity_policy_changes(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    decision = (ALICE, "kms:Encrypt", "key", "policy text")
    assert not cache.remembers_allow(decision)
    cache.remember_allow(decision)
    assert cache.remembers_allow(decision)
    cache.apply([Change(1, "key", None, None, None)])  # a key change: the policy text is keyed
    assert cache.remembers_allow(decision)
    cache.apply([Change(2, None, None, None, None, principal_arn=ALICE)])
    assert not cache.remembers_allow(decision)


def test_only_request_independent_documents_qualify() -> None:
    plain = parse_policy(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", '
        '"Resource": "*"}]}',
        key_policy=False,
    )
    conditional = parse_policy(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", '
        '"Resource": "*", "Condition": {"StringEquals": {"kms:EncryptionContext:a": "b"}}}]}',
        key_policy=False,
    )
    variable = parse_policy(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", '
        '"Resource": "arn:aws:kms:*:*:key/${aws:username}"}]}',
        key_policy=False,
    )
    assert plain.request_independent_for("kms:Encrypt")
    assert not conditional.request_independent_for("kms:Encrypt")
    assert not variable.request_independent_for("kms:Encrypt")
    # Only statements that could apply to the action count.
    mixed = parse_policy(
        '{"Version": "2012-10-17", "Statement": ['
        '{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"},'
        '{"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*",'
        ' "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}]}',
        key_policy=False,
    )
    assert mixed.request_independent_for("kms:Encrypt")
    assert not mixed.request_independent_for("kms:CreateGrant")
