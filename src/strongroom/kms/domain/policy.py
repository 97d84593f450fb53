"""Key policies and identity (IAM) policies: the document model and its strict parser.

``parse_policy`` turns policy JSON into an immutable :class:`PolicyDocument` whose patterns
and conditions are compiled, so the caller parses once, caches the document and evaluates
it on every request (``evaluation.py``).

Choices where AWS leaves room, or where we are stricter on purpose:

* Duplicate JSON member names (at any depth) are rejected instead of "last one wins", so no
  two readers of a policy can disagree about what it says.
* Duplicate non-empty ``Sid`` values are rejected in key policies too (AWS rejects them in
  identity policies), for the same reason: a Sid names one statement.
* A missing ``Version`` is accepted and means ``2008-10-17``: no policy variables.
* Principal ARNs must be ``arn:aws:iam::<12 digits>:root``, ``...:user/<path/>name`` or
  ``...:role/<path/>name``; a bare 12-digit account id means that account's root.
  ``Service`` principals (``s3.amazonaws.com``) match calls a service makes as itself;
  ``Federated`` and ``CanonicalUser`` principals parse but never match a request.
* ``NotPrincipal`` excludes a caller when its own ARN or its account (root ARN or bare id)
  is listed, or ``"*"`` is. (AWS is subtler about users whose account is not also listed.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal

from strongroom.kms import messages
from strongroom.kms.domain.conditions import Condition, parse_conditions
from strongroom.kms.domain.policy_patterns import Patterns
from strongroom.kms.errors import MalformedPolicyDocumentException

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"

NO_MATCH, VIA_ACCOUNT, DIRECT = 0, 1, 2
"""How a Principal element names a caller: not at all, by its account, or by its own ARN or
``"*"`` (see ``KeyPolicyResult.via_account``)."""

INVALID_PRINCIPALS = messages.INVALID_PRINCIPALS

_ACCOUNT_ID = re.compile(r"\d{12}", re.ASCII)
_NAME = r"[\w+=,.@-]+"
_PRINCIPAL_ARN = re.compile(
    rf"arn:aws:iam::(\d{{12}}):(?:(root)|(?:user|role)/(?:{_NAME}/)*{_NAME})", re.ASCII
)
_ACTION = re.compile(r"\*|[A-Za-z0-9-]+:[A-Za-z0-9_*?-]+", re.ASCII)
_IDENTITY_SID = re.compile(r"[A-Za-z0-9]*", re.ASCII)
_PRINCIPAL_TYPES = {"AWS": "aws", "Service": "service", "Federated": "federated",
                    "CanonicalUser": "canonical_user"}  # fmt: skip
_STATEMENT_MEMBERS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
     "NotResource", "Condition"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Principals:
    """A ``Principal`` or ``NotPrincipal`` element; ``"*"`` is stored as ``aws=("*",)``."""

    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()
    _wildcard: bool = field(init=False, repr=False, compare=False)
    _accounts: frozenset[str] = field(init=False, repr=False, compare=False)
    _arns: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        accounts: set[str] = set()
        arns: set[str] = set()
        for entry in self.aws:
            if entry == "*":
                continue
            if _ACCOUNT_ID.fullmatch(entry):
                accounts.add(entry)
                continue
            found = _PRINCIPAL_ARN.fullmatch(entry)
            if found is None:
                raise MalformedPolicyDocumentException(INVALID_PRINCIPALS)
            if found.group(2):
                accounts.add(found.group(1))
            else:
                arns.add(entry)
        for entry in (*self.service, *self.federated, *self.canonical_user):
            if not entry:
                raise MalformedPolicyDocumentException(INVALID_PRINCIPALS)
        object.__setattr__(self, "_wildcard", "*" in self.aws)
        object.__setattr__(self, "_accounts", frozenset(accounts))
        object.__setattr__(self, "_arns", frozenset(arns))

    def match(self, principal_arn: str, principal_account: str, service: bool = False) -> int:
        """``DIRECT`` for ``"*"`` or the caller's own ARN, ``VIA_ACCOUNT`` for its account.

        A service calling as itself (``service``, its principal name in ``principal_arn``) is
        named by ``"*"`` or by its ``Service`` entry, and never by an account."""
        if self._wildcard:
            return DIRECT
        if service:
            return DIRECT if principal_arn in self.service else NO_MATCH
        if principal_arn in self._arns:
            return DIRECT
        if principal_account in self._accounts:
            return VIA_ACCOUNT
        return NO_MATCH


@dataclass(frozen=True, slots=True)
class Statement:
    """One policy statement. A statement with neither Action nor NotAction (or neither
    Resource nor NotResource) is valid but never applies."""

    sid: str | None
    effect: Literal["Allow", "Deny"]
    principal: Principals | None = None
    not_principal: Principals | None = None
    action: Patterns | None = None
    not_action: Patterns | None = None
    resource: Patterns | None = None
    not_resource: Patterns | None = None
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    statements: tuple[Statement, ...]
    version: str | None = None
    policy_id: str | None = None
    _independence: dict[str, bool] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def request_independent_for(self, action: str) -> bool:
        """True when no statement that could apply to ``action`` has conditions or policy
        variables: a decision then depends only on principal, action and resource, and callers
        may remember it."""
        known = self._independence.get(action)
        if known is None:
            known = all(
                _static(statement)
                for statement in self.statements
                if _names_action(statement, action)
            )
            if len(self._independence) < _MEMO_LIMIT:
                self._independence[action] = known
        return known

    def principal_arns(self) -> frozenset[str]:
        """Every AWS principal named (ARNs and 12-digit account ids as written, not ``"*"``),
        in Principal and NotPrincipal, so the caller can check that they exist."""
        named: set[str] = set()
        for statement in self.statements:
            for element in (statement.principal, statement.not_principal):
                if element is not None:
                    named.update(p for p in element.aws if p != "*")
        return frozenset(named)


_MEMO_LIMIT = 1024


def _names_action(statement: Statement, action: str) -> bool:
    if statement.action is not None:
        return statement.action.matches(action)
    if statement.not_action is not None:
        return not statement.not_action.matches(action)
    return False


def _static(statement: Statement) -> bool:
    return not statement.conditions and not any(
        patterns is not None and patterns.variables and any("${" in p for p in patterns.patterns)
        for patterns in (statement.resource, statement.not_resource)
    )


def parse_policy(text: str, *, key_policy: bool) -> PolicyDocument:
    """Parse and validate a policy document.

    ``key_policy=True``: a resource (key) policy, every statement needs Principal or
    NotPrincipal. ``key_policy=False``: an identity policy, where neither is allowed.
    Raises :class:`MalformedPolicyDocumentException` with an AWS-style message.
    """
    raw = _load_json(text)
    if not isinstance(raw, dict):
        raise MalformedPolicyDocumentException("Policy must be a JSON object.")
    for member in raw:
        if member not in ("Version", "Id", "Statement"):
            raise MalformedPolicyDocumentException(
                f"Policy contains an unsupported element '{member}'."
            )
    version = raw.get("Version")
    if version is not None and version not in (VERSION_2012, VERSION_2008):
        raise MalformedPolicyDocumentException(
            f"Policy has an unsupported Version {json.dumps(version)}; "
            f"use '{VERSION_2012}' or '{VERSION_2008}'."
        )
    policy_id = raw.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise MalformedPolicyDocumentException("Policy Id must be a string.")
    if "Statement" not in raw:
        raise MalformedPolicyDocumentException("Policy must contain a Statement.")
    entries = raw["Statement"]
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list) or not entries:
        raise MalformedPolicyDocumentException(
            "Policy Statement must be a statement object or a non-empty list of them."
        )
    variables = version == VERSION_2012
    statements = tuple(
        _parse_statement(entry, n, key_policy=key_policy, variables=variables)
        for n, entry in enumerate(entries, start=1)
    )
    seen: set[str] = set()
    for statement in statements:
        if statement.sid:
            if statement.sid in seen:
                raise MalformedPolicyDocumentException(
                    f"Statement IDs (SID) in a single policy must be unique: '{statement.sid}'."
                )
            seen.add(statement.sid)
    return PolicyDocument(statements, version, policy_id)


def _load_json(text: str) -> object:
    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        result: dict[str, object] = {}
        for key, value in pairs:
            if key in result:
                raise MalformedPolicyDocumentException(
                    f"Policy contains a duplicate JSON member '{key}'."
                )
            result[key] = value
        return result

    def no_constants(name: str) -> object:
        raise ValueError(name)

    try:
        return json.loads(text, object_pairs_hook=unique, parse_constant=no_constants)
    except (ValueError, RecursionError):
        raise MalformedPolicyDocumentException("Policy is not valid JSON.") from None


def _parse_statement(raw: object, n: int, *, key_policy: bool, variables: bool) -> Statement:
    where = f"Policy statement {n}"
    if not isinstance(raw, dict):
        raise MalformedPolicyDocumentException(f"{where}: a statement must be a JSON object.")
    for member in raw:
        if member not in _STATEMENT_MEMBERS:
            raise MalformedPolicyDocumentException(f"{where}: unsupported element '{member}'.")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicyDocumentException(f"{where}: Sid must be a string.")
    if sid is not None and not key_policy and not _IDENTITY_SID.fullmatch(sid):
        raise MalformedPolicyDocumentException(
            f"{where}: Sid '{sid}' must contain only letters and digits."
        )
    if "Effect" not in raw:
        raise MalformedPolicyDocumentException(f"{where}: Effect is required.")
    raw_effect = raw["Effect"]
    if raw_effect not in ("Allow", "Deny"):
        raise MalformedPolicyDocumentException(
            f"{where}: Effect must be 'Allow' or 'Deny', not {json.dumps(raw_effect)}."
        )
    effect: Literal["Allow", "Deny"] = "Allow" if raw_effect == "Allow" else "Deny"
    has_principal = "Principal" in raw or "NotPrincipal" in raw
    if not key_policy and has_principal:
        raise MalformedPolicyDocumentException("Policy document should not specify a principal.")
    if key_policy and not has_principal:
        raise MalformedPolicyDocumentException(
            f"{where}: a key policy statement must have a Principal or NotPrincipal."
        )
    _at_most_one(raw, "Principal", "NotPrincipal", where)
    _at_most_one(raw, "Action", "NotAction", where)
    _at_most_one(raw, "Resource", "NotResource", where)
    try:
        conditions = (
            parse_conditions(raw["Condition"], variables=variables) if "Condition" in raw else ()
        )
    except MalformedPolicyDocumentException as exc:
        raise MalformedPolicyDocumentException(f"{where}: {exc.message}") from None
    return Statement(
        sid=sid,
        effect=effect,
        principal=_principals(raw["Principal"]) if "Principal" in raw else None,
        not_principal=_principals(raw["NotPrincipal"]) if "NotPrincipal" in raw else None,
        action=_actions(raw, "Action", where),
        not_action=_actions(raw, "NotAction", where),
        resource=_resources(raw, "Resource", where, variables),
        not_resource=_resources(raw, "NotResource", where, variables),
        conditions=conditions,
    )


def _at_most_one(raw: dict[str, object], first: str, second: str, where: str) -> None:
    if first in raw and second in raw:
        raise MalformedPolicyDocumentException(
            f"{where}: {first} and {second} cannot both be present."
        )


def _strings(value: object) -> tuple[str, ...] | None:
    """A string or a non-empty list of strings, else None."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _principals(raw: object) -> Principals:
    if raw == "*":
        return Principals(aws=("*",))
    if not isinstance(raw, dict) or not raw:
        raise MalformedPolicyDocumentException(INVALID_PRINCIPALS)
    kinds: dict[str, tuple[str, ...]] = {}
    for kind, value in raw.items():
        values = _strings(value)
        if kind not in _PRINCIPAL_TYPES or values is None:
            raise MalformedPolicyDocumentException(INVALID_PRINCIPALS)
        kinds[_PRINCIPAL_TYPES[kind]] = values
    return Principals(**kinds)


def _actions(raw: dict[str, object], member: str, where: str) -> Patterns | None:
    if member not in raw:
        return None
    values = _strings(raw[member])
    if values is None:
        raise MalformedPolicyDocumentException(
            f"{where}: {member} must be a string or a non-empty list of strings."
        )
    for value in values:
        if not _ACTION.fullmatch(value):
            raise MalformedPolicyDocumentException(
                f"{where}: invalid action '{value}'; an action is '*' or "
                "'<service>:<name>', for example 'kms:Encrypt'."
            )
    return Patterns(values, ignore_case=True)


def _resources(raw: dict[str, object], member: str, where: str, variables: bool) -> Patterns | None:
    if member not in raw:
        return None
    values = _strings(raw[member])
    if values is None:
        raise MalformedPolicyDocumentException(
            f"{where}: {member} must be a string or a non-empty list of strings."
        )
    for value in values:
        if value != "*" and not (value.startswith("arn:") and value.count(":") >= 5):
            raise MalformedPolicyDocumentException(
                f"{where}: invalid resource '{value}'; a resource is '*' or an ARN."
            )
    return Patterns(values, variables=variables)
