"""Presigned URLs in AWS Signature Version 2 (query string), which S3 still accepts.

boto3 and the AWS CLI presign S3 URLs with SigV2 by default in ``us-east-1``
(``generate_presigned_url``, ``aws s3 presign``), so a store that only knew SigV4 would refuse
the URLs those tools hand out. Only the query-string form is accepted; header-signed SigV2
requests get ``AccessDenied``. HMAC-SHA1 over S3's canonical string, constant-time compare.
"""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Callable

from strongroom.client.identity import Authenticator
from strongroom.client.principal import Credential
from strongroom.objectstore.errors import AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch

# Query parameters that are part of the signed resource (S3's "sub-resources").
_SUBRESOURCES = frozenset(
    (
        "acl",
        "delete",
        "encryption",
        "lifecycle",
        "location",
        "logging",
        "notification",
        "partNumber",
        "policy",
        "requestPayment",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
    )
)


def is_presigned_v2(query: dict[str, str]) -> bool:
    return "AWSAccessKeyId" in query and "Signature" in query


class S3SigV2PresignVerifier:
    def __init__(
        self, authenticator: Authenticator, clock: Callable[[], float] = time.time
    ) -> None:
        self._authenticator = authenticator
        self._clock = clock

    def verify(
        self, method: str, raw_path: bytes, query: dict[str, str], headers: dict[str, str]
    ) -> Credential:
        """``raw_path`` is the path as sent, with ``/<bucket>`` in front for a virtual host."""
        expires = query.get("Expires", "")
        if not expires.isdigit():
            raise AccessDenied(
                "Query-string authentication requires the Signature, Expires and "
                "AWSAccessKeyId parameters"
            )
        if int(expires) < self._clock():
            raise AccessDenied("Request has expired")
        credential = self._authenticator.lookup(query["AWSAccessKeyId"])
        if credential is None:
            raise InvalidAccessKeyId()
        amz = sorted(
            (name, value.strip()) for name, value in headers.items() if name.startswith("x-amz-")
        )
        sub = sorted((n, v) for n, v in query.items() if n in _SUBRESOURCES)
        resource = raw_path.decode("latin-1")
        if sub:
            resource += "?" + "&".join(f"{n}={v}" if v else n for n, v in sub)
        lines = [
            method,
            headers.get("content-md5", ""),
            headers.get("content-type", ""),
            expires,
            *(f"{n}:{v}" for n, v in amz),
            resource,
        ]
        digest = hmac.digest(credential.secret_bytes(), "\n".join(lines).encode("utf-8"), "sha1")
        if not hmac.compare_digest(base64.b64encode(digest).decode("ascii"), query["Signature"]):
            raise SignatureDoesNotMatch()
        return credential
