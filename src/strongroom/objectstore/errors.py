"""The object store's one error hierarchy: each class is an S3 error code with its status.

``api.py`` turns every :class:`S3Error` into S3's XML error body in one place. The code is the
class name, except for the KMS errors S3 passes through (``KMS.DisabledException``), whose
code is set explicitly. Messages never contain keys, data keys or signatures.
"""

from __future__ import annotations

from typing import ClassVar


class S3Error(Exception):
    status: ClassVar[int] = 400
    default_message: ClassVar[str] = ""
    wire_code: ClassVar[str | None] = None

    def __init__(self, message: str | None = None, **fields: str) -> None:
        self.message = message if message is not None else self.default_message
        self.fields = fields  # extra XML elements of the error body (BucketName, Key, ...)
        super().__init__(self.message)

    @property
    def code(self) -> str:
        return self.wire_code or type(self).__name__


class AccessDenied(S3Error):
    status = 403
    default_message = "Access Denied"


class AuthorizationHeaderMalformed(S3Error):
    default_message = "The authorization header is malformed."


class BadDigest(S3Error):
    default_message = "The Content-MD5 you specified did not match what we received."


class BucketAlreadyExists(S3Error):
    status = 409
    default_message = (
        "The requested bucket name is not available. The bucket namespace is shared by all "
        "users of the system. Please select a different name and try again."
    )


class BucketAlreadyOwnedByYou(S3Error):
    status = 409
    default_message = (
        "Your previous request to create the named bucket succeeded and you already own it."
    )


class BucketNotEmpty(S3Error):
    status = 409
    default_message = "The bucket you tried to delete is not empty"


class EntityTooLarge(S3Error):
    default_message = "Your proposed upload exceeds the maximum allowed size"


class EntityTooSmall(S3Error):
    default_message = "Your proposed upload is smaller than the minimum allowed object size."


class IncompleteBody(S3Error):
    default_message = "You did not provide the number of bytes specified by the Content-Length."


class InternalError(S3Error):
    status = 500
    default_message = "We encountered an internal error. Please try again."


class InvalidAccessKeyId(S3Error):
    status = 403
    default_message = "The AWS Access Key Id you provided does not exist in our records."


class InvalidArgument(S3Error):
    pass


class InvalidBucketName(S3Error):
    default_message = "The specified bucket is not valid."


class InvalidDigest(S3Error):
    default_message = "The Content-MD5 you specified is not valid."


class InvalidPart(S3Error):
    default_message = (
        "One or more of the specified parts could not be found. The part may not have been "
        "uploaded, or the specified entity tag may not match the part's entity tag."
    )


class InvalidPartOrder(S3Error):
    default_message = (
        "The list of parts was not in ascending order. Parts must be ordered by part number."
    )


class InvalidRange(S3Error):
    status = 416
    default_message = "The requested range is not satisfiable"


class InvalidRequest(S3Error):
    pass


class IllegalLocationConstraintException(S3Error):
    pass


class InvalidLocationConstraint(S3Error):
    pass


class InvalidTag(S3Error):
    pass


class MalformedXML(S3Error):
    default_message = (
        "The XML you provided was not well-formed or did not validate against our published schema"
    )


class MethodNotAllowed(S3Error):
    status = 405
    default_message = "The specified method is not allowed against this resource."


class MissingContentLength(S3Error):
    status = 411
    default_message = "You must provide the Content-Length HTTP header."


class NoSuchBucket(S3Error):
    status = 404
    default_message = "The specified bucket does not exist"


class NoSuchKey(S3Error):
    status = 404
    default_message = "The specified key does not exist."


class NoSuchTagSet(S3Error):
    status = 404
    default_message = "The TagSet does not exist"


class NoSuchUpload(S3Error):
    status = 404
    default_message = (
        "The specified upload does not exist. The upload ID may be invalid, or the upload may "
        "have been aborted or completed."
    )


class Unimplemented(S3Error):
    status = 501
    wire_code = "NotImplemented"
    default_message = "A header you provided implies functionality that is not implemented"


class NotModified(S3Error):
    status = 304
    default_message = "Not Modified"


class PreconditionFailed(S3Error):
    status = 412
    default_message = "At least one of the pre-conditions you specified did not hold"


class RequestTimeTooSkewed(S3Error):
    status = 403
    default_message = "The difference between the request time and the current time is too large."


class ServerSideEncryptionConfigurationNotFoundError(S3Error):
    status = 404
    default_message = "The server side encryption configuration was not found"


class ServiceUnavailable(S3Error):
    status = 503
    default_message = "Please reduce your request rate."


class SignatureDoesNotMatch(S3Error):
    status = 403
    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    )


class XAmzContentSHA256Mismatch(S3Error):
    default_message = "The provided 'x-amz-content-sha256' header does not match what was computed."


class KmsPassthroughError(S3Error):
    """A KMS error S3 passes through as ``KMS.<code>`` (a disabled or missing key, ...)."""

    def __init__(self, kms_code: str, message: str) -> None:
        super().__init__(message)
        self._kms_code = kms_code

    @property
    def code(self) -> str:
        return f"KMS.{self._kms_code}"


class InvalidPartNumber(S3Error):
    status = 416
    default_message = "The requested partnumber is not satisfiable"
