"""AWS's message texts for the KMS API, kept in one place.

Every error text the KMS operations send where AWS sends one of its own is here, with where it
was found. Code raising one of these errors takes its text from this module; nothing else
spells an AWS wording (``tests/unit/kms/test_messages.py`` looks for strays).

Sources (public records of what AWS answers):

- [LS] LocalStack's ``tests/aws/services/kms/test_kms.snapshot.json``: responses recorded
  against AWS KMS by its snapshot tests (error code, message, HTTP status).
- [LSU] LocalStack's ``services/kms/utils.py`` (``validate_tag``); its tag tests are validated
  against AWS, but the text is not in the recorded snapshot we read.
- [FL] floci's pull request #3038 (RSA Encrypt), whose messages "were measured against real
  AWS KMS in us-east-1".
- [I16] Strongroom issue #16, written with real AWS behaviour as reference.
- [SDK] AWS SDK and tool issues quoting AWS's answer (``{"__type", "message"}`` bodies).
- [DOC] the AWS KMS Developer Guide quoting AWS's answer (quota page, CloudTrail examples).

Texts marked OURS have no public record of AWS's wording that we found: they are our own, kept
here so that a found source replaces them in one edit. An empty text means AWS sends no
``message`` member at all (``errors.KmsError``).
"""

from __future__ import annotations

from collections.abc import Iterable

# --- errors AWS sends without any message -----------------------------------------------------
# InvalidCiphertextException, KMSInvalidSignatureException, KMSInvalidMacException [LS] (the
# classes in errors.py carry no default text); UnsupportedOperationException for GetPublicKey
# of a key without a public key ([I16] names "several UnsupportedOperationExceptions"; floci
# sends none for this one too) and for rotation settings or RotateKeyOnDemand of a key that
# does not rotate (which of them AWS sends bare is not recorded publicly: OURS to follow
# [I16] here). Raise these classes with no argument.
NO_MESSAGE = ""

# --- key references ---------------------------------------------------------------------------


def key_not_found(arn: str) -> str:
    """NotFoundException for a key id or key ARN that names no key. [LS]"""
    return f"Key '{arn}' does not exist"


def invalid_key_id(raw: str) -> str:
    """NotFoundException for a KeyId that is no key id, ARN or alias. [LS]"""
    return f"Invalid keyId '{raw}'"


def invalid_arn_region(region: str) -> str:
    """NotFoundException for a key ARN of another region than the request's. [LS]"""
    return f"Invalid arn {region}"


def alias_not_found(alias_arn: str) -> str:
    """NotFoundException for an alias that does not exist: AWS names the alias ARN. [LS]"""
    return f"Alias {alias_arn} is not found."


def alias_exists(alias_arn: str) -> str:
    """AlreadyExistsException of CreateAlias. [SDK] (Terraform and CDK errors quote it)"""
    return f"An alias with the name {alias_arn} already exists"


def alias_invalid_characters(name: str) -> str:
    """ValidationException for an alias name outside AWS's pattern. [SDK] (moto's tests)"""
    return f"{name} contains invalid characters for an alias"


ALIAS_PREFIX_REQUIRED = (  # [LS]
    'Alias must start with the prefix "alias/". Please see '
    "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
)

# --- key states -------------------------------------------------------------------------------


def disabled(arn: str) -> str:
    """DisabledException. [LS: LocalStack's provider; the state texts follow one pattern]"""
    return f"{arn} is disabled."


def invalid_state(arn: str, phrase: str) -> str:
    """KMSInvalidStateException: "<arn> is pending import." [LS]; the other states
    ("pending deletion", "unavailable", ...) follow the same recorded pattern."""
    return f"{arn} is {phrase}."


# --- key usage, key spec, algorithms ----------------------------------------------------------

INCORRECT_KEY = (  # IncorrectKeyException [LS]
    "The key ID in the request does not identify a CMK that can perform this operation."
)


def key_usage_not_valid(arn: str, usage: str, operation: str) -> str:
    """InvalidKeyUsageException: a key of the wrong usage for the operation. [LS]"""
    return f"{arn} key usage is {usage} which is not valid for {operation}."


def key_spec_not_valid(arn: str, spec: str, operation: str) -> str:
    """InvalidKeyUsageException: right usage, wrong spec (e.g. an RSA ENCRYPT_DECRYPT key for
    GenerateDataKey). OURS: the recorded usage text's pattern with KeySpec."""
    return f"{arn} key spec is {spec} which is not valid for {operation}."


