"""Condition operators, set prefixes, IfExists, Null and policy variables."""

from __future__ import annotations

import pytest

from strongroom.kms.domain.conditions import Condition, parse_conditions
from strongroom.kms.domain.policy_patterns import UnresolvedVariableError
from strongroom.kms.errors import MalformedPolicyDocumentException

Ctx = dict[str, tuple[str, ...]]


def holds(
    operator: str, key: str, values: object, context: Ctx, *, variables: bool = False
) -> bool:
    (condition,) = parse_conditions({operator: {key: values}}, variables=variables)
    return condition.holds(context)


K = "kms:test"


def one(value: str) -> Ctx:
    return {K: (value,)}


ABSENT: Ctx = {}


# --- strings ------------------------------------------------------------------------------


def test_string_equals() -> None:
    assert holds("StringEquals", K, "a", one("a")) is True
    assert holds("StringEquals", K, "a", one("A")) is False
    assert holds("StringEquals", K, "a", one("ab")) is False
    assert holds("StringEquals", K, ["x", "a"], one("a")) is True  # values are ORed
    assert holds("StringEquals", K, "a*", one("abc")) is False  # no wildcards
    assert holds("StringEquals", K, "a*", one("a*")) is True
    assert holds("StringEquals", K, "a", ABSENT) is False


def test_string_not_equals_is_nor_and_true_when_absent() -> None:
    assert holds("StringNotEquals", K, "a", one("b")) is True
    assert holds("StringNotEquals", K, "a", one("a")) is False
    assert holds("StringNotEquals", K, ["a", "b"], one("b")) is False
    assert holds("StringNotEquals", K, ["a", "b"], one("c")) is True
    assert holds("StringNotEquals", K, "a", ABSENT) is True


def test_string_ignore_case() -> None:
    assert holds("StringEqualsIgnoreCase", K, "Alpha", one("aLPHA")) is True
    assert holds("StringEqualsIgnoreCase", K, "Alpha", one("alphas")) is False
    assert holds("StringEqualsIgnoreCase", K, "Straße", one("STRASSE")) is True  # casefold
    assert holds("StringEqualsIgnoreCase", K, "a", ABSENT) is False
    assert holds("StringNotEqualsIgnoreCase", K, "Alpha", one("ALPHA")) is False
    assert holds("StringNotEqualsIgnoreCase", K, "Alpha", one("beta")) is True
    assert holds("StringNotEqualsIgnoreCase", K, "Alpha", ABSENT) is True


def test_string_like() -> None:
    assert holds("StringLike", K, "app/*", one("app/x/y")) is True
    assert holds("StringLike", K, "app/*", one("App/x")) is False  # case-sensitive
    assert holds("StringLike", K, "a?c", one("abc")) is True
    assert holds("StringLike", K, "a?c", one("abbc")) is False
    assert holds("StringLike", K, "*", one("")) is True
    assert holds("StringLike", K, "a*", one("a\nb")) is True  # * spans newlines
    assert holds("StringLike", K, "a.c", one("abc")) is False  # regex characters are literal
    assert holds("StringLike", K, ["x", "y*"], one("yes")) is True
    assert holds("StringLike", K, "*", ABSENT) is False
    assert holds("StringNotLike", K, "app/*", one("app/x")) is False
    assert holds("StringNotLike", K, "app/*", one("web/x")) is True
    assert holds("StringNotLike", K, "app/*", ABSENT) is True


@pytest.mark.timeout(5)
def test_globs_do_not_backtrack() -> None:
    # as a regex, a.*a.*a.*...b on "aaaa..." takes polynomial time; the glob is linear
    pattern = "a*" * 12 + "b"
    assert holds("StringLike", K, pattern, one("a" * 20_000)) is False
    assert holds("StringLike", K, pattern, one("a" * 20_000 + "b")) is True
    arn = "arn:aws:kms:*:*:" + "a*" * 12 + "b"
    assert holds("ArnLike", K, arn, one("arn:aws:kms:r:1:" + "a" * 20_000)) is False


# --- numbers and dates --------------------------------------------------------------------

NUMERIC = [
    ("NumericEquals", "10", "10.0", True),
    ("NumericEquals", "10", "11", False),
    ("NumericNotEquals", "10", "11", True),
    ("NumericNotEquals", "10", "1e1", False),
    ("NumericLessThan", "10", "9.5", True),
    ("NumericLessThan", "10", "10", False),
    ("NumericLessThanEquals", "10", "10", True),
    ("NumericLessThanEquals", "10", "10.01", False),
    ("NumericGreaterThan", "10", "-11", False),
    ("NumericGreaterThan", "-10", "-9", True),
    ("NumericGreaterThanEquals", "7", "7", True),
    ("NumericGreaterThanEquals", "7", "6", False),
    ("NumericEquals", "10", "ten", False),  # unparseable request value matches nothing
    ("NumericNotEquals", "10", "ten", True),
]


