"""``strongroom admin kmip``: which client certificate acts as which principal (docs/kmip.md).

A certificate is registered by its SHA-256 fingerprint to an existing user or role of an
account. The server accepts only certificates issued by its configured client CA *and*
registered here (default deny); removing one stops it within a second.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from strongroom.kmip.identity import fingerprint
from strongroom.kms.domain.clock import Clock
from strongroom.kms.domain.kmip import FINGERPRINT_PATTERN, PRINCIPAL_PATTERN, KmipClient
from strongroom.kms.domain.principals import ROLE, USER
from strongroom.kms.service.admin_error import AdminError
from strongroom.kms.storage.database import DuplicateRecord
from strongroom.kms.storage.identity import IdentityRepository
from strongroom.kms.storage.kmip import KmipRepository


class KmipAdmin:
    def __init__(
        self, repository: KmipRepository, identity: IdentityRepository, clock: Clock
    ) -> None:
        self._repository = repository
        self._identity = identity
        self._clock = clock

    def add_client(self, certificate_pem: bytes, principal_arn: str) -> KmipClient:
        try:
            certificate = x509.load_pem_x509_certificate(certificate_pem)
        except ValueError:
            raise AdminError("the file is not a PEM certificate") from None
        account_id = self.account_of(principal_arn)
        kind = "user" if f"{account_id}:user/" in principal_arn else "role"
        name = principal_arn.split(f":{kind}/", 1)[1].rsplit("/", 1)[-1]
        found = self._identity.get_principal(account_id, name, USER if kind == "user" else ROLE)
        if found is None or found.arn != principal_arn:
            raise AdminError(f"no {kind} {principal_arn} in account {account_id}")
        client = KmipClient(
            fingerprint=fingerprint(certificate.public_bytes(Encoding.DER)),
            account_id=account_id,
            principal_arn=principal_arn,
            subject=certificate.subject.rfc4514_string()[:1024],
            created_at=self._clock.now(),
        )
        try:
            self._repository.add_client(client)
        except DuplicateRecord:
            raise AdminError(f"certificate {client.fingerprint} is registered already") from None
        return client

    @staticmethod
    def account_of(principal_arn: str) -> str:
        match = PRINCIPAL_PATTERN.fullmatch(principal_arn)
        if match is None:
            raise AdminError(
                f"{principal_arn!r} is not a user or role ARN (arn:aws:iam::<account>:user/<name>)"
            )
        return match.group(1)

    def client(self, certificate_fingerprint: str) -> KmipClient:
        found = self._repository.client(_normalized(certificate_fingerprint))
        if found is None:
            raise AdminError(f"no KMIP client {_normalized(certificate_fingerprint)}")
        return found

    def list_clients(self, account_id: str | None = None) -> list[KmipClient]:
        return self._repository.clients(account_id)

    def remove_client(self, certificate_fingerprint: str) -> KmipClient:
        normalized = _normalized(certificate_fingerprint)
        removed = self._repository.delete_client(normalized)
        if removed is None:
            raise AdminError(f"no KMIP client {normalized}")
        return removed


def _normalized(certificate_fingerprint: str) -> str:
    normalized = certificate_fingerprint.replace(":", "").lower()
    if FINGERPRINT_PATTERN.fullmatch(normalized) is None:
        raise AdminError("a fingerprint is 64 hexadecimal digits (SHA-256)")
    return normalized
