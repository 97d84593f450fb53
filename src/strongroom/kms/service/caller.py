"""Who is calling: the authenticated principal behind a request."""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.kms.domain.principals import Principal
from strongroom.kms.domain.secrets import Secret


@dataclass(frozen=True, slots=True)
class Credential:
    """An access key with its unsealed secret, as the SigV4 verifier needs it."""

    access_key_id: str
    principal: Principal
    secret: Secret

    def secret_bytes(self) -> bytes:
        return self.secret.reveal()


@dataclass(frozen=True, slots=True)
class Caller:
    account_id: str
    principal_arn: str
    access_key_id: str
    source_ip: str
    # The AWS service that makes this call on the caller's behalf (``s3.<region>.amazonaws.com``
    # for the object store), or None for a direct call. Policies see it as ``kms:ViaService``.
    via_service: str | None = None

    @classmethod
    def from_credential(cls, credential: Credential, source_ip: str) -> Caller:
        return cls(
            credential.principal.account_id,
            credential.principal.arn,
            credential.access_key_id,
            source_ip,
        )