def algorithm_incompatible(algorithm: str, spec: str) -> str:
    """InvalidKeyUsageException: an algorithm the key spec does not offer. MAC algorithms [LS];
    encryption algorithms [SDK] ("Algorithm SYMMETRIC_DEFAULT is incompatible with key spec
    RSA_4096.", zalando/spring-cloud-config-aws-kms#82). Signing and key agreement algorithms
    get the same text (OURS: no recording)."""
    return f"Algorithm {algorithm} is incompatible with key spec {spec}."


def origin_not_valid(arn: str, origin: str) -> str:
    """UnsupportedOperationException: an import operation on a key of another origin. [LS]"""
    return f"{arn} origin is {origin} which is not valid for this operation."


def rsa_plaintext_too_large(algorithm: str, spec: str, limit: int) -> str:
    """ValidationException: Encrypt with an RSA key and too long a plaintext. [LS, FL]"""
    return (
        f"Algorithm {algorithm} and key spec {spec} cannot encrypt data larger than {limit} bytes."
    )


def digest_length(algorithm: str) -> str:
    """ValidationException: Sign/Verify with MessageType DIGEST of the wrong length. [LS]"""
    return f"Digest is invalid length for algorithm {algorithm}."


# --- key policies [SDK] (quoted in Terraform/CDK/CloudFormation errors) ---------------------------

INVALID_PRINCIPALS = "Policy contains a statement with one or more invalid principals."
POLICY_LOCKOUT = "The new key policy will not allow you to update the key policy in the future."

# --- CreateKey --------------------------------------------------------------------------------

KEY_USAGE_REQUIRED = (  # ValidationException, a KeySpec without default usage [LS]
    "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."
)


def usage_incompatible_with_spec(usage: str, spec: str) -> str:
    """ValidationException: CreateKey with a KeyUsage the KeySpec does not take. OURS (the
    wording local KMS emulators use; no AWS recording found)."""
    return f"KeyUsage {usage} is not compatible with KeySpec {spec}."


# --- model validation [LS] --------------------------------------------------------------------


def validation_errors(errors: list[str]) -> str:
    """ValidationException: "1 validation error detected: ..." / "N validation errors ..."."""
    plural = "" if len(errors) == 1 else "s"
    return f"{len(errors)} validation error{plural} detected: {'; '.join(errors)}"


def violation(shown: str, path: str, constraint: str) -> str:
    """One violation; ``shown`` is ``" 'value'"``, ``" null"`` or ``""`` (value not echoed)."""
    return f"Value{shown} at '{path}' failed to satisfy constraint: {constraint}"


NOT_NULL = "Member must not be null"


def bound_constraint(unit: str, word: str, bound: float) -> str:
    """``word`` is "greater" or "less"; ``unit`` "value" or "length"."""
    return f"Member must have {unit} {word} than or equal to {bound}"


def pattern_constraint(pattern: str) -> str:
    return f"Member must satisfy regular expression pattern: {pattern}"


# AWS lists an enum's values in its own order, not the model's. The orders recorded [LS] for
# value sets that have not changed since; other enums are listed in the model's order (OURS:
# AWS's order for today's sets is not recorded publicly).
RECORDED_ENUM_ORDERS: tuple[tuple[str, ...], ...] = (
    ("HMAC_SHA_384", "HMAC_SHA_256", "HMAC_SHA_224", "HMAC_SHA_512"),  # MacAlgorithmSpec
)


def enum_constraint(values: Iterable[str]) -> str:
    """The constraint of an enum member, its values in AWS's order where recorded."""
    listed = tuple(values)
    for order in RECORDED_ENUM_ORDERS:
        if set(order) == set(listed):
            listed = order
    return f"Member must satisfy enum value set: [{', '.join(listed)}]"


NUMBER_OF_BYTES_REQUIRED = "NumberOfBytes is required."  # GenerateRandom [LS]

# --- tags -------------------------------------------------------------------------------------

TAG_PREFIX_RESERVED = "Tags beginning with aws: are reserved"  # TagException [LSU]
# TagException for a tag key given twice. OURS.
DUPLICATE_TAG_KEYS = "Duplicate tag keys"

# --- imported key material --------------------------------------------------------------------

VALID_TO_REQUIRED = (  # ValidationException, ImportKeyMaterial [LS]
    "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
)


def no_material_pending_rotation(arn: str) -> str:
    """KMSInvalidStateException: RotateKeyOnDemand of an EXTERNAL key, nothing pending. [I16]"""
    return f"No available key material pending rotation for the key: {arn}."


def material_pending_rotation(material_id: str, arn: str) -> str:
    """KMSInvalidStateException: ImportKeyMaterial of new material while another is pending
    rotation. [I16] names the pending material; the sentence around it is OURS."""
    return f"Key material {material_id} is pending rotation for the key: {arn}."


