"""Envelope encryption of files and streams in the AWS Encryption SDK message format (v2).

Files written here are read by the official Encryption SDKs and their ``aws-encryption-cli``,
and files they write are read here. The KMS is reached as a client (botocore), so any
AWS-compatible KMS works, Strongroom included. ``docs/formats.md`` describes the format.
"""

from strongroom.envelope.cache import CacheLimits, DataKeyCache
from strongroom.envelope.errors import (
    EnvelopeError,
    InvalidMessageError,
    KeyUnusableError,
    KmsError,
    LimitExceededError,
    MessageLimitError,
    MissingContextError,
    PermissionDeniedError,
    SuiteNotAcceptedError,
    UsageError,
    WrongKeyError,
)
from strongroom.envelope.format import EncryptedDataKey, Header
from strongroom.envelope.keys import KmsKeyring, kms_client
from strongroom.envelope.stream import (
    DEFAULT_FRAME_LENGTH,
    decrypt_stream,
    encrypt_stream,
    read_message_header,
)
from strongroom.envelope.suites import SIGNED, UNSIGNED, Suite

__all__ = [
    "DEFAULT_FRAME_LENGTH",
    "SIGNED",
    "UNSIGNED",
    "CacheLimits",
    "DataKeyCache",
    "EncryptedDataKey",
    "EnvelopeError",
    "Header",
    "InvalidMessageError",
    "KeyUnusableError",
    "KmsError",
    "KmsKeyring",
    "LimitExceededError",
    "MessageLimitError",
    "MissingContextError",
    "PermissionDeniedError",
    "Suite",
    "SuiteNotAcceptedError",
    "UsageError",
    "WrongKeyError",
    "decrypt_stream",
    "encrypt_stream",
    "kms_client",
    "read_message_header",
]
