"""Parsing and validating key policies and identity policies."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from strongroom.kms.domain.conditions import Condition
from strongroom.kms.domain.policy import (
    INVALID_PRINCIPALS,
    PolicyDocument,
    Principals,
    Statement,
    parse_policy,
)
from strongroom.kms.domain.policy_patterns import Patterns
from strongroom.kms.errors import MalformedPolicyDocumentException

ACCOUNT = "111122223333"

# What CreateKey installs when no Policy is given.
DEFAULT_KEY_POLICY = """{
  "Version": "2012-10-17",
  "Id": "key-default-1",
  "Statement": [
    {
      "Sid": "Enable IAM User Permissions",
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
      "Action": "kms:*",
      "Resource": "*"
    }
  ]
}"""

# What the AWS console writes with key administrators and key users chosen.
CONSOLE_KEY_POLICY = """{
  "Id": "key-consolepolicy-3",
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Enable IAM User Permissions",
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
      "Action": "kms:*",
      "Resource": "*"
    },
    {
      "Sid": "Allow access for Key Administrators",
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::111122223333:role/KeyAdmin"},
      "Action": [
        "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*",
        "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*",
        "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",
        "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand"
      ],
      "Resource": "*"
    },
    {
      "Sid": "Allow use of the key",
      "Effect": "Allow",
      "Principal": {"AWS": [
        "arn:aws:iam::111122223333:role/KeyUser",
        "arn:aws:iam::111122223333:user/division/alice"
      ]},
      "Action": [
        "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
        "kms:DescribeKey"
      ],
      "Resource": "*"
    },
    {
      "Sid": "Allow attachment of persistent resources",
      "Effect": "Allow",
      "Principal": {"AWS": [
        "arn:aws:iam::111122223333:role/KeyUser",
        "arn:aws:iam::111122223333:user/division/alice"
      ]},
      "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
      "Resource": "*",
      "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    }
  ]
}"""


def _key_policy(*statements: Mapping[str, object], version: str | None = "2012-10-17") -> str:
    doc: dict[str, object] = {"Statement": list(statements)}
    if version is not None:
        doc["Version"] = version
    return json.dumps(doc)


def _allow_root(**extra: object) -> dict[str, object]:
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    statement.update(extra)
    return statement


def test_default_key_policy() -> None:
    doc = parse_policy(DEFAULT_KEY_POLICY, key_policy=True)
    assert doc == PolicyDocument(
        statements=(
            Statement(
                sid="Enable IAM User Permissions",
                effect="Allow",
                principal=Principals(aws=("arn:aws:iam::111122223333:root",)),
                action=Patterns(("kms:*",), ignore_case=True),
                resource=Patterns(("*",), variables=True),
            ),
        ),
        version="2012-10-17",
        policy_id="key-default-1",
    )
    assert doc.principal_arns() == frozenset({"arn:aws:iam::111122223333:root"})


def test_console_key_policy() -> None:
    doc = parse_policy(CONSOLE_KEY_POLICY, key_policy=True)
    assert [s.sid for s in doc.statements] == [
        "Enable IAM User Permissions",
        "Allow access for Key Administrators",
        "Allow use of the key",
        "Allow attachment of persistent resources",
    ]
    assert doc.policy_id == "key-consolepolicy-3"
    assert doc.statements[3].conditions == (
        Condition("Bool", "kms:grantisforawsresource", ("true",), variables=True),
    )
    assert doc.statements[2].principal == Principals(
        aws=(
            "arn:aws:iam::111122223333:role/KeyUser",
            "arn:aws:iam::111122223333:user/division/alice",
        )
    )
    assert doc.principal_arns() == frozenset(
        {
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:role/KeyAdmin",
            "arn:aws:iam::111122223333:role/KeyUser",
            "arn:aws:iam::111122223333:user/division/alice",
        }
    )


def test_single_statement_object_and_missing_version() -> None:
    text = json.dumps({"Statement": _allow_root(Sid="x")})
    doc = parse_policy(text, key_policy=True)
    assert doc.version is None
    assert len(doc.statements) == 1
    assert doc.statements[0].resource == Patterns(("*",), variables=False)


def test_2008_version_is_accepted() -> None:
    doc = parse_policy(_key_policy(_allow_root(), version="2008-10-17"), key_policy=True)
    assert doc.version == "2008-10-17"


def test_principal_forms() -> None:
    statements = [
        _allow_root(Principal="*"),
        _allow_root(Principal={"AWS": "*"}),
        _allow_root(Principal={"AWS": "444455556666"}),
        _allow_root(Principal={"AWS": ["arn:aws:iam::444455556666:role/path/to/R", "*"]}),
        _allow_root(Principal={"Service": "s3.amazonaws.com"}),
        _allow_root(Principal={"Federated": "cognito-identity.amazonaws.com"}),
        _allow_root(Principal={"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}),
        _allow_root(NotPrincipal={"AWS": "arn:aws:iam::777788889999:user/bob"}, Principal=None),
    ]
    del statements[-1]["Principal"]
    doc = parse_policy(_key_policy(*statements), key_policy=True)
    assert [s.principal for s in doc.statements[:7]] == [
        Principals(aws=("*",)),
        Principals(aws=("*",)),
        Principals(aws=("444455556666",)),
        Principals(aws=("arn:aws:iam::444455556666:role/path/to/R", "*")),
        Principals(service=("s3.amazonaws.com",)),
        Principals(federated=("cognito-identity.amazonaws.com",)),
        Principals(canonical_user=("79a59df900b949e55d96a1e698fbaced",)),
    ]
    assert doc.statements[7].not_principal == Principals(
        aws=("arn:aws:iam::777788889999:user/bob",)
    )
    assert doc.principal_arns() == frozenset(
        {
            "444455556666",
            "arn:aws:iam::444455556666:role/path/to/R",
            "arn:aws:iam::777788889999:user/bob",
        }
    )


def test_identity_policy() -> None:
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "UseKeys1", "Effect": "Allow", "Action": ["kms:Encrypt"], "Resource": "*"},
                {"Effect": "Deny", "NotAction": "kms:Decrypt", "NotResource": "arn:aws:kms:*"
                 ":111122223333:key/*"},
            ],
        }
    )  # fmt: skip
    doc = parse_policy(text, key_policy=False)
    assert doc.statements[0].principal is None
    assert doc.statements[1].not_action == Patterns(("kms:Decrypt",), ignore_case=True)
    assert doc.statements[1].not_resource == Patterns(
        ("arn:aws:kms:*:111122223333:key/*",), variables=True
    )
    assert doc.principal_arns() == frozenset()


def test_statement_without_action_or_resource_is_accepted() -> None:
    doc = parse_policy(_key_policy({"Effect": "Allow", "Principal": "*"}), key_policy=True)
    assert doc.statements[0].action is None
    assert doc.statements[0].not_action is None
    assert doc.statements[0].resource is None


def test_key_policy_sid_may_contain_spaces_identity_sid_may_not() -> None:
    parse_policy(_key_policy(_allow_root(Sid="Allow use of the key")), key_policy=True)
    text = json.dumps({"Statement": {"Sid": "Has space", "Effect": "Allow", "Action": "*"}})
    with pytest.raises(MalformedPolicyDocumentException) as err:
        parse_policy(text, key_policy=False)
    assert err.value.message == (
        "Policy statement 1: Sid 'Has space' must contain only letters and digits."
    )


def _rejects(text: str, message: str, *, key_policy: bool = True) -> None:
    with pytest.raises(MalformedPolicyDocumentException) as err:
        parse_policy(text, key_policy=key_policy)
    assert err.value.message == message


MALFORMED = [
    ("{", "Policy is not valid JSON."),
    ("", "Policy is not valid JSON."),
    ('{"Statement": [], "Statement": []}', "Policy contains a duplicate JSON member 'Statement'."),
    ('{"Version": NaN, "Statement": []}', "Policy is not valid JSON."),
    ("[" * 100_000 + "]" * 100_000, "Policy is not valid JSON."),
    ("[]", "Policy must be a JSON object."),
    ('"text"', "Policy must be a JSON object."),
    (json.dumps({"Version": "2012-10-17"}), "Policy must contain a Statement."),
    (json.dumps({"Statement": []}),
     "Policy Statement must be a statement object or a non-empty list of them."),
    (json.dumps({"Statement": "x"}),
     "Policy Statement must be a statement object or a non-empty list of them."),
    (json.dumps({"Statement": [1]}), "Policy statement 1: a statement must be a JSON object."),
    (json.dumps({"Statement": [_allow_root()], "Extra": 1}),
     "Policy contains an unsupported element 'Extra'."),
    (json.dumps({"Statement": [_allow_root()], "Version": "2012-10-18"}),
     "Policy has an unsupported Version \"2012-10-18\"; use '2012-10-17' or '2008-10-17'."),
    (json.dumps({"Statement": [_allow_root()], "Version": 2012}),
     "Policy has an unsupported Version 2012; use '2012-10-17' or '2008-10-17'."),
    (json.dumps({"Statement": [_allow_root()], "Id": 7}), "Policy Id must be a string."),
    (_key_policy(_allow_root(), _allow_root(Effect="allow")),
     "Policy statement 2: Effect must be 'Allow' or 'Deny', not \"allow\"."),
    (_key_policy({"Principal": "*", "Action": "*"}), "Policy statement 1: Effect is required."),
    (_key_policy(_allow_root(Actions="kms:*")),
     "Policy statement 1: unsupported element 'Actions'."),
    (_key_policy(_allow_root(Sid=3)), "Policy statement 1: Sid must be a string."),
    (_key_policy(_allow_root(Sid="a"), _allow_root(Sid="a")),
     "Statement IDs (SID) in a single policy must be unique: 'a'."),
    (_key_policy({"Effect": "Allow", "Action": "*", "Resource": "*"}),
     "Policy statement 1: a key policy statement must have a Principal or NotPrincipal."),
    (_key_policy(_allow_root(NotPrincipal={"AWS": "*"})),
     "Policy statement 1: Principal and NotPrincipal cannot both be present."),
    (_key_policy(_allow_root(NotAction="kms:Encrypt")),
     "Policy statement 1: Action and NotAction cannot both be present."),
    (_key_policy(_allow_root(NotResource="*")),
     "Policy statement 1: Resource and NotResource cannot both be present."),
    (_key_policy(_allow_root(Action=[])),
     "Policy statement 1: Action must be a string or a non-empty list of strings."),
    (_key_policy(_allow_root(Action=["kms:Encrypt", 3])),
     "Policy statement 1: Action must be a string or a non-empty list of strings."),
    (_key_policy(_allow_root(Action="Encrypt")),
     "Policy statement 1: invalid action 'Encrypt'; an action is '*' or '<service>:<name>', "
     "for example 'kms:Encrypt'."),
    (_key_policy(_allow_root(Resource="key/1")),
     "Policy statement 1: invalid resource 'key/1'; a resource is '*' or an ARN."),
    (_key_policy(_allow_root(Resource={"a": 1})),
     "Policy statement 1: Resource must be a string or a non-empty list of strings."),
    (_key_policy(_allow_root(Condition={"StringEqual": {"aws:username": "x"}})),
     "Policy statement 1: Unknown condition operator 'StringEqual'."),
    (_key_policy(_allow_root(Condition=[])),
     "Policy statement 1: Condition must be an object mapping condition operators to "
     "condition keys."),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_documents_are_rejected(text: str, message: str) -> None:
    _rejects(text, message)


BAD_PRINCIPALS: list[object] = [
    "arn:aws:iam::111122223333:root",  # a bare string other than "*"
    {},
    {"AWS": []},
    {"AWS": 111122223333},
    {"AWS": "11112222333"},  # 11 digits
    {"AWS": "arn:aws:iam::111122223333:user/"},
    {"AWS": "arn:aws:iam::111122223333:user/a//b"},
    {"AWS": "arn:aws:iam::111122223333:group/admins"},
    {"AWS": "arn:aws:iam::111122223333:user/*"},
    {"AWS": "arn:aws:iam::*:root"},
    {"AWS": "arn:aws:sts::111122223333:root"},
    {"AWS": "arn:aws-cn:iam::111122223333:root"},
    {"AWS": "arn:aws:iam::111122223333:root "},
    {"AWS": "alice"},
    {"Service": ""},
    {"Users": "arn:aws:iam::111122223333:root"},
]


@pytest.mark.parametrize("principal", BAD_PRINCIPALS)
def test_invalid_principals(principal: object) -> None:
    _rejects(_key_policy(_allow_root(Principal=principal)), INVALID_PRINCIPALS)
    statement = _allow_root(NotPrincipal=principal)
    del statement["Principal"]
    _rejects(_key_policy(statement), INVALID_PRINCIPALS)


def test_identity_policy_must_not_name_principals() -> None:
    for member in ("Principal", "NotPrincipal"):
        statement = {"Effect": "Allow", member: "*", "Action": "kms:*", "Resource": "*"}
        _rejects(
            _key_policy(statement),
            "Policy document should not specify a principal.",
            key_policy=False,
        )


def test_duplicate_members_are_rejected_at_any_depth() -> None:
    text = (
        '{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",'
        ' "Condition": {"Bool": {"aws:SecureTransport": "true", "aws:SecureTransport": "false"}}}}'
    )
    _rejects(text, "Policy contains a duplicate JSON member 'aws:SecureTransport'.")


def test_condition_errors_name_the_statement() -> None:
    bad_number = _allow_root(Condition={"NumericLessThan": {"kms:x": "ten"}})
    _rejects(
        _key_policy(_allow_root(), bad_number),
        "Policy statement 2: Condition operator 'NumericLessThan' requires a number for key "
        "'kms:x', not 'ten'.",
    )


def test_variables_only_in_2012_version() -> None:
    resource = "arn:aws:kms:*:111122223333:key/${aws:username}"
    doc12 = parse_policy(_key_policy(_allow_root(Resource=resource)), key_policy=True)
    doc08 = parse_policy(
        _key_policy(_allow_root(Resource=resource), version="2008-10-17"), key_policy=True
    )
    assert doc12.statements[0].resource == Patterns((resource,), variables=True)
    assert doc08.statements[0].resource == Patterns((resource,), variables=False)


def test_patterns() -> None:
    actions = Patterns(("kms:Encrypt", "kms:Get*", "kms:?ecrypt", "KMS:List*"), ignore_case=True)
    assert [
        actions.matches(a)
        for a in ("KMS:ENCRYPT", "kms:getkeypolicy", "kms:Decrypt", "kms:ListKeys", "kms:Sign")
    ] == [True, True, True, True, False]
    resources = Patterns(("arn:aws:kms:*:111122223333:key/*", "arn:aws:kms:eu-west-1:1:key/k"))
    assert [
        resources.matches(r)
        for r in (
            "arn:aws:kms:us-east-1:111122223333:key/abc",
            "arn:aws:kms:us-east-1:111122223333:KEY/abc",
            "arn:aws:kms:eu-west-1:1:key/k",
            "arn:aws:kms:eu-west-1:1:key/k2",
        )
    ] == [True, False, True, False]
    assert Patterns(("*",)).matches("anything") is True
    assert Patterns(("a*b",)).matches("a\nb") is True
