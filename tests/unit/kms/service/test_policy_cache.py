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


def _policy(action: str) -> str:
    return (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        f'"Principal": {{"AWS": "*"}}, "Action": "{action}", "Resource": "*"}}]}}'
    )


def test_each_table_is_bounded_and_counts_what_it_forgets(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    cache = PolicyCache(IdentityRepository(db), GrantRepository(db), max_entries=2)
    decisions = [(ALICE, "kms:Encrypt", f"key-{i}", "policy text") for i in range(3)]
    for decision in decisions:
        cache.remember_allow(decision)
    # The oldest decision goes (a hit does not keep one: it is a membership test only).
    assert [cache.remembers_allow(d) for d in decisions] == [False, True, True]
    assert cache.evictions == 1
    texts = [_policy(action) for action in ("kms:Encrypt", "kms:Decrypt", "kms:Sign")]
    first = cache.key_policy(texts[0])
    cache.key_policy(texts[1])
    assert cache.key_policy(texts[0]) is first  # used: now the most recent
    cache.key_policy(texts[2])  # pushes out texts[1], the least recently used
    assert cache.key_policy(texts[0]) is first
    assert cache.evictions == 2
    assert cache.size == 4  # two decisions, two key policies
    cache.apply([Change(2, None, None, None, None, principal_arn=ALICE)])
    assert not any(cache.remembers_allow(d) for d in decisions)
    assert (cache.evictions, cache.size) == (4, 2)  # the two decisions dropped, counted


def test_forgotten_grants_are_counted(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    assert cache.grants("key") == ()
    cache.forget_grants("never-read")
    assert cache.evictions == 0
    cache.apply([Change(1, "key", None, None, None)])
    assert (cache.evictions, cache.size) == (1, 0)
