"""The key spec x usage x algorithm table."""

from __future__ import annotations

import botocore.session
import pytest

from strongroom.kms.domain import key_specs
from strongroom.kms.domain.enums import KeySpec, KeyUsage
from strongroom.kms.domain.key_specs import Use
from strongroom.kms.errors import (
    InvalidKeyUsageException,
    UnsupportedOperationException,
    ValidationException,
)

ARN = "arn:aws:kms:us-east-1:111122223333:key/k"


def _model_enum(shape: str) -> set[str]:
    model = botocore.session.get_session().get_service_model("kms")
    return set(model.shape_for(shape).enum)


def test_every_model_key_spec_is_served_or_explained() -> None:
    served = {spec.value for spec in KeySpec}
    assert served | set(key_specs.UNSERVED) == _model_enum("KeySpec")
    assert not served & set(key_specs.UNSERVED)
    assert set(key_specs.SPECS) == set(KeySpec)


def test_every_algorithm_is_in_the_model() -> None:
    known = (
        _model_enum("EncryptionAlgorithmSpec")
        | _model_enum("SigningAlgorithmSpec")
        | _model_enum("MacAlgorithmSpec")
        | _model_enum("KeyAgreementAlgorithmSpec")
        | _model_enum("EncapsulationAlgorithmSpec")
    )
    for row in key_specs.SPECS.values():
        for algorithms in row.usages.values():
            assert set(algorithms) <= known


@pytest.mark.parametrize(
    ("spec", "usage", "expected"),
    [
        ("SYMMETRIC_DEFAULT", None, KeyUsage.ENCRYPT_DECRYPT),
        ("RSA_2048", None, KeyUsage.ENCRYPT_DECRYPT),
        ("RSA_4096", "SIGN_VERIFY", KeyUsage.SIGN_VERIFY),
        ("ECC_NIST_P521", "KEY_AGREEMENT", KeyUsage.KEY_AGREEMENT),
        ("HMAC_512", "GENERATE_VERIFY_MAC", KeyUsage.GENERATE_VERIFY_MAC),
    ],
)
def test_allowed_combinations(spec: str, usage: str | None, expected: KeyUsage) -> None:
    assert key_specs.spec_and_usage(spec, usage) == (KeySpec(spec), expected)


@pytest.mark.parametrize(
    ("spec", "usage"),
    [
        ("HMAC_256", None),
        ("ECC_NIST_P256", None),
        ("ECC_SECG_P256K1", "KEY_AGREEMENT"),
        ("ECC_NIST_EDWARDS25519", "KEY_AGREEMENT"),
        ("RSA_2048", "KEY_AGREEMENT"),
        ("SYMMETRIC_DEFAULT", "GENERATE_VERIFY_MAC"),
    ],
)
def test_refused_combinations(spec: str, usage: str | None) -> None:
    with pytest.raises(ValidationException):
        key_specs.spec_and_usage(spec, usage)


def test_unserved_specs() -> None:
    with pytest.raises(UnsupportedOperationException, match="China"):
        key_specs.spec_and_usage("SM2", "SIGN_VERIFY")


@pytest.mark.parametrize(
    ("use", "spec", "usage", "error"),
    [
        (Use.ENCRYPTION, KeySpec.RSA_2048, KeyUsage.ENCRYPT_DECRYPT, None),
        (Use.ENCRYPTION, KeySpec.RSA_2048, KeyUsage.SIGN_VERIFY, InvalidKeyUsageException),
        (
            Use.SYMMETRIC_ENCRYPTION,
            KeySpec.RSA_2048,
            KeyUsage.ENCRYPT_DECRYPT,
            InvalidKeyUsageException,
        ),
        (
            Use.SIGNING,
            KeySpec.SYMMETRIC_DEFAULT,
            KeyUsage.ENCRYPT_DECRYPT,
            InvalidKeyUsageException,
        ),
        (Use.MAC, KeySpec.HMAC_256, KeyUsage.GENERATE_VERIFY_MAC, None),
        (Use.KEY_AGREEMENT, KeySpec.ECC_NIST_P256, KeyUsage.SIGN_VERIFY, InvalidKeyUsageException),
        (
            Use.PUBLIC_KEY,
            KeySpec.HMAC_256,
            KeyUsage.GENERATE_VERIFY_MAC,
            UnsupportedOperationException,
        ),
        (
            Use.PUBLIC_KEY,
            KeySpec.SYMMETRIC_DEFAULT,
            KeyUsage.ENCRYPT_DECRYPT,
            UnsupportedOperationException,
        ),
        (Use.PUBLIC_KEY, KeySpec.ECC_NIST_P256, KeyUsage.KEY_AGREEMENT, None),
        (Use.ANY, KeySpec.HMAC_256, KeyUsage.GENERATE_VERIFY_MAC, None),
    ],
)
def test_check_use(use: Use, spec: KeySpec, usage: KeyUsage, error: type[Exception] | None) -> None:
    if error is None:
        key_specs.check_use(use, "Op", spec, usage, ARN)
    else:
        with pytest.raises(error):
            key_specs.check_use(use, "Op", spec, usage, ARN)


def test_algorithms_and_limits() -> None:
    assert (
        key_specs.check_algorithm(
            KeySpec.ECC_SECG_P256K1, KeyUsage.SIGN_VERIFY, "ECDSA_SHA_256", ARN
        )
        == "ECDSA_SHA_256"
    )
    with pytest.raises(InvalidKeyUsageException):
        key_specs.check_algorithm(KeySpec.ECC_NIST_P384, KeyUsage.SIGN_VERIFY, "ECDSA_SHA_256", ARN)
    assert key_specs.DIGEST_BYTES["RSASSA_PSS_SHA_384"] == 48
    assert key_specs.DIGEST_BYTES["ECDSA_SHA_512"] == 64
    limits = {
        (spec, algorithm): key_specs.oaep_plaintext_limit(spec, algorithm)
        for spec in (KeySpec.RSA_2048, KeySpec.RSA_3072, KeySpec.RSA_4096)
        for algorithm in ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
    }
    assert sorted(limits.values()) == [190, 214, 318, 342, 446, 470]


def test_grant_operations_per_key_type() -> None:
    assert "Sign" in key_specs.grant_operations(KeySpec.RSA_2048, KeyUsage.SIGN_VERIFY)
    assert "Encrypt" not in key_specs.grant_operations(KeySpec.RSA_2048, KeyUsage.SIGN_VERIFY)
    assert "GenerateDataKey" not in key_specs.grant_operations(
        KeySpec.RSA_2048, KeyUsage.ENCRYPT_DECRYPT
    )
    assert key_specs.grant_operations(KeySpec.HMAC_256, KeyUsage.GENERATE_VERIFY_MAC) == {
        "GenerateMac",
        "VerifyMac",
        "CreateGrant",
        "RetireGrant",
        "DescribeKey",
    }
    assert "DeriveSharedSecret" in key_specs.grant_operations(
        KeySpec.ECC_NIST_P256, KeyUsage.KEY_AGREEMENT
    )
