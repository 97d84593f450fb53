"""The Condition element of the IAM policy language: operators, parsing and evaluation.

Semantics (AWS IAM, with the choices AWS leaves open written down):

* Operators and keys of one block are ANDed; the values listed for one key are ORed, so a
  positive operator holds when a request value matches *any* policy value, and a negated one
  (``StringNotEquals``, ``NotIpAddress``, ``ArnNotLike``...) holds when it matches *none*
  (AWS: "logical NOR").
* Without a set prefix, a negated operator is exactly the negation of its positive twin. So
  on an absent key a positive operator is false and a negated one true (AWS: "If the key
  that you specify in a policy condition is not present in the request context, the values
  do not match ... If the policy condition requires that the key is not matched, such as
  StringNotLike or ArnNotLike, and the right key is not present, the condition is true").
  On a multi-valued request key a positive operator holds if any request value matches
  (as ``ForAnyValue:``); the negated one if no request value matches.
* ``ForAnyValue:`` holds if at least one request value satisfies the operator (false when
  the key is absent); ``ForAllValues:`` holds if every request value satisfies it (true
  when the key is absent). With a negated operator, "satisfies" means "matches no policy
  value".
* ``...IfExists`` holds whenever the key is absent, otherwise it is the plain operator.
* ``Null`` with ``"true"`` holds iff the key is absent, with ``"false"`` iff it is present.
* An empty tuple from :class:`ConditionValues` counts as an absent key, everywhere.
* Keys are lower-cased (condition keys are case-insensitive). That includes the part after
  ``kms:EncryptionContext:``: AWS documents the whole condition key as case-insensitive and
  points to ``kms:EncryptionContextKeys`` for case-sensitive context keys. The caller must
  therefore answer ``kms:encryptioncontext:<lower-cased key>`` with the values of every
  context pair whose key lower-cases to it.
* Values that cannot be parsed are rejected at parse time (numbers, dates, booleans,
  base64, CIDR blocks, ARNs with fewer than six segments). A request value that cannot be
  parsed as the operator's type matches no policy value.
* Policy variables are honoured (2012-10-17 documents only) in the String and Arn
  operators, not in Numeric, Date, Bool, Binary or IP ones, where ``${`` is literal.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from strongroom.kms.domain.condition_matchers import (
    ARN,
    BINARY,
    BOOL,
    DATE,
    IP,
    LIKE,
    NULL,
    NUMERIC,
    STRING,
    STRING_CI,
    TEXT_FAMILIES,
    VALIDATORS,
    Matcher,
    arn_segments,
    text_matcher,
    typed_matcher,
)
from strongroom.kms.domain.policy_patterns import (
    ConditionValues,
    Resolved,
    Token,
    has_variables,
    resolve,
    static,
    tokenize,
)
from strongroom.kms.errors import MalformedPolicyDocumentException

_PLAIN, _ANY_VALUE, _ALL_VALUES = 0, 1, 2


@dataclass(frozen=True, slots=True)
class _Operator:
    name: str
    family: str
    negated: bool = False
    compare: Callable[[Any, Any], bool] = operator.eq


def _ordered(prefix: str, family: str) -> list[_Operator]:
    return [
        _Operator(f"{prefix}Equals", family),
        _Operator(f"{prefix}NotEquals", family, negated=True),
        _Operator(f"{prefix}LessThan", family, compare=operator.lt),
        _Operator(f"{prefix}LessThanEquals", family, compare=operator.le),
        _Operator(f"{prefix}GreaterThan", family, compare=operator.gt),
        _Operator(f"{prefix}GreaterThanEquals", family, compare=operator.ge),
    ]


_OPERATORS: dict[str, _Operator] = {
    op.name.lower(): op
    for op in [
        _Operator("StringEquals", STRING),
        _Operator("StringNotEquals", STRING, negated=True),
        _Operator("StringEqualsIgnoreCase", STRING_CI),
        _Operator("StringNotEqualsIgnoreCase", STRING_CI, negated=True),
        _Operator("StringLike", LIKE),
        _Operator("StringNotLike", LIKE, negated=True),
        *_ordered("Numeric", NUMERIC),
        *_ordered("Date", DATE),
        _Operator("Bool", BOOL),
        _Operator("BinaryEquals", BINARY),
        _Operator("IpAddress", IP),
        _Operator("NotIpAddress", IP, negated=True),
        _Operator("ArnEquals", ARN),
        _Operator("ArnLike", ARN),
        _Operator("ArnNotEquals", ARN, negated=True),
        _Operator("ArnNotLike", ARN, negated=True),
        _Operator("Null", NULL),
    ]
}
_SET_PREFIXES = {"forallvalues:": ("ForAllValues:", _ALL_VALUES),
                 "foranyvalue:": ("ForAnyValue:", _ANY_VALUE)}  # fmt: skip


def _split_operator(written: str) -> tuple[str, _Operator, int, bool]:
    """``ForAnyValue:StringLikeIfExists`` -> canonical name, operator, set mode, if-exists."""
    name = written.lower()
    set_mode, prefix = _PLAIN, ""
    for lowered, (canonical, mode) in _SET_PREFIXES.items():
        if name.startswith(lowered):
            name, set_mode, prefix = name[len(lowered) :], mode, canonical
            break
    if_exists = name.endswith("ifexists") and name[: -len("ifexists")] in _OPERATORS
    if if_exists:
        name = name[: -len("ifexists")]
    spec = _OPERATORS.get(name)
    if spec is None or (spec.family == NULL and (set_mode != _PLAIN or if_exists)):
        raise MalformedPolicyDocumentException(f"Unknown condition operator '{written}'.")
    return f"{prefix}{spec.name}{'IfExists' if if_exists else ''}", spec, set_mode, if_exists


# --- the condition --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """One ``operator: {key: values}`` test, compiled when constructed.

    ``operator`` is the canonical spelling (``ForAnyValue:StringLikeIfExists``), ``key`` the
    lower-cased condition key, ``values`` the policy values as strings.
    """

    operator: str
    key: str
    values: tuple[str, ...]
    variables: bool = False
    _negated: bool = field(init=False, repr=False, compare=False)
    _set_mode: int = field(init=False, repr=False, compare=False)
    _when_absent: bool = field(init=False, repr=False, compare=False)
    _null: bool = field(init=False, repr=False, compare=False)
    _family: str = field(init=False, repr=False, compare=False)
    _match: Matcher = field(init=False, repr=False, compare=False)
    _static: tuple[Resolved, ...] = field(init=False, repr=False, compare=False)
    _templates: tuple[tuple[Token, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        canonical, spec, set_mode, if_exists = _split_operator(self.operator)
        family = spec.family
        fields: dict[str, object] = {
            "operator": canonical,
            "key": self.key.lower(),
            "_negated": spec.negated,
            "_set_mode": set_mode,
            "_null": family == NULL,
            "_family": family,
            "_static": (),
            "_templates": (),
        }
        if not self.values:
            raise MalformedPolicyDocumentException(
                f"Condition key '{self.key}' under '{self.operator}' has no values."
            )
        if family in TEXT_FAMILIES:
            self._compile_text(family, fields)
        else:
            parse, expected = VALIDATORS[family]
            for value in self.values:
                if parse(value) is None:
                    raise MalformedPolicyDocumentException(
                        f"Condition operator '{self.operator}' requires {expected} for key "
                        f"'{self.key}', not '{value}'."
                    )
            if family != NULL:
                fields["_match"] = typed_matcher(family, spec.compare, self.values)
        if family == NULL:
            fields["_when_absent"] = any(v.lower() == "true" for v in self.values)
            present_ok = any(v.lower() == "false" for v in self.values)
            fields["_match"] = lambda _value: present_ok
        else:
            absent = {_PLAIN: spec.negated, _ANY_VALUE: False, _ALL_VALUES: True}[set_mode]
            fields["_when_absent"] = True if if_exists else absent
        for attribute, setting in fields.items():
            object.__setattr__(self, attribute, setting)

    def _compile_text(self, family: str, fields: dict[str, object]) -> None:
        constant: list[Resolved] = []
        templates: list[tuple[Token, ...]] = []
        for value in self.values:
            tokens = tokenize(value, variables=self.variables)
            if family == ARN and arn_segments(tokens) < 6:
                raise MalformedPolicyDocumentException(
                    f"Condition operator '{self.operator}' requires an ARN for key "
                    f"'{self.key}', not '{value}'."
                )
            if has_variables(tokens):
                templates.append(tokens)
            else:
                constant.append(static(tokens))
        fields["_static"] = tuple(constant)
        fields["_templates"] = tuple(templates)
        fields["_match"] = text_matcher(family, tuple(constant))

    def holds(self, context: ConditionValues) -> bool:
        """Evaluate against the request.

        Raises :class:`~strongroom.kms.domain.policy_patterns.UnresolvedVariableError` when a
        policy variable in the values cannot be resolved and the key is present.
        """
        found = context.get(self.key)
        if not found:
            return self._when_absent
        match = self._match
        if self._templates:
            resolved = tuple(resolve(t, context) for t in self._templates)
            match = text_matcher(self._family, self._static + resolved)
        negated = self._negated
        if self._set_mode == _PLAIN:
            for value in found:
                if match(value):
                    return not negated
            return negated
        if self._set_mode == _ANY_VALUE:
            return any(match(value) is not negated for value in found)
        return all(match(value) is not negated for value in found)


def _condition_values(operator_name: str, key: str, raw: object) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    values: list[str] = []
    for item in items:
        if isinstance(item, bool):
            values.append("true" if item else "false")
        elif isinstance(item, str):
            values.append(item)
        elif isinstance(item, int | float):
            values.append(str(item))
        else:
            raise MalformedPolicyDocumentException(
                f"Condition values for key '{key}' under '{operator_name}' must be strings, "
                "numbers, booleans or a list of them."
            )
    return tuple(values)


def parse_conditions(raw: object, *, variables: bool) -> tuple[Condition, ...]:
    """Parse a ``Condition`` element (already decoded from JSON) into conditions to AND."""
    if not isinstance(raw, dict):
        raise MalformedPolicyDocumentException(
            "Condition must be an object mapping condition operators to condition keys."
        )
    conditions: list[Condition] = []
    for operator_name, block in raw.items():
        if not isinstance(block, dict):
            raise MalformedPolicyDocumentException(
                f"Condition operator '{operator_name}' must map to an object of condition keys."
            )
        for key, raw_values in block.items():
            if not key:
                raise MalformedPolicyDocumentException(
                    f"Condition operator '{operator_name}' has an empty condition key."
                )
            values = _condition_values(operator_name, key, raw_values)
            conditions.append(Condition(operator_name, key, values, variables))
    return tuple(conditions)
