"""Who a client call is made for: the authenticated principal behind an outer request."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated IAM principal, as a service acting on its behalf sees it."""

    account_id: str
    arn: str
    access_key_id: str
    source_ip: str = ""
    # The region of the outer request (its SigV4 scope); None: the server's default region.
    region: str | None = None


@dataclass(frozen=True, slots=True)
class Credential:
    """An access key with its secret, as a SigV4 verifier needs it.

    The secret is kept out of ``repr`` so a credential can be logged or put in an error safely.
    """

    access_key_id: str
    account_id: str
    principal_arn: str
    _secret: bytes = field(repr=False)

    def secret_bytes(self) -> bytes:
        """The AWS secret access key, UTF-8 encoded."""
        return self._secret

    def principal(self, source_ip: str, region: str | None = None) -> Principal:
        return Principal(self.account_id, self.principal_arn, self.access_key_id, source_ip, region)
