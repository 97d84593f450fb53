"""Who a KMIP client is: its TLS client certificate, registered to one principal.

The certificate has been verified against the configured client CA during the handshake; here
its SHA-256 fingerprint is looked up among the registered clients (`strongroom admin kmip`).
A certificate that is not registered gets nothing (Authentication Not Successful). Lookups are
remembered for one second, so a removed client stops working everywhere within a second while
a busy connection does not read the database on every request.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from strongroom.kms.domain.kmip import KmipClient
from strongroom.kms.service.caller import Caller
from strongroom.kms.storage.kmip import KmipRepository

TTL_SECONDS = 1.0
_MAX_ENTRIES = 10_000


def fingerprint(certificate_der: bytes) -> str:
    return hashlib.sha256(certificate_der).hexdigest()


class KmipIdentities:
    def __init__(
        self, repository: KmipRepository, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._repository = repository
        self._monotonic = monotonic
        self._seen: dict[str, tuple[float, KmipClient | None]] = {}

    def client(self, certificate_fingerprint: str) -> KmipClient | None:
        now = self._monotonic()
        cached = self._seen.get(certificate_fingerprint)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = self._repository.client(certificate_fingerprint)
        if len(self._seen) >= _MAX_ENTRIES:
            self._seen.clear()
        self._seen[certificate_fingerprint] = (now + TTL_SECONDS, found)
        return found

    def caller(self, certificate_fingerprint: str, source_ip: str, region: str) -> Caller | None:
        """The principal the certificate acts as, in ``region`` (KMIP has no regions: the
        server's default); None when it is not registered. The audit trail's access key id is
        the certificate's fingerprint (``kmip:<first 16 hex>``)."""
        found = self.client(certificate_fingerprint)
        if found is None:
            return None
        return Caller(
            found.account_id,
            found.principal_arn,
            "kmip:" + certificate_fingerprint[:16],
            source_ip,
            region,
        )