@pytest.mark.parametrize(("operator", "policy", "request_value", "expected"), NUMERIC)
def test_numeric(operator: str, policy: str, request_value: str, expected: bool) -> None:
    assert holds(operator, K, policy, one(request_value)) is expected


def test_numeric_absent_and_json_numbers() -> None:
    assert holds("NumericLessThan", K, 30, one("7")) is True
    assert holds("NumericLessThan", K, 7.5, one("7")) is True
    assert holds("NumericLessThan", K, "30", ABSENT) is False
    assert holds("NumericNotEquals", K, "30", ABSENT) is True


DATES = [
    ("DateEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00+00:00", True),
    ("DateEquals", "2024-01-01T00:00:00Z", "1704067200", True),  # epoch seconds
    ("DateEquals", "1704067200", "2024-01-01T01:00:00+01:00", True),
    ("DateEquals", "2024-01-01", "2024-01-01T00:00:00Z", True),  # naive means UTC
    ("DateNotEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z", True),
    ("DateNotEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", False),
    ("DateLessThan", "2024-01-01T00:00:00Z", "2023-12-31T23:59:59Z", True),
    ("DateLessThan", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", False),
    ("DateLessThanEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", True),
    ("DateGreaterThan", "2024-01-01T00:00:00Z", "2024-06-01T00:00:00.5Z", True),
    ("DateGreaterThan", "2024-01-01T00:00:00Z", "2023-06-01T00:00:00Z", False),
    ("DateGreaterThanEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", True),
    ("DateGreaterThanEquals", "2024-01-01T00:00:00Z", "yesterday", False),
]


@pytest.mark.parametrize(("operator", "policy", "request_value", "expected"), DATES)
def test_dates(operator: str, policy: str, request_value: str, expected: bool) -> None:
    assert holds(operator, K, policy, one(request_value)) is expected


def test_date_absent() -> None:
    assert holds("DateLessThan", K, "2024-01-01T00:00:00Z", ABSENT) is False
    assert holds("DateNotEquals", K, "2024-01-01T00:00:00Z", ABSENT) is True


# --- Bool, Binary, IP, ARN, Null ----------------------------------------------------------


def test_bool() -> None:
    assert holds("Bool", K, "true", one("true")) is True
    assert holds("Bool", K, "True", one("true")) is True
    assert holds("Bool", K, True, one("true")) is True  # JSON boolean in the policy
    assert holds("Bool", K, False, one("true")) is False
    assert holds("Bool", K, "false", one("false")) is True
    assert holds("Bool", K, "true", ABSENT) is False


def test_binary_equals() -> None:
    assert holds("BinaryEquals", K, "QUJD", one("QUJD")) is True
    assert holds("BinaryEquals", K, "QUJD", one("QUJE")) is False
    assert holds("BinaryEquals", K, "QUJD", one("not base64!")) is False
    assert holds("BinaryEquals", K, "QUJD", ABSENT) is False


def test_ip_address() -> None:
    assert holds("IpAddress", K, "203.0.113.0/24", one("203.0.113.7")) is True
    assert holds("IpAddress", K, "203.0.113.0/24", one("203.0.114.7")) is False
    assert holds("IpAddress", K, "203.0.113.9", one("203.0.113.9")) is True
    assert holds("IpAddress", K, ["10.0.0.0/8", "2001:db8::/32"], one("2001:db8::1")) is True
    assert holds("IpAddress", K, "10.0.0.0/8", one("::ffff:10.0.0.1")) is False
    assert holds("IpAddress", K, "10.0.0.0/8", one("not-an-ip")) is False
    assert holds("IpAddress", K, "10.0.0.0/8", ABSENT) is False
    assert holds("NotIpAddress", K, "10.0.0.0/8", one("10.1.2.3")) is False
    assert holds("NotIpAddress", K, "10.0.0.0/8", one("192.168.0.1")) is True
    assert holds("NotIpAddress", K, "10.0.0.0/8", ABSENT) is True


KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd"


def test_arn_operators_are_segment_wise() -> None:
    pattern = "arn:aws:kms:*:111122223333:key/*"
    for operator in ("ArnLike", "ArnEquals"):  # both take wildcards in AWS
        assert holds(operator, K, pattern, one(KEY_ARN)) is True
        assert holds(operator, K, pattern, one(KEY_ARN.replace("1111", "9999"))) is False
        assert holds(operator, K, KEY_ARN, one(KEY_ARN)) is True
        assert holds(operator, K, pattern, ABSENT) is False
    # a wildcard in the first five segments does not cross ':' (StringLike would)
    wide = "arn:aws:kms:*:*:key/x"
    odd = "arn:aws:kms:us:east:111122223333:key/x"
    assert holds("ArnLike", K, wide, one(odd)) is False
    assert holds("StringLike", K, wide, one(odd)) is True
    assert holds("ArnLike", K, "arn:aws:kms:u?-east-1:*:key/*", one(KEY_ARN)) is True
    # in the sixth segment it does
    assert holds("ArnLike", K, "arn:aws:logs:*:*:log-group:*", one(
        "arn:aws:logs:eu-west-1:111122223333:log-group:app:stream")) is True  # fmt: skip
    assert holds("ArnLike", K, pattern, one("arn:aws:kms")) is False
    assert holds("ArnNotLike", K, pattern, one(KEY_ARN)) is False
    assert holds("ArnNotLike", K, pattern, one("arn:aws:kms:us-east-1:444455556666:key/1"))
    assert holds("ArnNotEquals", K, KEY_ARN, one(KEY_ARN)) is False
    assert holds("ArnNotEquals", K, KEY_ARN, ABSENT) is True


def test_null() -> None:
    assert holds("Null", K, "true", ABSENT) is True
    assert holds("Null", K, "true", one("x")) is False
    assert holds("Null", K, "false", one("x")) is True
    assert holds("Null", K, "false", ABSENT) is False
    assert holds("Null", K, True, {K: ()}) is True  # an empty tuple is an absent key
    assert holds("Null", K, ["true", "false"], ABSENT) is True


# --- IfExists, set prefixes, multi-valued keys ---------------------------------------------


def test_if_exists() -> None:
    assert holds("StringEqualsIfExists", K, "a", ABSENT) is True
    assert holds("StringEqualsIfExists", K, "a", one("a")) is True
    assert holds("StringEqualsIfExists", K, "a", one("b")) is False
    assert holds("NumericLessThanIfExists", K, "5", one("6")) is False
    assert holds("StringNotEqualsIfExists", K, "a", ABSENT) is True
    assert holds("StringNotEqualsIfExists", K, "a", one("a")) is False
    assert holds("ForAnyValue:StringEqualsIfExists", K, "a", ABSENT) is True


CTX_KEYS = "kms:EncryptionContextKeys"
LOWER = CTX_KEYS.lower()


def keys(*names: str) -> Ctx:
    return {LOWER: names}


def test_for_all_values() -> None:
    allowed = ["Tenant", "Purpose"]
    assert holds("ForAllValues:StringEquals", CTX_KEYS, allowed, keys("Tenant")) is True
    assert holds("ForAllValues:StringEquals", CTX_KEYS, allowed, keys("Tenant", "Purpose"))
    assert holds("ForAllValues:StringEquals", CTX_KEYS, allowed, keys("Tenant", "Extra")) is False
    assert holds("ForAllValues:StringEquals", CTX_KEYS, allowed, ABSENT) is True
    assert holds("ForAllValues:StringEquals", CTX_KEYS, allowed, {LOWER: ()}) is True
    assert holds("ForAllValues:StringLike", CTX_KEYS, "T*", keys("Tenant", "Team")) is True


def test_for_any_value() -> None:
    wanted = ["Tenant", "Purpose"]
    assert holds("ForAnyValue:StringEquals", CTX_KEYS, wanted, keys("Other", "Tenant")) is True
    assert holds("ForAnyValue:StringEquals", CTX_KEYS, wanted, keys("Other")) is False
    assert holds("ForAnyValue:StringEquals", CTX_KEYS, wanted, ABSENT) is False
    assert holds("ForAnyValue:StringEquals", CTX_KEYS, wanted, {LOWER: ()}) is False


def test_set_prefixes_with_negated_operators() -> None:
    # every request value matches none of the policy values
    assert holds("ForAllValues:StringNotEquals", CTX_KEYS, "Secret", keys("a", "b")) is True
    assert holds("ForAllValues:StringNotEquals", CTX_KEYS, "Secret", keys("a", "Secret")) is False
    assert holds("ForAllValues:StringNotEquals", CTX_KEYS, "Secret", ABSENT) is True
    # some request value matches none of the policy values
    assert holds("ForAnyValue:StringNotLike", CTX_KEYS, "S*", keys("Sa", "b")) is True
    assert holds("ForAnyValue:StringNotLike", CTX_KEYS, "S*", keys("Sa", "Sb")) is False
    assert holds("ForAnyValue:StringNotLike", CTX_KEYS, "S*", ABSENT) is False


def test_multi_valued_key_without_set_prefix() -> None:
    # positive: like ForAnyValue; negated: no request value matches
    assert holds("StringEquals", CTX_KEYS, "Tenant", keys("Other", "Tenant")) is True
    assert holds("StringEquals", CTX_KEYS, "Tenant", keys("Other", "More")) is False
    assert holds("StringNotEquals", CTX_KEYS, "Tenant", keys("Other", "Tenant")) is False
    assert holds("StringNotEquals", CTX_KEYS, "Tenant", keys("Other", "More")) is True


def test_keys_are_case_insensitive_and_lower_cased() -> None:
    (condition,) = parse_conditions(
        {"stringequals": {"kms:EncryptionContext:Tenant": "acme"}}, variables=False
    )
    assert condition == Condition("StringEquals", "kms:encryptioncontext:tenant", ("acme",))
    assert condition.operator == "StringEquals"
    assert condition.key == "kms:encryptioncontext:tenant"
    assert condition.holds({"kms:encryptioncontext:tenant": ("acme",)}) is True
    assert condition.holds({"kms:EncryptionContext:Tenant": ("acme",)}) is False  # caller folds


def test_canonical_operator_names() -> None:
    (condition,) = parse_conditions({"foranyvalue:stringlikeifexists": {K: "x"}}, variables=False)
    assert condition.operator == "ForAnyValue:StringLikeIfExists"


def test_several_operators_and_keys_are_anded() -> None:
    block = {
        "StringEquals": {"kms:a": "1", "kms:b": "2"},
        "Bool": {"kms:c": "true"},
    }
    conditions = parse_conditions(block, variables=False)
    assert [c.key for c in conditions] == ["kms:a", "kms:b", "kms:c"]
    full: Ctx = {"kms:a": ("1",), "kms:b": ("2",), "kms:c": ("true",)}
    assert all(c.holds(full) for c in conditions)
    assert [c.holds({**full, "kms:b": ("3",)}) for c in conditions] == [True, False, True]


# --- policy variables ------------------------------------------------------------------------


def test_variables_in_string_conditions() -> None:
    ec = "kms:EncryptionContext:user"
    ctx: Ctx = {"kms:encryptioncontext:user": ("alice",), "aws:username": ("alice",)}
    assert holds("StringEquals", ec, "${aws:username}", ctx, variables=True) is True
    assert holds("StringEquals", ec, "${aws:UserName}", ctx, variables=True) is True
    assert holds("StringEquals", ec, "${aws:username}", ctx, variables=False) is False
    other = {**ctx, "aws:username": ("bob",)}
    assert holds("StringEquals", ec, "${aws:username}", other, variables=True) is False
    assert holds("StringNotEquals", ec, "${aws:username}", other, variables=True) is True
    assert holds("StringEquals", ec, ["x", "${aws:username}"], ctx, variables=True) is True


def test_variable_defaults_and_unresolved_variables() -> None:
    ctx: Ctx = {K: ("guest",)}
    assert holds("StringEquals", K, "${aws:username, 'guest'}", ctx, variables=True) is True
    assert holds("StringEquals", K, "${aws:username,'it''s'}", one("it's"), variables=True)
    with pytest.raises(UnresolvedVariableError):
        holds("StringEquals", K, "${aws:username}", ctx, variables=True)
    with pytest.raises(UnresolvedVariableError):  # multi-valued keys are not variables
        holds("StringEquals", K, "${kms:x}", {**ctx, "kms:x": ("a", "b")}, variables=True)
    # an absent condition key decides before any variable is needed
    assert holds("StringEqualsIfExists", K, "${aws:username}", ABSENT, variables=True) is True


def test_variable_values_and_escapes_are_literal_in_patterns() -> None:
    ctx: Ctx = {"aws:username": ("a*",), K: ("abc",)}
    assert holds("StringLike", K, "${aws:username}", ctx, variables=True) is False
    assert holds("StringLike", K, "${aws:username}", {**ctx, K: ("a*",)}, variables=True)
    assert holds("StringLike", K, "${*}", one("*"), variables=True) is True
    assert holds("StringLike", K, "${*}", one("x"), variables=True) is False
    assert holds("StringEquals", K, "${$}{x}", one("${x}"), variables=True) is True
    assert holds("StringLike", K, "${*}", one("x"), variables=False) is False
    assert holds("StringLike", K, "${*}", one("${*}"), variables=False) is True


def test_variables_in_arn_conditions() -> None:
    ctx: Ctx = {"aws:principalaccount": ("111122223333",), K: (KEY_ARN,)}
    pattern = "arn:aws:kms:*:${aws:PrincipalAccount}:key/*"
    assert holds("ArnLike", K, pattern, ctx, variables=True) is True
    other = {**ctx, "aws:principalaccount": ("444455556666",)}
    assert holds("ArnLike", K, pattern, other, variables=True) is False


def test_variables_are_literal_in_typed_operators() -> None:
    (condition,) = parse_conditions({"IpAddress": {K: "10.0.0.0/8"}}, variables=True)
    assert condition.holds(one("10.0.0.1")) is True
    with pytest.raises(MalformedPolicyDocumentException):
        parse_conditions({"NumericEquals": {K: "${aws:x}"}}, variables=True)


# --- malformed ----------------------------------------------------------------------------

MALFORMED: list[tuple[object, str]] = [
    ([], "Condition must be an object mapping condition operators to condition keys."),
    ({"StringEquals": "x"},
     "Condition operator 'StringEquals' must map to an object of condition keys."),
    ({"StringEqual": {K: "x"}}, "Unknown condition operator 'StringEqual'."),
    ({"ForSomeValues:StringEquals": {K: "x"}},
     "Unknown condition operator 'ForSomeValues:StringEquals'."),
    ({"NullIfExists": {K: "true"}}, "Unknown condition operator 'NullIfExists'."),
    ({"ForAllValues:ForAnyValue:StringEquals": {K: "x"}},
     "Unknown condition operator 'ForAllValues:ForAnyValue:StringEquals'."),
    ({"IfExists": {K: "x"}}, "Unknown condition operator 'IfExists'."),
    ({"ForAnyValue:Null": {K: "true"}}, "Unknown condition operator 'ForAnyValue:Null'."),
    ({"StringEqualsIfExistsIfExists": {K: "x"}},
     "Unknown condition operator 'StringEqualsIfExistsIfExists'."),
    ({"StringEquals": {"": "x"}}, "Condition operator 'StringEquals' has an empty condition key."),
    ({"StringEquals": {K: []}}, "Condition key 'kms:test' under 'StringEquals' has no values."),
    ({"StringEquals": {K: [["x"]]}},
     "Condition values for key 'kms:test' under 'StringEquals' must be strings, numbers, "
     "booleans or a list of them."),
    ({"StringEquals": {K: None}},
     "Condition values for key 'kms:test' under 'StringEquals' must be strings, numbers, "
     "booleans or a list of them."),
    ({"StringEquals": {K: {"a": "b"}}},
     "Condition values for key 'kms:test' under 'StringEquals' must be strings, numbers, "
     "booleans or a list of them."),
    ({"NumericEquals": {K: "NaN"}},
     "Condition operator 'NumericEquals' requires a number for key 'kms:test', not 'NaN'."),
    ({"DateLessThan": {K: "tomorrow"}},
     "Condition operator 'DateLessThan' requires a date (ISO 8601 or epoch seconds) for key "
     "'kms:test', not 'tomorrow'."),
    ({"Bool": {K: "yes"}}, "Condition operator 'Bool' requires 'true' or 'false' for key "
     "'kms:test', not 'yes'."),
    ({"Null": {K: "1"}}, "Condition operator 'Null' requires 'true' or 'false' for key "
     "'kms:test', not '1'."),
    ({"BinaryEquals": {K: "***"}},
     "Condition operator 'BinaryEquals' requires base64 for key 'kms:test', not '***'."),
    ({"IpAddress": {K: "10.0.0.0/33"}}, "Condition operator 'IpAddress' requires an IP address "
     "or CIDR block for key 'kms:test', not '10.0.0.0/33'."),
    ({"ArnLike": {K: "arn:aws:kms:*"}},
     "Condition operator 'ArnLike' requires an ARN for key 'kms:test', not 'arn:aws:kms:*'."),
]  # fmt: skip


@pytest.mark.parametrize(("block", "message"), MALFORMED)
def test_malformed_conditions(block: object, message: str) -> None:
    with pytest.raises(MalformedPolicyDocumentException) as err:
        parse_conditions(block, variables=True)
    assert err.value.message == message
