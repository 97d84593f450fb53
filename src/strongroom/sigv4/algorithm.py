"""The algorithm's fixed parts: dates, the string to sign, key derivation, signatures."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
from functools import lru_cache

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
MAX_PRESIGNED_EXPIRES = 604800  # a week, in seconds: the longest X-Amz-Expires AWS accepts
_AMZ_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z", re.ASCII)


@lru_cache(maxsize=256)
def parse_amz_date(value: str) -> float | None:
    """Epoch seconds of ``YYYYMMDDTHHMMSSZ`` (ISO 8601 basic), or None. Cached: concurrent
    requests share a second."""
    match = _AMZ_DATE.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = map(int, match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()
    except ValueError:
        return None


def trim(value: bytes) -> bytes:
    """SigV4 ``Trimall``: strip, and collapse inner whitespace runs to one space."""
    return b" ".join(value.split())


def string_to_sign(
    amz_date: str, scope: str, canonical_request: bytes, encoding: str = "latin-1"
) -> bytes:
    """``AWS4-HMAC-SHA256 \\n date \\n scope \\n hex(SHA-256(canonical request))``.

    ``encoding`` turns the date and scope back into bytes: ``latin-1`` gives back exactly the
    bytes a request sent when they were decoded as latin-1 (the KMS's verifier)."""
    digest = hashlib.sha256(canonical_request).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}".encode(encoding)


def derive_signing_key(secret: bytes, date: str, region: str, service: str) -> bytes:
    """``HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")``."""
    key = hmac.digest(b"AWS4" + secret, date.encode("ascii"), "sha256")
    for part in (region, service, TERMINATOR):
        key = hmac.digest(key, part.encode("utf-8"), "sha256")
    return key


def signatures_match(expected: bytes, given: bytes) -> bool:
    """Constant-time comparison of two hex signatures."""
    return hmac.compare_digest(expected, given)
