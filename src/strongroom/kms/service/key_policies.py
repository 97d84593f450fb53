"""PutKeyPolicy, GetKeyPolicy, ListKeyPolicies, and the checks CreateKey shares."""

from __future__ import annotations

from dataclasses import replace

from strongroom.kms import messages
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.policy import PolicyDocument, parse_policy
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import (
    LimitExceededException,
    MalformedPolicyDocumentException,
    NotFoundException,
)
from strongroom.kms.service.pipeline import Call, Operation, Response, managed_key
from strongroom.kms.service.transitions import transition

MAX_POLICY_BYTES = 32 * 1024
POLICY_NAME = "default"
_ACCOUNT_ID_LENGTH = 12


def check_key_policy(call: Call, text: str) -> PolicyDocument:
    """Validate a key policy: size, grammar, and that every principal it names exists."""
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise LimitExceededException("The key policy exceeds the 32 KB quota for key policies.")
    document = parse_policy(text, key_policy=True)
    for principal in document.principal_arns():
        if not _principal_exists(call, principal):
            raise MalformedPolicyDocumentException(messages.INVALID_PRINCIPALS)
    return document


def _principal_exists(call: Call, principal: str) -> bool:
    repo = call.ctx.identity
    if principal == "*":
        return True
    if len(principal) == _ACCOUNT_ID_LENGTH and principal.isdigit():
        return repo.get_account(principal) is not None
    parts = principal.split(":", 5)
    account, resource = parts[4], parts[5]
    if resource == "root":
        return repo.get_account(account) is not None
    kind, _, path = resource.partition("/")
    return repo.get_principal(account, path.rsplit("/", 1)[-1], kind) is not None


def check_lockout(call: Call, key: KeyRecord) -> None:
    """Refuse a policy that would stop the caller from changing it again (AWS's lockout
    safety check), unless the request bypasses the check."""
    if call.request.get("BypassPolicyLockoutSafetyCheck"):
        return
    if not call.pipeline.authorizer.would_allow(call, "kms:PutKeyPolicy", key):
        raise MalformedPolicyDocumentException(messages.POLICY_LOCKOUT)


def _check_name(call: Call) -> None:
    name = call.request.get("PolicyName", POLICY_NAME)
    if name != POLICY_NAME:
        raise NotFoundException(
            f"No such policy exists: {name}. The only key policy is '{POLICY_NAME}'."
        )


def put_key_policy(call: Call) -> Response:
    _check_name(call)
    text = call.request["Policy"]
    check_key_policy(call, text)
    check_lockout(call, replace(call.key, policy=text))
    transition(call, OpClass.PUT_POLICY, lambda k: replace(k, policy=text))
    return {}


def get_key_policy(call: Call) -> Response:
    _check_name(call)
    return {"Policy": call.key.policy, "PolicyName": POLICY_NAME}


def list_key_policies(call: Call) -> Response:
    return {"PolicyNames": [POLICY_NAME], "Truncated": False}


OPERATIONS = (
    Operation("PutKeyPolicy", put_key_policy, managed_key("kms:PutKeyPolicy", OpClass.PUT_POLICY)),
    Operation("GetKeyPolicy", get_key_policy, managed_key("kms:GetKeyPolicy", OpClass.READ)),
    Operation(
        "ListKeyPolicies", list_key_policies, managed_key("kms:ListKeyPolicies", OpClass.READ)
    ),
)
