"""The narrow interfaces through which the console reaches the KMS.

:class:`Authenticator` finds an access key (the shape of ``strongroom.client``'s
authenticator, which the object store uses for SigV4); :class:`KmsOperations` runs one KMS
operation for a principal. Their implementation (``strongroom.kms.api.in_process``) decodes
each request with the same model-derived decoder as HTTP requests and runs it through the KMS
pipeline with the signed-in principal as the caller: authorization, the key-state table and
audit apply exactly as for boto3. There is no other way in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

Response = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a console session acts for: an access key's principal, and the browser's address."""

    account_id: str
    arn: str
    access_key_id: str
    source_ip: str = ""


class AccessKey(Protocol):
    """An access key as the authenticator finds it; the secret only through a method."""

    @property
    def access_key_id(self) -> str: ...

    @property
    def account_id(self) -> str: ...

    @property
    def principal_arn(self) -> str: ...

    def secret_bytes(self) -> bytes: ...


class Authenticator(Protocol):
    def lookup(self, access_key_id: str) -> AccessKey | None:
        """The live access key, or None when it does not exist (or was deleted)."""
        ...


class KmsCallError(Exception):
    """A KMS operation failed; ``code`` is the KMS's own error code (``AccessDeniedException``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class KmsOperations(Protocol):
    def call(self, principal: Principal, operation: str, request: Mapping[str, Any]) -> Response:
        """Run one KMS operation (AWS's or a Strongroom extension) as ``principal``.

        Raises :class:`KmsCallError` carrying the error the HTTP API would have answered.
        """
        ...


class SessionRevocations(Protocol):
    """Signed-out sessions, known to every worker and node (not only the one that signed out)."""

    def revoke(self, session_id: str, until: float) -> None:
        """Record that ``session_id`` is signed out; ``until``: when it would have ended anyway
        (epoch seconds). Raises if the record cannot be written."""
        ...

    def is_revoked(self, session_id: str) -> bool: ...


class SignInRecorder(Protocol):
    def record_sign_in(
        self, account_id: str, principal_arn: str, access_key_id: str, source_ip: str
    ) -> None:
        """A tenant's console sign-in as an event of its audit trail; raises if it cannot be
        recorded (the sign-in is then refused)."""
        ...
