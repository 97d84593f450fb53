"""KMIP failures: each a KMS error (so the pipeline audits it like any other) with the KMIP
result reason a client gets. :func:`reason_of` is the one mapping from any KMS error.

Messages never carry key material, plaintexts or signatures.
"""

from __future__ import annotations

from typing import ClassVar

from strongroom.kmip.enums import ResultReason
from strongroom.kms import errors as kms

R = ResultReason


class KmipError(kms.KmsError):
    """A failure with its KMIP result reason. The audit trail names the class."""

    reason: ClassVar[ResultReason] = R.GENERAL_FAILURE
    wire = False  # not an error of the KMS API (kms/errors.py all_error_classes)


class KmipInvalidMessage(KmipError):
    reason = R.INVALID_MESSAGE


class KmipOperationNotSupported(KmipError):
    reason = R.OPERATION_NOT_SUPPORTED


class KmipMissingData(KmipError):
    reason = R.MISSING_DATA


class KmipInvalidField(KmipError):
    reason = R.INVALID_FIELD


class KmipFeatureNotSupported(KmipError):
    reason = R.FEATURE_NOT_SUPPORTED


class KmipCryptographicFailure(KmipError):
    reason = R.CRYPTOGRAPHIC_FAILURE


class KmipIllegalOperation(KmipError):
    reason = R.ILLEGAL_OPERATION


class KmipPermissionDenied(KmipError):
    reason = R.PERMISSION_DENIED


class KmipItemNotFound(KmipError):
    reason = R.ITEM_NOT_FOUND


class KmipKeyFormatTypeNotSupported(KmipError):
    reason = R.KEY_FORMAT_TYPE_NOT_SUPPORTED


class KmipNotExtractable(KmipError):
    reason = R.NOT_EXTRACTABLE


# KMS errors the pipeline raises (resolve, authorize, key-state table) -> KMIP reason.
_KMS_REASONS: dict[type[kms.KmsError], ResultReason] = {
    kms.NotFoundException: R.ITEM_NOT_FOUND,
    kms.AccessDeniedException: R.PERMISSION_DENIED,
    kms.NotAuthorizedException: R.PERMISSION_DENIED,
    kms.DisabledException: R.PERMISSION_DENIED,
    kms.KMSInvalidStateException: R.PERMISSION_DENIED,
    kms.InvalidKeyUsageException: R.PERMISSION_DENIED,
    kms.UnsupportedOperationException: R.FEATURE_NOT_SUPPORTED,
    kms.ValidationException: R.INVALID_FIELD,
    kms.InvalidCiphertextException: R.CRYPTOGRAPHIC_FAILURE,
    kms.KMSInvalidSignatureException: R.CRYPTOGRAPHIC_FAILURE,
    kms.KMSInvalidMacException: R.CRYPTOGRAPHIC_FAILURE,
    kms.LimitExceededException: R.PERMISSION_DENIED,
    kms.ThrottlingException: R.PERMISSION_DENIED,
}


def reason_of(error: kms.KmsError) -> ResultReason:
    if isinstance(error, KmipError):
        return error.reason
    return _KMS_REASONS.get(type(error), R.GENERAL_FAILURE)


def message_of(error: kms.KmsError) -> str:
    """The result message: the error's own message, or its code when it has none."""
    return error.message or error.code