# --- SigV4 (api/sigv4.py): AWS's JSON services' texts -----------------------------------------
# [SDK]: quoted from AWS's answers in SDK and tool issues and in AWS's own SigV4 crates
# (aws-sigv4's "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
# OURS where marked.

SIGNATURE_MISMATCH = (  # [SDK]
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
MISSING_QUERY_PARAMS = (  # [SDK]
    "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', "
    "'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', and 'X-Amz-Expires'. "
    "Re-examine the query-string parameters."
)
HOST_MUST_BE_SIGNED = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
DATE_HEADER_REQUIRED = (  # [SDK]
    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
)
DATE_FORMAT = (  # OURS
    "Date must be in ISO-8601 'basic format' (X-Amz-Date, e.g. 20261129T010000Z) "
    "or RFC 1123 format (Date). "
)
QUERY_DATE_FORMAT = "X-Amz-Date must be in ISO-8601 'basic format', e.g. 20261129T010000Z. "  # OURS
CONTENT_SHA256_MISMATCH = (  # [SDK] (S3's text)
    "The provided 'x-amz-content-sha256' header does not match what was computed."
)
ONE_AUTH_MECHANISM = (  # [SDK] begins as S3's "Only one auth mechanism allowed"; the rest OURS
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter "
    "or the Authorization header should be specified."
)


def region_out_of_scope(region: str) -> str:
    """InvalidSignatureException for a SigV4 scope outside the served regions. [SDK]"""
    return f"Credential should be scoped to a valid region, not '{region}'. "


def service_out_of_scope(service: str) -> str:  # [SDK]
    return f"Credential should be scoped to correct service: '{service}'. "


def credential_elements(credential: str) -> str:  # [SDK]
    return (
        "Credential must have exactly 5 slash-delimited elements, "
        f"e.g. keyid/date/region/service/term, got '{credential}'"
    )


def credential_terminator(term: str) -> str:  # [SDK]
    return f"Credential should be scoped with a valid terminator: 'aws4_request', not '{term}'. "


def unsupported_algorithm(algorithm: str) -> str:  # OURS
    return f"Unsupported authorization algorithm; only '{algorithm}' is accepted."


def unsupported_query_algorithm(algorithm: str) -> str:  # OURS
    return f"Unsupported X-Amz-Algorithm; only '{algorithm}' is accepted."


def authorization_parameter_required(parameter: str) -> str:  # [SDK]
    return f"Authorization header requires '{parameter}' parameter. "


def expires_range(maximum: int) -> str:  # OURS
    return f"X-Amz-Expires must be an integer from 1 to {maximum} seconds."


def header_must_be_signed(header: str) -> str:  # [SDK] (as HOST_MUST_BE_SIGNED)
    return f"'{header}' must be a 'SignedHeader' in the AWS Authorization."


def presigned_header_must_be_signed(header: str) -> str:  # OURS
    return f"'{header}' must be a 'SignedHeader' of a presigned request."


def signed_header_missing(header: str) -> str:  # OURS
    return f"The signed header '{header}' is not present in the request. "


def signature_expired(amz_date: str, earliest: str, now: str, window: str) -> str:  # [SDK]
    return f"Signature expired: {amz_date} is now earlier than {earliest} ({now} - {window})"


def signature_not_yet_current(amz_date: str, latest: str, now: str, minutes: int) -> str:
    """[SDK]"""
    return (
        f"Signature not yet current: {amz_date} is still later than {latest} "
        f"({now} + {minutes} min.)"
    )


def scope_date_mismatch(scope_date: str, request_date: str, amz_date: str) -> str:  # [SDK]
    return (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
        f"date from HTTP: '{scope_date}' != '{request_date}', from '{amz_date}'."
    )


# --- defaults of error classes (errors.py) ----------------------------------------------------
UNKNOWN_OPERATION = "The requested operation is not recognized."  # OURS
UNRECOGNIZED_CLIENT = "The security token included in the request is invalid."  # [SDK]
# The text AWS's JSON services send; OURS for KMS in particular (no KMS recording found).
MISSING_AUTHENTICATION_TOKEN = "Missing Authentication Token"  # noqa: S105 (a message)
THROTTLING = (  # [DOC] (quotas page)
    "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
)
DRY_RUN = "The request would have succeeded, but the DryRun option is set."  # [DOC] CloudTrail
# OURS
EXPIRED_IMPORT_TOKEN = "The import token is expired. Use GetParametersForImport to get a new one."  # noqa: S105
INVALID_IMPORT_TOKEN = "The import token is not valid for this KMS key."  # noqa: S105 OURS
