"""Authorization: key policies, identity (IAM) policies and grants, as AWS KMS combines them.

For an operation on a key:
- an explicit Deny in the key policy or in the caller's identity policies refuses it;
- else the key policy allows it for the caller directly (its ARN, or ``*``) — or for the caller's
  account root, which delegates to the caller's identity policies, which must then allow it;
- a caller from another account needs both: the key policy allowing it (or its account), and its
  own identity policies allowing it;
- else a grant for the caller, the operation and the request's encryption context allows it.
Operations on no key (CreateKey, ListKeys, ...) are decided by identity policies alone.
Everything is default deny.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from strongroom.kms.domain.evaluation import (
    Effect,
    EvalRequest,
    evaluate_identity_policies,
    evaluate_key_policy,
)
from strongroom.kms.domain.grants import Grant, check_token, grant_id_of_token
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.policy import PolicyDocument
from strongroom.kms.errors import AccessDeniedException
from strongroom.kms.service.condition_values import RequestValues
from strongroom.kms.service.policy_cache import PolicyCache

if TYPE_CHECKING:
    from strongroom.kms.service.pipeline import Call, KeyAccess
    from strongroom.kms.storage.grants import GrantRepository


class Authorizer(Protocol):
    def authorize(
        self, call: Call, action: str, key: KeyRecord | None, access: KeyAccess | None
    ) -> None:
        """Return if the caller may perform ``action`` (on ``key``), else raise AccessDenied.

        ``access`` says which request member named the key (for context conditions)."""
        ...

    def would_allow(self, call: Call, action: str, key: KeyRecord) -> bool: ...

    def identity_effect(self, call: Call, action: str, resource: str) -> Effect:
        """What the caller's identity policies alone say about ``action`` on ``resource``."""
        ...


class PolicyAuthorizer:
    def __init__(self, policies: PolicyCache, grants: GrantRepository) -> None:
        self._policies = policies
        self._grants = grants

    def authorize(
        self, call: Call, action: str, key: KeyRecord | None, access: KeyAccess | None
    ) -> None:
        caller = call.caller
        decision = (
            caller.principal_arn,
            action,
            key.record_id if key else "",
            key.policy if key else "",
        )
        if self._policies.remembers_allow(decision):
            return
        # Positional (action, resource, principal_arn, principal_account, values, service):
        # built on every request whose decision cannot be remembered.
        request = EvalRequest(
            action,
            key.arn if key is not None else "*",
            caller.principal_arn,
            caller.account_id,
            RequestValues(call, key, access),
            caller.is_service,
        )
        # A service principal has no identity policies: the key policy names it, or a grant.
        identity_documents = (
            () if caller.is_service else self._policies.identity_policies(caller.principal_arn)
        )
        identity = evaluate_identity_policies(identity_documents, request)
        if key is None:
            if identity is Effect.ALLOW:
                if _independent(identity_documents, action):
                    self._policies.remember_allow(decision)
                return
            raise _denied(call, action, None, "identity-based", identity is Effect.DENY)
        key_document = self._policies.key_policy(key.policy)
        key_policy = evaluate_key_policy(key_document, request)
        if key_policy.effect is Effect.DENY or identity is Effect.DENY:
            where = "resource-based" if key_policy.effect is Effect.DENY else "identity-based"
            raise _denied(call, action, key, where, explicit=True)
        needs_identity = key_policy.via_account or key.account_id != caller.account_id
        if key_policy.effect is Effect.ALLOW and (not needs_identity or identity is Effect.ALLOW):
            if key_document.request_independent_for(action) and _independent(
                identity_documents, action
            ):
                self._policies.remember_allow(decision)
            return
        grant = self._grant_for(call, action, key, access)
        if grant is not None:
            call.via_grant = grant
            return
        where = "resource-based" if key_policy.effect is Effect.NONE else "identity-based"
        raise _denied(call, action, key, where, explicit=False)

    def identity_effect(self, call: Call, action: str, resource: str) -> Effect:
        caller = call.caller
        request = EvalRequest(
            action=action,
            resource=resource,
            principal_arn=caller.principal_arn,
            principal_account=caller.account_id,
            values=RequestValues(call, None, None),
            service=caller.is_service,
        )
        if caller.is_service:
            return Effect.NONE
        documents = self._policies.identity_policies(caller.principal_arn)
        return evaluate_identity_policies(documents, request)

    def would_allow(self, call: Call, action: str, key: KeyRecord) -> bool:
        via_grant = call.via_grant
        try:
            self.authorize(call, action, key, None)
        except AccessDeniedException:
            return False
        finally:
            call.via_grant = via_grant
        return True

    def _grant_for(
        self, call: Call, action: str, key: KeyRecord, access: KeyAccess | None
    ) -> Grant | None:
        operation = action.removeprefix("kms:")
        member = access.context_member if access is not None else "EncryptionContext"
        context = call.request.get(member)
        caller = call.caller
        for grant in self._policies.grants(key.record_id) + self._from_tokens(call, key):
            if grant.permits(caller.principal_arn, operation, context, caller.source_arn):
                return grant
        return None

    def _from_tokens(self, call: Call, key: KeyRecord) -> tuple[Grant, ...]:
        """Grants named by the request's grant tokens, read fresh: a token makes a new grant
        effective at once, before the change feed reaches this worker."""
        found = []
        for token in call.request.get("GrantTokens") or ():
            grant = check_token(token, self._grants.get(grant_id_of_token(token)))
            if grant.key_id == key.record_id:
                found.append(grant)
        return tuple(found)


def _independent(documents: tuple[PolicyDocument, ...], action: str) -> bool:
    """The identity policies' part of a decision depends on nothing in the request (asked only
    when the decision is an allow that could be remembered)."""
    return all(d.request_independent_for(action) for d in documents)


def _denied(
    call: Call, action: str, key: KeyRecord | None, where: str, explicit: bool
) -> AccessDeniedException:
    caller = call.caller
    if key is None:
        target = ""
    elif key.account_id == caller.account_id:
        target = f" on resource: {key.arn}"
    else:
        target = " on this resource"  # never name another tenant's key
    article = "an" if where[0] in "aeiou" else "a"
    reason = (
        f"with an explicit deny in {article} {where} policy"
        if explicit
        else f"because no {where} policy allows the {action} action"
    )
    return AccessDeniedException(
        f"User: {caller.principal_arn} is not authorized to perform: {action}{target} {reason}"
    )
