"""Parsed policies and grants, per worker, evicted through the change feed.

Key policies are cached by their text (a changed policy is a different text, so nothing needs
evicting); identity policies by principal; grants by key. Together with the key cache this keeps
authorization free of database round trips on the hot path.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from strongroom.kms.domain.grants import Grant
from strongroom.kms.domain.policy import PolicyDocument, parse_policy
from strongroom.kms.errors import MalformedPolicyDocumentException
from strongroom.kms.storage.database import Change
from strongroom.kms.storage.grants import GrantRepository
from strongroom.kms.storage.identity import IdentityRepository

log = logging.getLogger(__name__)
_MAX_ENTRIES = 100_000
V = TypeVar("V")


class PolicyCache:
    def __init__(self, identity: IdentityRepository, grants: GrantRepository) -> None:
        self._identity = identity
        self._grants = grants
        self._key_policies: dict[str, PolicyDocument] = {}
        self._identity_policies: dict[str, tuple[PolicyDocument, ...]] = {}
        self._key_grants: dict[str, tuple[Grant, ...]] = {}
        # Allow decisions that depended on nothing in the request but who, what and which key
        # policy: (principal ARN, action, key id, key policy text).
        self._allowed: set[tuple[str, str, str, str]] = set()

    def remembers_allow(self, decision: tuple[str, str, str, str]) -> bool:
        return decision in self._allowed

    def remember_allow(self, decision: tuple[str, str, str, str]) -> None:
        if len(self._allowed) >= _MAX_ENTRIES:
            self._allowed.clear()
        self._allowed.add(decision)

    def key_policy(self, text: str) -> PolicyDocument:
        document = self._key_policies.get(text)
        if document is None:
            document = parse_policy(text, key_policy=True)
            _bounded(self._key_policies)[text] = document
        return document

    def identity_policies(self, principal_arn: str) -> tuple[PolicyDocument, ...]:
        documents = self._identity_policies.get(principal_arn)
        if documents is None:
            documents = self._load_identity(principal_arn)
            _bounded(self._identity_policies)[principal_arn] = documents
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
        grants = self._key_grants.get(key_id)
        if grants is None:
            grants = tuple(self._grants.for_key(key_id))
            _bounded(self._key_grants)[key_id] = grants
        return grants

    def forget_grants(self, key_id: str) -> None:
        """After this worker changed a key's grants (others learn through the feed)."""
        self._key_grants.pop(key_id, None)

    def apply(self, changes: list[Change]) -> None:
        for change in changes:
            if change.key_id is not None:
                self._key_grants.pop(change.key_id, None)
            if change.principal_arn is not None:
                self._identity_policies.pop(change.principal_arn, None)
                # Rare (an administrator changed an identity policy): start afresh.
                self._allowed.clear()


def _bounded(table: dict[str, V]) -> dict[str, V]:
    if len(table) >= _MAX_ENTRIES:
        table.clear()
    return table
