"""KMIP enumerations this server uses (values from KMIP 1.4 section 9.1.3.2 and KMIP 2.0)."""

from __future__ import annotations

from enum import IntEnum, IntFlag


class Operation(IntEnum):
    CREATE = 0x01
    CREATE_KEY_PAIR = 0x02
    REGISTER = 0x03
    LOCATE = 0x08
    GET = 0x0A
    GET_ATTRIBUTES = 0x0B
    GET_ATTRIBUTE_LIST = 0x0C
    ADD_ATTRIBUTE = 0x0D
    MODIFY_ATTRIBUTE = 0x0E
    DELETE_ATTRIBUTE = 0x0F
    ACTIVATE = 0x12
    REVOKE = 0x13
    DESTROY = 0x14
    QUERY = 0x18
    DISCOVER_VERSIONS = 0x1E
    ENCRYPT = 0x1F
    DECRYPT = 0x20
    SIGN = 0x21
    SIGNATURE_VERIFY = 0x22
    MAC = 0x23
    SET_ATTRIBUTE = 0x31  # KMIP 2.0


class ResultStatus(IntEnum):
    SUCCESS = 0x00
    OPERATION_FAILED = 0x01


class ResultReason(IntEnum):
    ITEM_NOT_FOUND = 0x01
    RESPONSE_TOO_LARGE = 0x02
    AUTHENTICATION_NOT_SUCCESSFUL = 0x03
    INVALID_MESSAGE = 0x04
    OPERATION_NOT_SUPPORTED = 0x05
    MISSING_DATA = 0x06
    INVALID_FIELD = 0x07
    FEATURE_NOT_SUPPORTED = 0x08
    CRYPTOGRAPHIC_FAILURE = 0x0A
    ILLEGAL_OPERATION = 0x0B
    PERMISSION_DENIED = 0x0C
    KEY_FORMAT_TYPE_NOT_SUPPORTED = 0x10
    KEY_COMPRESSION_TYPE_NOT_SUPPORTED = 0x11
    KEY_VALUE_NOT_PRESENT = 0x13
    SENSITIVE = 0x16
    NOT_EXTRACTABLE = 0x17
    OBJECT_ALREADY_EXISTS = 0x18
    GENERAL_FAILURE = 0x100


class ObjectType(IntEnum):
    CERTIFICATE = 0x01
    SYMMETRIC_KEY = 0x02
    PUBLIC_KEY = 0x03
    PRIVATE_KEY = 0x04
    SECRET_DATA = 0x07
    OPAQUE_DATA = 0x08


class Algorithm(IntEnum):
    AES = 0x03
    RSA = 0x04
    HMAC_SHA224 = 0x08
    HMAC_SHA256 = 0x09
    HMAC_SHA384 = 0x0A
    HMAC_SHA512 = 0x0B


class KeyFormat(IntEnum):
    RAW = 0x01
    OPAQUE = 0x02
    PKCS_1 = 0x03
    PKCS_8 = 0x04
    X_509 = 0x05
    TRANSPARENT_SYMMETRIC_KEY = 0x07


class QueryFunction(IntEnum):
    OPERATIONS = 0x01
    OBJECTS = 0x02
    SERVER_INFORMATION = 0x03
    APPLICATION_NAMESPACES = 0x04
    EXTENSION_LIST = 0x05
    EXTENSION_MAP = 0x06


class BlockCipherMode(IntEnum):
    CBC = 0x01
    ECB = 0x02
    CTR = 0x06
    GCM = 0x09
    NIST_KEY_WRAP = 0x0D


class PaddingMethod(IntEnum):
    NONE = 0x01
    OAEP = 0x02
    PKCS5 = 0x03
    PKCS1V15 = 0x08
    PSS = 0x0A


class HashingAlgorithm(IntEnum):
    SHA_1 = 0x04
    SHA_224 = 0x05
    SHA_256 = 0x06
    SHA_384 = 0x07
    SHA_512 = 0x08


class DigitalSignatureAlgorithm(IntEnum):
    SHA256_WITH_RSA_ENCRYPTION = 0x05
    SHA384_WITH_RSA_ENCRYPTION = 0x06
    SHA512_WITH_RSA_ENCRYPTION = 0x07
    RSASSA_PSS = 0x08


class UsageMask(IntFlag):
    SIGN = 0x01
    VERIFY = 0x02
    ENCRYPT = 0x04
    DECRYPT = 0x08
    WRAP_KEY = 0x10
    UNWRAP_KEY = 0x20
    EXPORT = 0x40
    MAC_GENERATE = 0x80
    MAC_VERIFY = 0x100


class RevocationReason(IntEnum):
    UNSPECIFIED = 0x01
    KEY_COMPROMISE = 0x02
    CA_COMPROMISE = 0x03
    AFFILIATION_CHANGED = 0x04
    SUPERSEDED = 0x05
    CESSATION_OF_OPERATION = 0x06
    PRIVILEGE_WITHDRAWN = 0x07


class ValidityIndicator(IntEnum):
    VALID = 0x01
    INVALID = 0x02
    UNKNOWN = 0x03


class BatchErrorContinuation(IntEnum):
    CONTINUE = 0x01
    STOP = 0x02
    UNDO = 0x03
