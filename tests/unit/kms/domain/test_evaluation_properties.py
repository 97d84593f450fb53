"""Properties of policy evaluation, checked with Hypothesis over a small policy vocabulary."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.kms.domain.conditions import Condition, parse_conditions
from strongroom.kms.domain.evaluation import (
    Effect,
    EvalRequest,
    KeyPolicyResult,
    evaluate_identity_policies,
    evaluate_key_policy,
)
from strongroom.kms.domain.policy import PolicyDocument, parse_policy
from strongroom.kms.domain.policy_patterns import Glob, static, tokenize

FAST = settings(max_examples=200, deadline=None)

A, B = "111122223333", "444455556666"
USERS = [f"arn:aws:iam::{A}:user/alice", f"arn:aws:iam::{A}:role/ops", f"arn:aws:iam::{B}:user/c"]
KEYS = [f"arn:aws:kms:us-east-1:{A}:key/k1", f"arn:aws:kms:eu-west-1:{B}:key/k2"]
ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:CreateGrant", "kms:PutKeyPolicy", "kms:Sign"]
ACTION_PATTERNS = [*ACTIONS, "*", "kms:*", "kms:*crypt", "kms:Create*", "kms:?ecrypt", "KMS:SIGN"]
RESOURCE_PATTERNS = ["*", *KEYS, f"arn:aws:kms:*:{A}:key/*", "arn:aws:kms:eu-*:*:*"]
NAMED = [f"arn:aws:iam::{A}:root", A, f"arn:aws:iam::{B}:root", B, *USERS]
TENANT = "kms:EncryptionContext:tenant"
CONDITIONS: list[dict[str, dict[str, object]]] = [
    {"StringEquals": {TENANT: "acme"}},
    {"StringNotEquals": {TENANT: ["acme", "beta"]}},
    {"StringLike": {TENANT: "a*"}},
    {"StringEqualsIfExists": {TENANT: "beta"}},
    {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    {"Null": {TENANT: "true"}},
    {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant", "doc"]}},
    {"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": "d*"}},
    {"NumericLessThan": {"kms:Size": 100}},
]

one_or_more = st.lists


def _listing(options: list[str]) -> st.SearchStrategy[object]:
    some = st.lists(st.sampled_from(options), min_size=1, max_size=3, unique=True)
    return st.one_of(st.sampled_from(options), some)


principals = st.one_of(st.just("*"), st.fixed_dictionaries({"AWS": _listing(["*", *NAMED])}))


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, object]:
    statement: dict[str, object] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    statement[draw(st.sampled_from(["Principal", "Principal", "NotPrincipal"]))] = draw(principals)
    statement[draw(st.sampled_from(["Action", "Action", "NotAction"]))] = draw(
        _listing(ACTION_PATTERNS)
    )
    statement[draw(st.sampled_from(["Resource", "Resource", "NotResource"]))] = draw(
        _listing(RESOURCE_PATTERNS)
    )
    chosen = draw(st.lists(st.sampled_from(CONDITIONS), max_size=2))
    merged: dict[str, dict[str, object]] = {}
    for block in chosen:
        for operator, keys in block.items():
            merged.setdefault(operator, {}).update(keys)
    if merged:
        statement["Condition"] = merged
    return statement


@st.composite
def requests(draw: st.DrawFn) -> EvalRequest:
    principal = draw(st.sampled_from(USERS))
    values: dict[str, tuple[str, ...]] = {}
    context = draw(st.dictionaries(st.sampled_from(["tenant", "doc", "other"]),
                                   st.sampled_from(["acme", "beta", "x"]), max_size=3))  # fmt: skip
    keys_when_empty: bool = draw(st.booleans())
    if context or keys_when_empty:
        values["kms:encryptioncontextkeys"] = tuple(context)
    for key, value in context.items():
        values[f"kms:encryptioncontext:{key}"] = (value,)
    if draw(st.booleans()):
        values["kms:grantisforawsresource"] = (draw(st.sampled_from(["true", "false"])),)
    if draw(st.booleans()):
        values["kms:size"] = (str(draw(st.integers(0, 200))),)
    return EvalRequest(
        action=draw(st.sampled_from(ACTIONS)),
        resource=draw(st.sampled_from(KEYS)),
        principal_arn=principal,
        principal_account=principal.split(":")[4],
        values=values,
    )


def key_policy(statement_list: list[dict[str, object]]) -> PolicyDocument:
    text = json.dumps({"Version": "2012-10-17", "Statement": statement_list})
    return parse_policy(text, key_policy=True)


def identity_policy(statement_list: list[dict[str, object]]) -> PolicyDocument:
    stripped = [
        {k: v for k, v in s.items() if k not in ("Principal", "NotPrincipal")}
        for s in statement_list
    ]
    text = json.dumps({"Version": "2012-10-17", "Statement": stripped})
    return parse_policy(text, key_policy=False)


policies = st.lists(statements(), min_size=1, max_size=5)


@FAST
@given(policies, statements(effect="Deny"), requests())
def test_adding_a_deny_never_allows_more(
    base: list[dict[str, object]], deny: dict[str, object], request: EvalRequest
) -> None:
    before = evaluate_key_policy(key_policy(base), request)
    after = evaluate_key_policy(key_policy([*base, deny]), request)
    assert after.effect in (before.effect, Effect.DENY)
    if before.effect is not Effect.ALLOW:
        assert after.effect is not Effect.ALLOW


@FAST
@given(policies, requests())
def test_an_applicable_deny_always_denies(
    base: list[dict[str, object]], request: EvalRequest
) -> None:
    deny: dict[str, object] = {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}
    assert evaluate_key_policy(key_policy([*base, deny]), request) == KeyPolicyResult(
        Effect.DENY, via_account=False
    )


@FAST
@given(policies, statements(effect="Allow"), requests())
def test_adding_an_allow_never_removes_access_nor_a_deny(
    base: list[dict[str, object]], allow: dict[str, object], request: EvalRequest
) -> None:
    before = evaluate_key_policy(key_policy(base), request)
    after = evaluate_key_policy(key_policy([*base, allow]), request)
    if before.effect is Effect.NONE:
        assert after.effect in (Effect.NONE, Effect.ALLOW)
    else:
        assert after.effect is before.effect
    if before.effect is Effect.ALLOW and not before.via_account:
        assert after == before  # a direct grant stays direct


@FAST
@given(policies.flatmap(lambda s: st.tuples(st.just(s), st.permutations(s))), requests())
def test_statement_order_does_not_matter(
    pair: tuple[list[dict[str, object]], list[dict[str, object]]], request: EvalRequest
) -> None:
    original, shuffled = pair
    assert evaluate_key_policy(key_policy(original), request) == evaluate_key_policy(
        key_policy(shuffled), request
    )
    assert evaluate_identity_policies(
        [identity_policy(original)], request
    ) is evaluate_identity_policies([identity_policy(shuffled)], request)


@FAST
@given(st.lists(policies, max_size=3), requests())
def test_identity_policies_combine_like_one_policy(
    documents: list[list[dict[str, object]]], request: EvalRequest
) -> None:
    separate = evaluate_identity_policies([identity_policy(d) for d in documents], request)
    merged = [s for d in documents for s in d]
    together = evaluate_identity_policies([identity_policy(merged)] if merged else [], request)
    assert separate is together


@FAST
@given(policies, requests())
def test_via_account_means_the_account_was_named(
    base: list[dict[str, object]], request: EvalRequest
) -> None:
    result = evaluate_key_policy(key_policy(base), request)
    if result.via_account:
        assert result.effect is Effect.ALLOW
        account = request.principal_account
        named = {f"arn:aws:iam::{account}:root", account}
        assert any(
            s["Effect"] == "Allow"
            and isinstance(s.get("Principal"), dict)
            and named & set(_as_list(s["Principal"]["AWS"]))  # type: ignore[index]
            for s in base
        )


def _as_list(value: object) -> list[str]:
    return [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]


# --- conditions -------------------------------------------------------------------------------

plain_text = st.text(st.characters(exclude_characters="*?$", codec="utf-8"), max_size=8)
request_values = st.lists(plain_text, max_size=4).map(tuple)


@FAST
@given(st.lists(plain_text, min_size=1, max_size=3), request_values, st.booleans())
def test_string_like_without_wildcards_is_string_equals(
    policy_values: list[str], found: tuple[str, ...], negated: bool
) -> None:
    context = {"k": found}
    like = Condition("StringNotLike" if negated else "StringLike", "k", tuple(policy_values))
    equals = Condition("StringNotEquals" if negated else "StringEquals", "k", tuple(policy_values))
    assert like.holds(context) is equals.holds(context)


VALID_VALUES: dict[str, st.SearchStrategy[str]] = {
    "String": plain_text,
    "Numeric": st.integers(-5, 5).map(str),
    "Date": st.sampled_from(["2024-01-01T00:00:00Z", "1700000000", "2030-05-05"]),
    "Bool": st.sampled_from(["true", "false"]),
    "Binary": st.sampled_from(["QUJD", "", "AAEC"]),
    "Ip": st.sampled_from(["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]),
    "Arn": st.sampled_from(["arn:aws:kms:*:*:key/*", KEYS[0]]),
}
OPERATORS: dict[str, list[str]] = {
    "String": ["StringEquals", "StringNotEquals", "StringEqualsIgnoreCase",
               "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike"],
    "Numeric": ["NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericGreaterThanEquals"],
    "Date": ["DateEquals", "DateNotEquals", "DateLessThanEquals", "DateGreaterThan"],
    "Bool": ["Bool"],
    "Binary": ["BinaryEquals"],
    "Ip": ["IpAddress", "NotIpAddress"],
    "Arn": ["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"],
}  # fmt: skip


@st.composite
def typed_conditions(draw: st.DrawFn, prefix: str = "", suffix: str = "") -> Condition:
    family = draw(st.sampled_from(sorted(OPERATORS)))
    operator = prefix + draw(st.sampled_from(OPERATORS[family])) + suffix
    values = draw(st.lists(VALID_VALUES[family], min_size=1, max_size=3))
    (condition,) = parse_conditions({operator: {"k": values}}, variables=True)
    return condition


def contexts() -> st.SearchStrategy[dict[str, tuple[str, ...]]]:
    anything = st.one_of(*VALID_VALUES.values(), plain_text)
    return st.one_of(
        st.just({}), st.just({"k": ()}), st.lists(anything, max_size=3).map(lambda v: {"k": (*v,)})
    )


@FAST
@given(typed_conditions(prefix="ForAllValues:"), typed_conditions(prefix="ForAnyValue:"))
def test_set_operators_on_an_absent_key(for_all: Condition, for_any: Condition) -> None:
    for empty in ({}, {"k": ()}):
        assert for_all.holds(empty) is True
        assert for_any.holds(empty) is False


@FAST
@given(typed_conditions(), contexts())
def test_if_exists_is_true_when_absent_and_plain_otherwise(
    condition: Condition, context: dict[str, tuple[str, ...]]
) -> None:
    if_exists = Condition(condition.operator + "IfExists", condition.key, condition.values)
    if context.get("k"):
        assert if_exists.holds(context) is condition.holds(context)
    else:
        assert if_exists.holds(context) is True


@FAST
@given(typed_conditions(), contexts())
def test_negated_operator_is_the_negation_of_its_twin(
    condition: Condition, context: dict[str, tuple[str, ...]]
) -> None:
    name = condition.operator
    twins = {"NotIpAddress": "IpAddress"}
    positive = twins.get(name, name.replace("Not", "", 1))
    if positive == name:  # not a negated operator
        return
    twin = Condition(positive, condition.key, condition.values)
    assert condition.holds(context) is (not twin.holds(context))


@FAST
@given(st.sampled_from([["true"], ["false"], ["true", "false"]]), contexts())
def test_null_true_holds_iff_the_key_is_absent(
    values: list[str], context: dict[str, tuple[str, ...]]
) -> None:
    condition = Condition("Null", "k", tuple(values))
    absent = not context.get("k")
    expected = ("true" in values and absent) or ("false" in values and not absent)
    assert condition.holds(context) is expected


# --- the linear-time glob against a regex reference ------------------------------------------


def _reference(pattern: str) -> re.Pattern[str]:
    source = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(source, re.DOTALL)


@FAST
@given(st.text("ab*?:", max_size=8), st.lists(st.text("ab:\n", max_size=10), max_size=5))
def test_glob_agrees_with_a_regex(pattern: str, values: list[str]) -> None:
    glob = Glob(static(tokenize(pattern, variables=False)))
    reference = _reference(pattern)
    for value in values:
        assert glob.matches(value) is (reference.fullmatch(value) is not None), value
