"""What a request served by one of the node's other APIs was, for the node's metrics and
request log: the object store (S3), STS, the XKS proxy and the KMIP server (per batch item)
report one :class:`Served` per request to the KMS server, which counts and logs it as it does
its own requests.

Only names and outcomes: never a body, a header value, an object key, a token or a secret.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Served:
    service: str  # the ``service`` label: "s3", "sts", "xks", "kmip"
    operation: str  # "PutObject", "GetCallerIdentity", "Encrypt" ... or "unknown"
    status: int  # the HTTP status sent
    code: str  # "OK" or the error code the response carried
    account_id: str | None = None  # the authenticated caller, when authentication succeeded
    principal_arn: str | None = None
    request_id: str = ""  # the id the response carried
