"""Evaluating key policies and identity policies against one request (AWS IAM logic).

A statement applies when its principal (key policies only), action, resource and every
condition match. An applicable Deny anywhere wins; otherwise an applicable Allow allows;
otherwise nothing applies (:attr:`Effect.NONE`, an implicit deny). Order never matters.

A statement whose policy variables cannot be resolved for the request does not apply (AWS:
such a statement "might be invalid"); it neither allows nor denies.

This runs on every cryptographic request: no allocation beyond the lower-cased action, and
the results are shared constants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from strongroom.kms.domain.frozen import quick_init
from strongroom.kms.domain.policy import DIRECT, NO_MATCH, PolicyDocument, Statement
from strongroom.kms.domain.policy_patterns import ConditionValues, UnresolvedVariableError

__all__ = [
    "ConditionValues",
    "Effect",
    "EvalRequest",
    "KeyPolicyResult",
    "evaluate_identity_policies",
    "evaluate_key_policy",
]


@quick_init  # built on every request whose decision is not remembered (domain/frozen.py)
@dataclass(frozen=True, slots=True)
class EvalRequest:
    action: str  # e.g. "kms:Encrypt"; matched case-insensitively
    resource: str  # the key ARN, or "*" for actions on no key
    principal_arn: str  # e.g. "arn:aws:iam::111122223333:user/alice"
    principal_account: str  # "111122223333"
    values: ConditionValues  # condition keys, lower-cased
    # A service calling as itself: principal_arn is its name ("s3.amazonaws.com").
    service: bool = False


class Effect(Enum):
    ALLOW = "Allow"
    DENY = "Deny"
    NONE = "None"  # no statement applies: an implicit deny


@dataclass(frozen=True, slots=True)
class KeyPolicyResult:
    """``via_account`` is True when the only applicable Allow statements named the caller's
    account (``arn:aws:iam::<acct>:root`` or the bare id): the key policy then delegates to
    the caller's IAM policies. It is False for any other result, and whenever an applicable
    Allow named the caller itself, ``"*"``, or admitted it through ``NotPrincipal``."""

    effect: Effect
    via_account: bool


_DENIED = KeyPolicyResult(Effect.DENY, via_account=False)
_NOTHING = KeyPolicyResult(Effect.NONE, via_account=False)
_ALLOWED_DIRECTLY = KeyPolicyResult(Effect.ALLOW, via_account=False)
_ALLOWED_VIA_ACCOUNT = KeyPolicyResult(Effect.ALLOW, via_account=True)


def _principal_match(statement: Statement, request: EvalRequest) -> int:
    if statement.principal is not None:
        return statement.principal.match(
            request.principal_arn, request.principal_account, request.service
        )
    if statement.not_principal is not None:
        excluded = statement.not_principal.match(
            request.principal_arn, request.principal_account, request.service
        )
        return NO_MATCH if excluded else DIRECT
    return NO_MATCH


def _applies(statement: Statement, action: str, request: EvalRequest) -> bool:
    """Action, resource and conditions (not the principal). ``action`` is lower-cased."""
    try:
        if statement.action is not None:
            if not statement.action.matches(action):
                return False
        elif statement.not_action is None or statement.not_action.matches(action):
            return False
        values = request.values
        if statement.resource is not None:
            if not statement.resource.matches(request.resource, values):
                return False
        elif statement.not_resource is None or statement.not_resource.matches(
            request.resource, values
        ):
            return False
        for condition in statement.conditions:
            if not condition.holds(values):
                return False
    except UnresolvedVariableError:
        return False
    return True


def evaluate_key_policy(doc: PolicyDocument, request: EvalRequest) -> KeyPolicyResult:
    """Evaluate a key policy; see :class:`KeyPolicyResult` for ``via_account``."""
    action = request.action.lower()
    allowed = NO_MATCH
    for statement in doc.statements:
        how = _principal_match(statement, request)
        if how == NO_MATCH or not _applies(statement, action, request):
            continue
        if statement.effect == "Deny":
            return _DENIED
        allowed = max(allowed, how)
    if allowed == NO_MATCH:
        return _NOTHING
    return _ALLOWED_DIRECTLY if allowed == DIRECT else _ALLOWED_VIA_ACCOUNT


def evaluate_identity_policies(docs: Sequence[PolicyDocument], request: EvalRequest) -> Effect:
    """Evaluate the caller's identity policies together: any Deny, else any Allow, else NONE."""
    action = request.action.lower()
    allowed = False
    for doc in docs:
        for statement in doc.statements:
            if not _applies(statement, action, request):
                continue
            if statement.effect == "Deny":
                return Effect.DENY
            allowed = True
    return Effect.ALLOW if allowed else Effect.NONE
