"""The XKS proxy's errors: one class per error name of AWS's XKS proxy API specification.

Every failure a client sees is one of these, answered by :func:`error_response` as
``{"errorName": ..., "errorMessage": ...}`` with the class's HTTP status. Messages are fixed
texts or name only non-secret values (never plaintext, keys, secrets or signatures); the spec
limits them to printable ASCII under 512 characters.
"""

from __future__ import annotations

import orjson


class XksError(Exception):
    status = 400
    default_message = ""

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message

    @property
    def name(self) -> str:
        return type(self).__name__


class ValidationException(XksError):
    default_message = "One or more input parameters is invalid."


class InvalidStateException(XksError):
    default_message = "The external key or its key store is disabled or not connected."


class InvalidCiphertextException(XksError):
    default_message = (
        "The ciphertext, initialization vector, additional authenticated data or "
        "authentication tag is corrupted, missing, or otherwise invalid."
    )


class InvalidKeyUsageException(XksError):
    default_message = "The external key does not support the requested operation."


class AuthenticationFailedException(XksError):
    status = 401
    default_message = "The request signature could not be verified."


class AccessDeniedException(XksError):
    status = 403
    default_message = "The operation is not authorized."


class KeyNotFoundException(XksError):
    status = 404
    default_message = "The external key was not found."


class InvalidUriPathException(XksError):
    status = 404
    default_message = "The URI path is not valid."


class MethodNotAllowed(XksError):
    """GET (or any method but POST) on an XKS URI: the spec asks for 405."""

    status = 405
    default_message = "Only POST is allowed."

    @property
    def name(self) -> str:
        return "ValidationException"


class ThrottlingException(XksError):
    status = 429
    default_message = "The request rate is too high."


class InternalException(XksError):
    status = 500
    default_message = "The external key manager could not perform the operation."


class UnsupportedOperationException(XksError):
    status = 501
    default_message = "The operation or a parameter size is not supported."


class DependencyTimeoutException(XksError):
    status = 503
    default_message = "A dependency did not respond in time."


def error_response(error: XksError) -> tuple[int, bytes]:
    """The one place an error becomes a response."""
    body = {"errorName": error.name, "errorMessage": _printable(error.message)}
    return error.status, orjson.dumps(body)


def _printable(message: str) -> str:
    cleaned = "".join(c if " " <= c <= "~" else "?" for c in message)
    return cleaned[:511]
