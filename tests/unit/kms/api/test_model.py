"""Request decoding and validation derived from botocore's KMS service model."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest

from strongroom.kms.api.model import ServiceModel
from strongroom.kms.errors import (
    SerializationException,
    UnknownOperationException,
    ValidationException,
)

BOTOCORE_KMS = botocore.session.get_session().get_service_model("kms")
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode(operation: str, body: Any) -> dict[str, object]:
    return ServiceModel.load().request_decoder(operation).decode(body)


def invalid(operation: str, body: Any) -> str:
    with pytest.raises(ValidationException) as caught:
        decode(operation, body)
    return caught.value.message


def unparsable(operation: str, body: Any) -> str:
    with pytest.raises(SerializationException) as caught:
        decode(operation, body)
    return caught.value.message


def enum_values(shape: str) -> str:
    return ", ".join(BOTOCORE_KMS.shape_for(shape).enum)


# --- the model ---------------------------------------------------------------------------


def test_operation_names_are_botocores() -> None:
    assert list(ServiceModel.load().operation_names) == BOTOCORE_KMS.operation_names


def test_error_codes_are_the_exception_shapes() -> None:
    codes = ServiceModel.load().error_codes
    assert {"NotFoundException", "KMSInvalidStateException"} <= codes
    assert codes == {shape.name for shape in BOTOCORE_KMS.error_shapes}
    assert len(codes) == len(BOTOCORE_KMS.error_shapes)


def test_model_and_decoders_are_cached() -> None:
    model = ServiceModel.load()
    assert ServiceModel.load() is model
    assert model.request_decoder("Encrypt") is model.request_decoder("Encrypt")


def test_unknown_operation() -> None:
    with pytest.raises(UnknownOperationException):
        ServiceModel.load().request_decoder("StealKey")


# --- conversions -------------------------------------------------------------------------


def test_encrypt_decodes_blobs_and_keeps_the_encryption_context() -> None:
    body = {
        "KeyId": KEY_ARN,
        "Plaintext": b64(b"\x00secret\xff"),
        "EncryptionContext": {"purpose": "test", "tenant": "t-42"},
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "DryRun": False,
    }
    assert decode("Encrypt", body) == {
        "KeyId": KEY_ARN,
        "Plaintext": b"\x00secret\xff",
        "EncryptionContext": {"purpose": "test", "tenant": "t-42"},
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "DryRun": False,
    }


def test_decode_returns_new_containers() -> None:
    context = {"purpose": "test"}
    tokens = ["t"]
    body = {
        "KeyId": "k",
        "Plaintext": b64(b"x"),
        "EncryptionContext": context,
        "GrantTokens": tokens,
    }
    out = decode("Encrypt", body)
    assert out is not body
    assert out["EncryptionContext"] == context
    assert out["EncryptionContext"] is not context
    assert out["GrantTokens"] == tokens
    assert out["GrantTokens"] is not tokens


def test_unknown_members_are_ignored_and_nulls_are_absent() -> None:
    body = {"KeyId": "k", "Plaintext": b64(b"x"), "Unknown": [1, {}], "GrantTokens": None}
    assert decode("Encrypt", body) == {"KeyId": "k", "Plaintext": b"x"}


def test_timestamps_become_utc_datetimes() -> None:
    body = {
        "KeyId": "k",
        "ImportToken": b64(b"t"),
        "EncryptedKeyMaterial": b64(b"m"),
        "ValidTo": 1700000000.5,
    }
    assert decode("ImportKeyMaterial", body)["ValidTo"] == datetime(
        2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC
    )


def test_list_of_structures_is_decoded() -> None:
    tags = [{"TagKey": "a", "TagValue": ""}, {"TagKey": "b", "TagValue": "2", "X": 1}]
    assert decode("TagResource", {"KeyId": "k", "Tags": tags}) == {
        "KeyId": "k",
        "Tags": [{"TagKey": "a", "TagValue": ""}, {"TagKey": "b", "TagValue": "2"}],
    }


# --- validation messages -----------------------------------------------------------------


def test_missing_key_id() -> None:
    assert invalid("Encrypt", {"Plaintext": b64(b"x")}) == (
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_null_required_member_is_missing() -> None:
    assert invalid("Encrypt", {"KeyId": None, "Plaintext": b64(b"x")}) == (
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_plaintext_too_long_is_not_echoed() -> None:
    text = b64(b"A" * 4097)
    message = invalid("Encrypt", {"KeyId": "k", "Plaintext": text})
    assert message == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )


def test_empty_plaintext() -> None:
    assert invalid("Encrypt", {"KeyId": "k", "Plaintext": ""}) == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("QUJ", "Base64 encoded length is expected a multiple of 4 bytes but found: 3"),
        ("QU*D", "Invalid Base64 character"),
        ("QU\nD", "Invalid Base64 character"),
        ("QUJD\n===", "Invalid Base64 character"),
        ("QQ==QUJD", "Invalid Base64 character"),
        ("QUJ-", "Invalid Base64 character"),  # the URL-safe alphabet is not accepted
        ("QUJé", "Invalid Base64 character"),
    ],
)
def test_bad_base64(text: str, reason: str) -> None:
    message = unparsable("Encrypt", {"KeyId": "k", "Plaintext": text})
    assert message == f"Value at 'plaintext' can not be converted to a Blob: {reason}"


@pytest.mark.parametrize(
    ("number", "constraint"),
    [
        (0, "Member must have value greater than or equal to 1"),
        (1025, "Member must have value less than or equal to 1024"),
    ],
)
def test_number_of_bytes_out_of_range(number: int, constraint: str) -> None:
    assert invalid("GenerateDataKey", {"KeyId": "k", "NumberOfBytes": number}) == (
        f"1 validation error detected: Value '{number}' at 'numberOfBytes' failed to satisfy "
        f"constraint: {constraint}"
    )


def test_number_of_bytes_bounds_are_inclusive() -> None:
    for number in (1, 1024):
        body = {"KeyId": "k", "NumberOfBytes": number}
        assert decode("GenerateDataKey", body)["NumberOfBytes"] == number


def test_enum_violation_lists_the_model_enum() -> None:
    assert invalid("CreateKey", {"KeySpec": "RSA_1024"}) == (
        "1 validation error detected: Value 'RSA_1024' at 'keySpec' failed to satisfy "
        f"constraint: Member must satisfy enum value set: [{enum_values('KeySpec')}]"
    )
    assert enum_values("KeySpec").startswith("RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256")


def test_long_description_is_truncated_in_the_message() -> None:
    assert invalid("CreateKey", {"Description": "d" * 8192 + "e"}) == (
        f"1 validation error detected: Value '{'d' * 256}...' at 'description' failed to satisfy "
        "constraint: Member must have length less than or equal to 8192"
    )
    assert decode("CreateKey", {"Description": "d" * 8192}) == {"Description": "d" * 8192}


def test_nested_path_in_a_list_of_structures() -> None:
    tags = [{"TagKey": "ok", "TagValue": "v"}, {"TagKey": "k" * 129, "TagValue": "v"}]
    assert invalid("CreateKey", {"Tags": tags}) == (
        f"1 validation error detected: Value '{'k' * 129}' at 'tags.2.member.tagKey' failed to "
        "satisfy constraint: Member must have length less than or equal to 128"
    )


def test_null_and_incomplete_elements_of_a_list_of_structures() -> None:
    assert invalid("TagResource", {"KeyId": "k", "Tags": [None, {"TagKey": "a"}]}) == (
        "2 validation errors detected: "
        "Value null at 'tags.1.member' failed to satisfy constraint: Member must not be null; "
        "Value null at 'tags.2.member.tagValue' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_two_violations_in_model_order() -> None:
    assert invalid("GenerateDataKey", {"NumberOfBytes": 0}) == (
        "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: "
        "Member must not be null; Value '0' at 'numberOfBytes' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )


def test_all_constraints_of_one_value_are_reported() -> None:
    # Length first, then pattern, as AWS lists them.
    assert invalid("CreateAlias", {"AliasName": "", "TargetKeyId": "k"}) == (
        "2 validation errors detected: "
        "Value '' at 'aliasName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; "
        "Value '' at 'aliasName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    )


def test_unanchored_patterns_must_match_the_whole_value() -> None:
    # re.search would find a valid prefix; AWS (and we) require a full match.
    assert invalid("PutKeyPolicy", {"KeyId": "k", "Policy": "{}\u20ac"}) == (
        "1 validation error detected: Value '{}\u20ac' at 'policy' failed to satisfy "
        r"constraint: Member must satisfy regular expression pattern: "
        r"[\u0009\u000A\u000D\u0020-\u00FF]+"
    )
    assert decode("PutKeyPolicy", {"KeyId": "k", "Policy": "{\u00e9}"})["Policy"] == "{\u00e9}"


def test_pattern_classes_are_ascii() -> None:
    # \w is [a-zA-Z0-9_] in Java; Python's re would also accept letters such as é.
    assert invalid("PutKeyPolicy", {"KeyId": "k", "Policy": "{}", "PolicyName": "d\u00e9faut"}) == (
        "1 validation error detected: Value 'd\u00e9faut' at 'policyName' failed to satisfy "
        r"constraint: Member must satisfy regular expression pattern: [\w]+"
    )


def test_sensitive_strings_are_not_echoed() -> None:
    body = {"CustomKeyStoreName": "n", "KeyStorePassword": "hunter"}
    assert invalid("CreateCustomKeyStore", body) == (
        "1 validation error detected: Value at 'keyStorePassword' failed to satisfy constraint: "
        "Member must have length greater than or equal to 7"
    )


def test_list_of_scalars_is_reported_at_the_list() -> None:
    assert invalid("Decrypt", {"CiphertextBlob": b64(b"c"), "GrantTokens": ["a", ""]}) == (
        "1 validation error detected: Value '[a, ]' at 'grantTokens' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must have length less than or "
        "equal to 8192, Member must have length greater than or equal to 1]"
    )
    assert invalid("Decrypt", {"CiphertextBlob": b64(b"c"), "GrantTokens": ["a", None]}) == (
        "1 validation error detected: Value '[a, null]' at 'grantTokens' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must have length less than or "
        "equal to 8192, Member must have length greater than or equal to 1, "
        "Member must not be null]"
    )


def test_list_too_long() -> None:
    assert invalid("Decrypt", {"CiphertextBlob": b64(b"c"), "GrantTokens": ["t"] * 11}) == (
        f"1 validation error detected: Value '[{', '.join(['t'] * 11)}]' at 'grantTokens' "
        "failed to satisfy constraint: Member must have length less than or equal to 10"
    )


def test_list_of_enums() -> None:
    body = {"KeyId": "k", "GranteePrincipal": "p", "Operations": ["Decrypt", "Nope"]}
    assert invalid("CreateGrant", body) == (
        "1 validation error detected: Value '[Decrypt, Nope]' at 'operations' failed to "
        "satisfy constraint: Member must satisfy constraint: "
        f"[Member must satisfy enum value set: [{enum_values('GrantOperation')}]]"
    )


def test_null_encryption_context_value() -> None:
    body = {"CiphertextBlob": b64(b"c"), "EncryptionContext": {"a": "1", "b": None}}
    assert invalid("Decrypt", body) == (
        "1 validation error detected: Value '{a=1, b=null}' at 'encryptionContext' failed to "
        "satisfy constraint: Map value must satisfy constraint: [Member must not be null]"
    )


def test_at_most_ten_violations_are_reported() -> None:
    tags = [{"TagKey": "", "TagValue": "v"}] * 12
    message = invalid("TagResource", {"KeyId": "k", "Tags": tags})
    assert message.startswith("10 validation errors detected: ")
    assert message.count("failed to satisfy constraint") == 10
    assert message.endswith(
        "at 'tags.10.member.tagKey' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


# --- JSON type errors --------------------------------------------------------------------

NUMBER_TO_STRING = (
    "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an "
    "String"
)


@pytest.mark.parametrize(
    ("operation", "body", "message"),
    [
        (
            "GenerateDataKey",
            {"KeyId": "k", "NumberOfBytes": "32"},
            "class java.lang.String can not be converted to an Integer",
        ),
        (
            "GenerateDataKey",
            {"KeyId": "k", "NumberOfBytes": True},
            "class java.lang.Boolean can not be converted to an Integer",
        ),
        (
            "GenerateDataKey",
            {"KeyId": "k", "NumberOfBytes": 32.0},
            "Fractional number can not be converted to an Integer",
        ),
        ("GenerateDataKey", {"KeyId": 1}, NUMBER_TO_STRING),
        (
            "GenerateDataKey",
            {"KeyId": {"a": 1}},
            "Start of structure or map found where not expected.",
        ),
        (
            "GenerateDataKey",
            {"KeyId": "k", "EncryptionContext": ["a"]},
            "Start of list found where not expected",
        ),
        ("GenerateDataKey", {"KeyId": "k", "EncryptionContext": "a=b"}, "Expected map or null"),
        ("GenerateDataKey", {"KeyId": "k", "EncryptionContext": {"a": 1}}, NUMBER_TO_STRING),
        ("GenerateDataKey", {"KeyId": "k", "GrantTokens": "t"}, "Expected list or null"),
        (
            "GenerateDataKey",
            {"KeyId": "k", "GrantTokens": {"t": "t"}},
            "Start of structure or map found where not expected.",
        ),
        ("GenerateDataKey", {"KeyId": "k", "GrantTokens": [7]}, NUMBER_TO_STRING),
        (
            "GenerateDataKey",
            {"KeyId": "k", "DryRun": "yes"},
            "'YES' can not be converted to an Boolean",
        ),
        (
            "GenerateDataKey",
            {"KeyId": "k", "DryRun": 1},
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted "
            "to an Boolean",
        ),
        (
            "Encrypt",
            {"KeyId": "k", "Plaintext": 5},
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted "
            "to a Blob",
        ),
        ("TagResource", {"KeyId": "k", "Tags": ["a"]}, "Expected null"),
        ("TagResource", {"KeyId": "k", "Tags": [[]]}, "Start of list found where not expected"),
        (
            "ImportKeyMaterial",
            {"KeyId": "k", "ImportToken": "", "EncryptedKeyMaterial": "", "ValidTo": "2024-01-01"},
            "class java.lang.String can not be converted to a Timestamp",
        ),
        ("ListKeys", [], "Start of list found where not expected"),
        ("ListKeys", "{}", "Expected null"),
    ],
)
def test_wrong_json_types(operation: str, body: Any, message: str) -> None:
    assert unparsable(operation, body) == message


def test_type_errors_win_over_validation_errors() -> None:
    # AWS deserializes before validating: a type error anywhere is the only error reported.
    assert unparsable("GenerateDataKey", {"NumberOfBytes": 0, "GrantTokens": "t"}) == (
        "Expected list or null"
    )


# --- every operation ---------------------------------------------------------------------

SAMPLES = (
    "alias/example",
    "us-east-1",
    "kms.amazonaws.com",
    "https://example.com",
    "/kms/xks/v1",
    "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
    f"arn:aws:kms:us-east-1:111122223333:key/{'a' * 8}",
)


def sample_string(shape: Any) -> str | None:
    """A string satisfying the shape, or None if this simple generator cannot find one."""
    if shape.enum:
        return str(shape.enum[-1])
    low, high = shape.metadata.get("min", 1), shape.metadata.get("max", 10**6)
    size = max(low, 1)
    candidates: list[str] = [c * size for c in "aA1"] + ["cluster-" + "a" * (size - 8), *SAMPLES]
    pattern = shape.metadata.get("pattern")
    for candidate in candidates:
        if low <= len(candidate) <= high and (
            pattern is None or re.fullmatch(pattern, candidate, re.ASCII)
        ):
            return candidate
    return None


def sample(shape: Any, everything: bool) -> tuple[object, object]:
    """A valid JSON value for the shape and what decode() should turn it into."""
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure":
        body: dict[str, object] = {}
        expected: dict[str, object] = {}
        for name, member in shape.members.items():
            if everything or name in shape.required_members:
                body[name], expected[name] = sample(member, everything)
        return body, expected
    if kind == "list":
        count = max(meta.get("min", 0), 1 if everything else 0)
        pairs = [sample(shape.member, everything) for _ in range(count)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    if kind == "map":
        key, _ = sample(shape.key, everything)
        value, converted = sample(shape.value, everything)
        return {key: value}, {key: converted}
    if kind == "string":
        text = sample_string(shape)
        if text is None:
            pytest.skip(f"no sample for {shape.name}")
        return text, text
    if kind == "blob":
        data = b"\x01" * max(meta.get("min", 0), 1)
        return b64(data), data
    if kind in ("integer", "long"):
        return meta.get("min", 1), meta.get("min", 1)
    if kind == "boolean":
        return True, True
    if kind == "timestamp":
        return 1700000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    raise AssertionError(f"unexpected shape type {kind}")


@pytest.mark.parametrize("everything", [False, True], ids=["required", "all-members"])
@pytest.mark.parametrize("operation", BOTOCORE_KMS.operation_names)
def test_every_operation_accepts_a_valid_body(operation: str, everything: bool) -> None:
    input_shape = BOTOCORE_KMS.operation_model(operation).input_shape
    body, expected = sample(input_shape, everything)
    assert decode(operation, body) == expected
    assert isinstance(body, dict)
    if everything:
        assert len(body) == len(input_shape.members)
