"""One exception hierarchy for envelope encryption.

Every integrity failure of a message (tampering, truncation, reordered frames, a wrong
commitment, a bad signature, a malformed header) is the single :class:`InvalidMessageError`
with one fixed message, so a caller learns nothing about *where* a message was altered.
Failures that are about the caller's setup (wrong key, missing permission, missing context
pair) have their own classes and messages, because the caller can act on them.
"""

from __future__ import annotations


class EnvelopeError(Exception):
    """Base class of every error raised by :mod:`strongroom.envelope`."""


class InvalidMessageError(EnvelopeError):
    """The message was altered, truncated or is not an Encryption SDK message."""

    MESSAGE = "the message is invalid or was not encrypted for this key"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.MESSAGE)


class WrongKeyError(InvalidMessageError):
    """None of the message's encrypted data keys is for a key this caller may decrypt with.

    A subclass of :class:`InvalidMessageError` because, without the key, an edited key ARN in
    a header cannot be told apart from a message encrypted for another key; its message says
    which keys the message names and which were allowed.
    """


class KeyUnusableError(EnvelopeError):
    """An encryption key does not exist, is disabled or cannot be used for encryption."""


class PermissionDeniedError(EnvelopeError):
    """The KMS refused the call: the caller may not use the key."""


class MissingContextError(EnvelopeError):
    """A required encryption context pair is missing from the message (or has another value)."""


class SuiteNotAcceptedError(EnvelopeError):
    """The message's algorithm suite is valid but the caller does not accept it."""


class KmsError(EnvelopeError):
    """The KMS could not be reached or returned an unexpected error."""


class LimitExceededError(EnvelopeError):
    """A configured limit (encrypted data keys, frame length) was exceeded."""


class MessageLimitError(InvalidMessageError, LimitExceededError):
    """A message exceeds a decryption limit (encrypted data keys, frame length).

    Both an invalid message (a flipped bit in a count field lands here) and a limit, so
    ``except InvalidMessageError`` and ``except LimitExceededError`` both see it.
    """


class UsageError(EnvelopeError):
    """The library or command was called with inconsistent arguments."""
