"""The one exception hierarchy of the KMS.

Every error that can reach a client is a subclass of :class:`KmsError` whose class name is
exactly the AWS error code (the ``__type`` botocore looks up), and which carries the HTTP
status AWS uses. ``api/wire_errors.py`` turns any of them into a response; nothing else in the
code base decides statuses or codes.

Messages never contain secrets (plaintext, key material, credentials, signatures).
"""

from __future__ import annotations

from typing import ClassVar

from strongroom.kms import messages


class KmsError(Exception):
    """Base of every error that is reported to a client.

    AWS answers every KMS client error with HTTP 400, whatever the service model's
    ``httpStatusCode`` says (409 for DisabledException, 412 for DryRunOperationException):
    only the classes below that name another status differ. An empty message means AWS sends
    none, and the response then has no ``message`` member at all.
    """

    status: ClassVar[int] = 400
    default_message: ClassVar[str] = ""
    # False for errors of another front-end that run through the pipeline (KMIP's carry a
    # KMIP result reason, kmip/errors.py): never answered on the KMS API.
    wire: ClassVar[bool] = True

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(self.message)

    @property
    def code(self) -> str:
        """The AWS error code: the class name, by construction."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"{self.code}({self.message!r})"


# --- protocol and authentication (not in the KMS model, common to AWS JSON services) ------


class UnknownOperationException(KmsError):
    default_message = messages.UNKNOWN_OPERATION


class SerializationException(KmsError):
    default_message = "Unable to parse the request body."


class ValidationException(KmsError):
    pass


class RequestEntityTooLargeException(KmsError):
    status = 413
    default_message = "Request body is too large."


class MissingAuthenticationTokenException(KmsError):
    default_message = messages.MISSING_AUTHENTICATION_TOKEN


class IncompleteSignatureException(KmsError):
    pass


class InvalidSignatureException(KmsError):
    pass


class UnrecognizedClientException(KmsError):
    default_message = messages.UNRECOGNIZED_CLIENT


class AccessDeniedException(KmsError):
    pass


class NotAuthorizedException(KmsError):
    """AWS's answer to a tenant writing an ``alias/aws/`` alias: outside the KMS model, and
    with an empty message."""


class ThrottlingException(KmsError):
    default_message = messages.THROTTLING


# --- HTTP-level refusals (``api/http_limits.py``), before a request reaches the KMS -------


class RequestHeaderSectionTooLarge(KmsError):
    status = 431
    default_message = "Your request header section exceeds the maximum allowed size."


class RequestTimeout(KmsError):
    status = 408
    default_message = (
        "Your socket connection to the server was not read from or written to within "
        "the timeout period."
    )


class ServiceUnavailable(KmsError):
    status = 503
    default_message = "The server has too many connections open. Retry the request."


# --- modelled KMS exceptions --------------------------------------------------------------


class AlreadyExistsException(KmsError):
    pass


class ConflictException(KmsError):
    """RotateKeyOnDemand while an automatic rotation runs (not raised by this server yet). The
    model says 409; no public record of AWS's status exists, and KMS answers its other
    model-409 errors (DisabledException, KMSInvalidStateException) with 400: so 400."""


class CloudHsmClusterInUseException(KmsError):
    pass


class CloudHsmClusterInvalidConfigurationException(KmsError):
    pass


class CloudHsmClusterNotActiveException(KmsError):
    pass


class CloudHsmClusterNotFoundException(KmsError):
    pass


class CloudHsmClusterNotRelatedException(KmsError):
    pass


class CustomKeyStoreHasCMKsException(KmsError):
    pass


class CustomKeyStoreInvalidStateException(KmsError):
    pass


class CustomKeyStoreNameInUseException(KmsError):
    pass


class CustomKeyStoreNotFoundException(KmsError):
    pass


class IncorrectTrustAnchorException(KmsError):
    pass


class DependencyTimeoutException(KmsError):
    status = 503


class DisabledException(KmsError):
    pass


class DryRunOperationException(KmsError):
    default_message = messages.DRY_RUN


class ExpiredImportTokenException(KmsError):
    default_message = messages.EXPIRED_IMPORT_TOKEN


class IncorrectKeyMaterialException(KmsError):
    pass


class InvalidImportTokenException(KmsError):
    default_message = messages.INVALID_IMPORT_TOKEN


class IncorrectKeyException(KmsError):
    default_message = messages.INCORRECT_KEY


class InvalidAliasNameException(KmsError):
    pass


class InvalidArnException(KmsError):
    pass


class InvalidCiphertextException(KmsError):
    """Every decryption failure: one class and, as from AWS, no message: failures reveal nothing."""


class InvalidGrantIdException(KmsError):
    pass


class InvalidGrantTokenException(KmsError):
    pass


class InvalidKeyUsageException(KmsError):
    pass


class InvalidMarkerException(KmsError):
    default_message = "Invalid marker."


class KMSInternalException(KmsError):
    status = 500
    default_message = "An internal error occurred."


class KMSInvalidMacException(KmsError):
    """A MAC that does not verify: AWS says nothing more, neither do we."""


class KMSInvalidSignatureException(KmsError):
    """A signature that does not verify: AWS says nothing more, neither do we."""


class KMSInvalidStateException(KmsError):
    pass


class KeyUnavailableException(KmsError):
    status = 500


class LimitExceededException(KmsError):
    pass


class MalformedPolicyDocumentException(KmsError):
    pass


class NotFoundException(KmsError):
    pass


class TagException(KmsError):
    pass


class UnsupportedOperationException(KmsError):
    pass


# --- external key stores (EXTERNAL_KEY_STORE custom key stores, docs/external-key-stores.md) ---


class XksKeyAlreadyInUseException(KmsError):
    pass


class XksKeyInvalidConfigurationException(KmsError):
    pass


class XksKeyNotFoundException(KmsError):
    pass


class XksProxyIncorrectAuthenticationCredentialException(KmsError):
    pass


class XksProxyInvalidConfigurationException(KmsError):
    pass


class XksProxyInvalidResponseException(KmsError):
    pass


class XksProxyUriEndpointInUseException(KmsError):
    pass


class XksProxyUriInUseException(KmsError):
    pass


class XksProxyUriUnreachableException(KmsError):
    pass


class XksProxyVpcEndpointServiceNotFoundException(KmsError):
    pass


def all_error_classes() -> dict[str, type[KmsError]]:
    """Every concrete wire error, by code. Tests compare this with the service model."""
    found: dict[str, type[KmsError]] = {}
    pending: list[type[KmsError]] = [KmsError]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub.wire:
                found[sub.__name__] = sub
            pending.append(sub)
    return found
