"""Parsed policies and grants, per worker, evicted through the change feed.

Key policies are cached by their text (a changed policy is a different text, so nothing needs
evicting); identity policies by principal; grants by key. Together with the key cache this keeps
authorization free of database round trips on the hot path.

Each table holds at most 100,000 entries and, when full, forgets one entry per new one (the
least recently used; for remembered decisions, the oldest, so that a hit stays a plain
membership test), counted in ``evictions`` (the ``policy`` cache of the metrics). They used to
be emptied when full: with more keys in use than that (or as many keys, each used with a few
actions), every remembered decision went at once.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from strongroom.kms.domain.grants import Grant
from strongroom.kms.domain.policy import PolicyDocument, parse_policy
from strongroom.kms.errors import MalformedPolicyDocumentException
from strongroom.kms.service.lru import Lru
from strongroom.kms.storage.database import Change
from strongroom.kms.storage.grants import GrantRepository
from strongroom.kms.storage.identity import IdentityRepository

log = logging.getLogger(__name__)
_MAX_ENTRIES = 100_000
_Decision = tuple[str, str, str, str]


class PolicyCache:
    def __init__(
        self,
        identity: IdentityRepository,
        grants: GrantRepository,
        *,
        max_entries: int = _MAX_ENTRIES,
    ) -> None:
        self._identity = identity
        self._grants = grants
        self._key_policies: Lru[str, PolicyDocument] = Lru(max_entries)
        self._identity_policies: Lru[str, tuple[PolicyDocument, ...]] = Lru(max_entries)
        self._key_grants: Lru[str, tuple[Grant, ...]] = Lru(max_entries)
        # Allow decisions that depended on nothing in the request but who, what and which key
        # policy: (principal ARN, action, key id, key policy text). Insertion-ordered: a hit is
        # a membership test (every request under a remembered policy), the oldest goes first.
        self._allowed: OrderedDict[_Decision, None] = OrderedDict()
        self._max = max_entries
        self._dropped = 0  # remembered decisions forgotten: the table full, or a change

    @property
    def evictions(self) -> int:
        """Entries dropped since start: pushed out by the bound, or (decisions) a change."""
        tables = (self._key_policies, self._identity_policies, self._key_grants)
        return self._dropped + sum(table.evictions for table in tables)

    @property
    def size(self) -> int:
        """Entries held now, in every table."""
        tables = (self._key_policies, self._identity_policies, self._key_grants)
        return len(self._allowed) + sum(len(table) for table in tables)

    def remembers_allow(self, decision: _Decision) -> bool:
        return decision in self._allowed

    def remember_allow(self, decision: _Decision) -> None:
        allowed = self._allowed
        allowed[decision] = None
        if len(allowed) > self._max:
            allowed.popitem(last=False)
            self._dropped += 1

    def key_policy(self, text: str) -> PolicyDocument:
        document = self._key_policies.get(text, None)
        if document is None:
            document = parse_policy(text, key_policy=True)
            self._key_policies.put(text, document)
        return document

    def identity_policies(self, principal_arn: str) -> tuple[PolicyDocument, ...]:
        documents = self._identity_policies.get(principal_arn, None)
        if documents is None:
            documents = self._load_identity(principal_arn)
            self._identity_policies.put(principal_arn, documents)
        return documents

    def _load_identity(self, principal_arn: str) -> tuple[PolicyDocument, ...]:
        account, resource = principal_arn.split(":", 5)[4:]
        kind, _, name = resource.partition("/")
        documents = []
        for policy_name, text in self._identity.policies_of(account, kind, name):
            try:
                documents.append(parse_policy(text, key_policy=False))
            except MalformedPolicyDocumentException:
                # Stored policies were validated when put; one that no longer parses (a
                # stricter parser) grants nothing rather than failing every request.
                log.warning("ignoring unparsable policy %s of %s", policy_name, principal_arn)
        return tuple(documents)

    def grants(self, key_id: str) -> tuple[Grant, ...]:
        grants = self._key_grants.get(key_id, None)
        if grants is None:
            grants = tuple(self._grants.for_key(key_id))
            self._key_grants.put(key_id, grants)
        return grants

    def forget_grants(self, key_id: str) -> None:
        """After this worker changed a key's grants (others learn through the feed)."""
        if self._key_grants.pop(key_id, None) is not None:
            self._dropped += 1

    def apply(self, changes: list[Change]) -> None:
        for change in changes:
            if change.key_id is not None:
                self.forget_grants(change.key_id)
            if change.principal_arn is not None:
                if self._identity_policies.pop(change.principal_arn, None) is not None:
                    self._dropped += 1
                # Rare (an administrator changed an identity policy): start afresh.
                self._dropped += len(self._allowed)
                self._allowed.clear()
