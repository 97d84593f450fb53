"""The parts of a KMS/STS request that SigV4 reads, as the verifier (``sigv4.py``) reads them:
headers, query, canonical URI and query, and the Authorization header in botocore's shape.

Everything here works on the bytes an ASGI server hands over; nothing raises a KMS error.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, unquote_to_bytes

from strongroom.sigv4.algorithm import trim

AUTH_PREFIX = b"AWS4-HMAC-SHA256 Credential="
_AUTH_CHARS = bytes(c for c in range(256) if 0x21 <= c <= 0x7E and c != 0x2C)  # [!-+\--~]
_AUTH_SEPARATORS = b" , , "  # what standard_authorization leaves of a standard value


def collect_headers(headers: Sequence[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """Map lowercase names to values; repeated headers are trimmed and joined with ','."""
    out: dict[bytes, bytes] = {}
    for name, value in headers:
        previous = out.get(name)
        out[name] = value if previous is None else trim(previous) + b"," + trim(value)
    return out


def parse_query(query_string: bytes) -> list[tuple[bytes, bytes]]:
    """Decoded (name, value) pairs. '+' is a space, as in the URLs botocore builds."""
    pairs = []
    for piece in query_string.split(b"&"):
        if piece:
            name, _, value = piece.replace(b"+", b" ").partition(b"=")
            pairs.append((unquote_to_bytes(name), unquote_to_bytes(value)))
    return pairs


def canonical_query(pairs: list[tuple[bytes, bytes]], presigned: bool) -> bytes:
    if not pairs:
        return b""
    encoded = sorted(
        (quote(name, safe="-_.~"), quote(value, safe="-_.~"))
        for name, value in pairs
        if not (presigned and name == b"X-Amz-Signature")
    )
    return "&".join(f"{name}={value}" for name, value in encoded).encode("ascii")


def canonical_uri(raw_path: bytes) -> bytes:
    """The raw (still percent-encoded) path, normalised and then encoded once more.

    Non-S3 services double-encode: botocore quotes the already-encoded URL path, so
    ``/a/b%20c/`` is signed as ``/a/b%2520c/``. Dot segments and empty segments go, as in
    botocore's ``remove_dot_segments``.
    """
    if raw_path == b"/" or not raw_path:
        return b"/"
    output: list[bytes] = []
    for segment in raw_path.split(b"/"):
        if segment == b"..":
            if output:
                output.pop()
        elif segment and segment != b".":
            output.append(segment)
    first = b"/" if raw_path.startswith(b"/") else b""
    last = b"/" if raw_path.endswith(b"/") and output else b""
    return quote(first + b"/".join(output) + last, safe="/~").encode("ascii")


def standard_authorization(value: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(Credential, SignedHeaders, Signature) if ``value`` has exactly the shape botocore sends
    (``AWS4-HMAC-SHA256 Credential=X, SignedHeaders=X, Signature=X``, X: one or more printable
    ASCII characters but ','), else None: anything else goes through the slower parser of
    ``_authorization_params``, which also words the errors.

    Deleting X's characters must leave only the separators' ``" , , "``; the two partitions
    then find the two ", " each, in order, or a value is empty."""
    if not value.startswith(AUTH_PREFIX) or (
        value.translate(None, _AUTH_CHARS) != _AUTH_SEPARATORS
    ):
        return None
    credential, _, rest = value[len(AUTH_PREFIX) :].partition(b", SignedHeaders=")
    signed_headers, _, signature = rest.partition(b", Signature=")
    if credential and signed_headers and signature:
        return credential, signed_headers, signature
    return None
