"""The one key spec x key usage x algorithm table, and what each operation needs of its key.

Source: the AWS KMS Developer Guide ("Key spec reference"). CreateKey asks
:func:`spec_and_usage`; the pipeline asks :func:`check_use` for every key an operation
declares (next to the key-state table); handlers ask :func:`check_algorithm` for the algorithm
a request names. No handler decides usage or algorithm questions by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from strongroom.kms import messages
from strongroom.kms.domain.enums import (
    EncapsulationAlgorithm,
    EncryptionAlgorithm,
    KeyAgreementAlgorithm,
    KeySpec,
    KeyUsage,
    MacAlgorithm,
    SigningAlgorithm,
)
from strongroom.kms.errors import (
    InvalidKeyUsageException,
    UnsupportedOperationException,
    ValidationException,
)

E, S, M = EncryptionAlgorithm, SigningAlgorithm, MacAlgorithm
U = KeyUsage


class Use(Enum):
    """What an operation needs of the key it works on."""

    __hash__ = object.__hash__  # identity, as OpClass (states.py)

    ANY = "any key"
    SYMMETRIC_ENCRYPTION = "a symmetric encryption key"  # GenerateDataKey*, ...Pair*
    ENCRYPTION = "an encryption key"  # Encrypt, Decrypt, ReEncrypt
    SIGNING = "a signing key"
    MAC = "an HMAC key"
    KEY_AGREEMENT = "a key agreement key"
    ENCAPSULATION = "an ML-KEM key"
    PUBLIC_KEY = "an asymmetric key"


_USAGE_OF: dict[Use, KeyUsage] = {
    Use.SYMMETRIC_ENCRYPTION: U.ENCRYPT_DECRYPT,
    Use.ENCRYPTION: U.ENCRYPT_DECRYPT,
    Use.SIGNING: U.SIGN_VERIFY,
    Use.MAC: U.GENERATE_VERIFY_MAC,
    Use.KEY_AGREEMENT: U.KEY_AGREEMENT,
    Use.ENCAPSULATION: U.ENCAPSULATE_DECAPSULATE,
}

_RSA_ENCRYPTION = (E.RSAES_OAEP_SHA_1.value, E.RSAES_OAEP_SHA_256.value)
_RSA_SIGNING = tuple(a.value for a in S if a.name.startswith("RSASSA_"))
_ECDH = (KeyAgreementAlgorithm.ECDH.value,)


@dataclass(frozen=True, slots=True)
class SpecRow:
    # usage -> the algorithms a key of this spec and usage offers, in AWS's order
    usages: Mapping[KeyUsage, tuple[str, ...]]
    # The usage CreateKey assumes when none is given; None: it must be given explicitly.
    default_usage: KeyUsage | None = U.ENCRYPT_DECRYPT


SPECS: dict[KeySpec, SpecRow] = {
    KeySpec.SYMMETRIC_DEFAULT: SpecRow({U.ENCRYPT_DECRYPT: (E.SYMMETRIC_DEFAULT.value,)}),
    **{
        spec: SpecRow({U.ENCRYPT_DECRYPT: _RSA_ENCRYPTION, U.SIGN_VERIFY: _RSA_SIGNING})
        for spec in (KeySpec.RSA_2048, KeySpec.RSA_3072, KeySpec.RSA_4096)
    },
    KeySpec.ECC_NIST_P256: SpecRow(
        {U.SIGN_VERIFY: (S.ECDSA_SHA_256.value,), U.KEY_AGREEMENT: _ECDH}, None
    ),
    KeySpec.ECC_NIST_P384: SpecRow(
        {U.SIGN_VERIFY: (S.ECDSA_SHA_384.value,), U.KEY_AGREEMENT: _ECDH}, None
    ),
    KeySpec.ECC_NIST_P521: SpecRow(
        {U.SIGN_VERIFY: (S.ECDSA_SHA_512.value,), U.KEY_AGREEMENT: _ECDH}, None
    ),
    KeySpec.ECC_SECG_P256K1: SpecRow({U.SIGN_VERIFY: (S.ECDSA_SHA_256.value,)}, None),
    KeySpec.ECC_NIST_EDWARDS25519: SpecRow({U.SIGN_VERIFY: (S.ED25519_SHA_512.value,)}, None),
    **{
        spec: SpecRow({U.SIGN_VERIFY: (S.ML_DSA_SHAKE_256.value,)}, None)
        for spec in (KeySpec.ML_DSA_44, KeySpec.ML_DSA_65, KeySpec.ML_DSA_87)
    },
    **{
        spec: SpecRow({U.ENCAPSULATE_DECAPSULATE: (EncapsulationAlgorithm.ML_KEM.value,)}, None)
        for spec in (KeySpec.ML_KEM_768, KeySpec.ML_KEM_1024)
    },
    KeySpec.HMAC_224: SpecRow({U.GENERATE_VERIFY_MAC: (M.HMAC_SHA_224.value,)}, None),
    KeySpec.HMAC_256: SpecRow({U.GENERATE_VERIFY_MAC: (M.HMAC_SHA_256.value,)}, None),
    KeySpec.HMAC_384: SpecRow({U.GENERATE_VERIFY_MAC: (M.HMAC_SHA_384.value,)}, None),
    KeySpec.HMAC_512: SpecRow({U.GENERATE_VERIFY_MAC: (M.HMAC_SHA_512.value,)}, None),
}

# Key specs of the service model that Strongroom does not serve, and why.
UNSERVED: dict[str, str] = {
    "SM2": "SM2 is offered by AWS in China Regions only, and `cryptography` has no SM2.",
    "ML_KEM_512": "`cryptography` 50 has ML-KEM-768 and ML-KEM-1024 only, not ML-KEM-512.",
}

# The metadata member that lists a usage's algorithms (KeyMetadata, GetPublicKey).
ALGORITHMS_MEMBER: dict[KeyUsage, str] = {
    U.ENCRYPT_DECRYPT: "EncryptionAlgorithms",
    U.SIGN_VERIFY: "SigningAlgorithms",
    U.GENERATE_VERIFY_MAC: "MacAlgorithms",
    U.KEY_AGREEMENT: "KeyAgreementAlgorithms",
    U.ENCAPSULATE_DECAPSULATE: "EncapsulationAlgorithms",
}

# Hash output length (bytes) each signing algorithm uses: the length a DIGEST message must have.
# Algorithms absent here take no DIGEST (Ed25519 and ML-DSA sign the message itself).
DIGEST_BYTES: dict[str, int] = {
    a.value: int(a.value[-3:]) // 8 for a in S if a.value.startswith(("RSASSA_", "ECDSA_"))
}
# EXTERNAL_MU messages: ML-DSA's 64-byte message representative (FIPS 204, mu).
EXTERNAL_MU_ALGORITHMS = frozenset({S.ML_DSA_SHAKE_256.value})
MU_BYTES = 64
# Hash output length of each OAEP algorithm, for the plaintext limit k - 2*hLen - 2.
OAEP_HASH_BYTES: dict[str, int] = {E.RSAES_OAEP_SHA_1.value: 20, E.RSAES_OAEP_SHA_256.value: 32}

_COMMON_GRANT_OPERATIONS = frozenset({"CreateGrant", "RetireGrant", "DescribeKey"})
_GRANT_OPERATIONS: dict[tuple[bool, KeyUsage], frozenset[str]] = {
    (True, U.ENCRYPT_DECRYPT): frozenset(
        {
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
        }
    ),
    (False, U.ENCRYPT_DECRYPT): frozenset(
        {"Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"}
    ),
    (False, U.SIGN_VERIFY): frozenset({"Sign", "Verify", "GetPublicKey"}),
    (False, U.GENERATE_VERIFY_MAC): frozenset({"GenerateMac", "VerifyMac"}),
    (False, U.KEY_AGREEMENT): frozenset({"DeriveSharedSecret", "GetPublicKey"}),
    (False, U.ENCAPSULATE_DECAPSULATE): frozenset({"Encapsulate", "Decapsulate", "GetPublicKey"}),
}


def is_hmac(spec: KeySpec) -> bool:
    return spec.value.startswith("HMAC_")


def is_asymmetric(spec: KeySpec) -> bool:
    return spec is not KeySpec.SYMMETRIC_DEFAULT and not is_hmac(spec)


def spec_and_usage(spec: str, usage: str | None) -> tuple[KeySpec, KeyUsage]:
    """CreateKey's KeySpec and KeyUsage, checked against the table."""
    if spec in UNSERVED:
        raise UnsupportedOperationException(f"KeySpec {spec} is not supported: {UNSERVED[spec]}")
    row = SPECS[KeySpec(spec)]
    if usage is None:
        if row.default_usage is None:
            raise ValidationException(messages.KEY_USAGE_REQUIRED)
        return KeySpec(spec), row.default_usage
    if usage not in row.usages:
        raise ValidationException(messages.usage_incompatible_with_spec(usage, spec))
    return KeySpec(spec), KeyUsage(usage)


