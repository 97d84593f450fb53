"""The KMS operations a service needs, made on behalf of a principal.

Every call names the principal it is made for; the implementation adds the calling service
(``kms:ViaService``) and runs the KMS's authorization, key-state table and audit exactly as for
a direct API call. Failures are :class:`KmsCallError` carrying the KMS's own error code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from strongroom.client.principal import Principal


class KmsCallError(Exception):
    """A KMS operation failed; ``code`` is the KMS error code (``DisabledException``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class DataKey:
    """A fresh data key: its plaintext (never shown in ``repr``) and the KMS ciphertext blob."""

    key_arn: str
    ciphertext: bytes
    plaintext: bytes = field(repr=False)
    key_material_id: str | None = None  # the key version that wraps it (KeyMaterialId)


@dataclass(frozen=True, slots=True)
class Rewrapped:
    """A data key's KMS ciphertext re-encrypted under another key (or newer material)."""

    key_arn: str
    ciphertext: bytes
    key_material_id: str | None


@dataclass(frozen=True, slots=True)
class KeyDescription:
    key_arn: str
    key_id: str
    state: str
    key_manager: str


class KmsClient(Protocol):
    """KMS calls made by a service for a principal."""

    def generate_data_key(
        self, principal: Principal, key_id: str, context: Mapping[str, str]
    ) -> DataKey:
        """A new 256-bit data key under ``key_id`` (id, ARN, alias or alias ARN)."""
        ...

    def decrypt(self, principal: Principal, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        """The plaintext data key in ``ciphertext``; the context must match the one used."""
        ...

    def describe_key(self, principal: Principal, key_id: str) -> KeyDescription: ...

    def re_encrypt(
        self,
        principal: Principal,
        ciphertext: bytes,
        context: Mapping[str, str],
        destination_key_id: str,
    ) -> Rewrapped:
        """ReEncrypt: the data key never leaves the KMS; the context stays the same."""
        ...


class AuditGate(Protocol):
    """Holds a service's response until the audit events of the KMS calls made for it are
    committed, when the KMS's audit durability asks for that (``before-response``)."""

    def open(self) -> object:
        """Start collecting the calls of one request (call in the task serving it)."""
        ...

    async def close(self, token: object) -> None:
        """Return once the request's KMS events are committed; ``KmsCallError`` if they cannot
        be."""
        ...
