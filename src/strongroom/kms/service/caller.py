"""Who is calling: the authenticated principal behind a request."""

from __future__ import annotations

from dataclasses import dataclass, field

from strongroom.kms.domain.frozen import quick_init
from strongroom.kms.domain.principals import Principal
from strongroom.kms.domain.secrets import Secret

CALLERS_PER_CREDENTIAL = 1024


@dataclass(frozen=True, slots=True)
class Credential:
    """An access key with its unsealed secret, as the SigV4 verifier needs it."""

    access_key_id: str
    principal: Principal
    secret: Secret
    # The callers of this key by (source IP, region), each built once: Caller.from_credential.
    # Not an init field, so dataclasses.replace() starts a new credential with none.
    callers: dict[tuple[str, str], Caller] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def secret_bytes(self) -> bytes:
        return self.secret.reveal()


@quick_init  # built on every request (domain/frozen.py)
@dataclass(frozen=True, slots=True)
class Caller:
    account_id: str
    principal_arn: str
    access_key_id: str
    source_ip: str
    # The region the request is made in (its SigV4 credential scope): keys, aliases and ARNs
    # of the call are this region's.
    region: str
    # The AWS service that makes this call on the caller's behalf (``s3.<region>.amazonaws.com``
    # for the object store), or None for a direct call. Policies see it as ``kms:ViaService``.
    via_service: str | None = None
    # A service calling as itself, not for a user: ``principal_arn`` is then its service
    # principal (``s3.amazonaws.com``), which key policies and grants name as ``Service``, and
    # ``account_id`` the account it acts in. ``source_arn`` is the resource it acts for
    # (``aws:SourceArn``, what a service-principal grant's SourceArn constraint checks).
    is_service: bool = False
    source_arn: str | None = None
    # A request the request quotas count (API requests, the object store's and the console's
    # calls); background jobs (campaigns, the scheduler) and KMIP are not counted.
    counted: bool = False

    @classmethod
    def service(
        cls, service_principal: str, account_id: str, region: str, source_arn: str | None = None
    ) -> Caller:
        """An AWS service (``s3.amazonaws.com``) calling as itself in ``account_id``."""
        return cls(
            account_id, service_principal, "", "", region, is_service=True, source_arn=source_arn
        )

    @classmethod
    def from_credential(cls, credential: Credential, source_ip: str, region: str) -> Caller:
        """The caller of an API request signed with ``credential``.

        A caller is immutable and follows from the credential, the address and the region
        alone, so the credential keeps one per (address, region) (at most
        ``CALLERS_PER_CREDENTIAL``): a request finds its caller instead of building one. A
        changed access key or principal is a new ``Credential`` (``CredentialCache``)."""
        callers = credential.callers
        found = callers.get((source_ip, region))
        if found is None:
            if len(callers) >= CALLERS_PER_CREDENTIAL:
                callers.clear()
            principal = credential.principal
            found = callers[source_ip, region] = cls(
                principal.account_id,
                principal.arn,
                credential.access_key_id,
                source_ip,
                region,
                counted=True,
            )
        return found