def algorithms(spec: KeySpec, usage: KeyUsage) -> tuple[str, ...]:
    return SPECS[spec].usages.get(usage, ())


def metadata_algorithms(spec: KeySpec, usage: KeyUsage) -> dict[str, list[str]]:
    """The algorithm lists KeyMetadata and GetPublicKey carry for a key."""
    return {ALGORITHMS_MEMBER[usage]: list(algorithms(spec, usage))}


def check_use(use: Use, operation: str, spec: KeySpec, usage: KeyUsage, arn: str) -> None:
    """Raise the AWS error if an operation needing ``use`` may not run on this key."""
    if use is Use.ANY:
        return
    if use is Use.PUBLIC_KEY:
        if not is_asymmetric(spec):
            raise UnsupportedOperationException()  # AWS sends no message
        return
    if usage is not _USAGE_OF[use]:
        raise InvalidKeyUsageException(messages.key_usage_not_valid(arn, usage.value, operation))
    if use is Use.SYMMETRIC_ENCRYPTION and spec is not KeySpec.SYMMETRIC_DEFAULT:
        raise InvalidKeyUsageException(messages.key_spec_not_valid(arn, spec.value, operation))


def check_algorithm(
    spec: KeySpec, usage: KeyUsage, algorithm: str, arn: str, kind: str = "algorithm"
) -> str:
    """The algorithm, if the key offers it; else InvalidKeyUsageException as AWS gives."""
    if algorithm not in algorithms(spec, usage):
        raise InvalidKeyUsageException(messages.algorithm_incompatible(algorithm, spec.value))
    return algorithm


def grant_operations(spec: KeySpec, usage: KeyUsage) -> frozenset[str]:
    """The grant operations a key of this spec and usage accepts (CreateGrant's Operations)."""
    symmetric = spec is KeySpec.SYMMETRIC_DEFAULT
    return _GRANT_OPERATIONS.get((symmetric, usage), frozenset()) | _COMMON_GRANT_OPERATIONS


def oaep_plaintext_limit(spec: KeySpec, algorithm: str) -> int:
    """The longest plaintext RSAES-OAEP takes: k - 2*hLen - 2 (214/190 for RSA_2048, ...)."""
    return int(spec.value.split("_")[1]) // 8 - 2 * OAEP_HASH_BYTES[algorithm] - 2
