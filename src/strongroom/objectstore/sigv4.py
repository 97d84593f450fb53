"""SigV4 for service ``s3``: header and presigned authentication, S3's canonical request.

S3 differs from the KMS's JSON services (``kms/api/sigv4.py``) in three ways that matter here:
the canonical URI is the path exactly as sent (no normalisation, no second encoding); the
payload hash is whatever ``x-amz-content-sha256`` declares (the hex SHA-256 of the body, checked
once the body has been read, ``UNSIGNED-PAYLOAD`` or one of the aws-chunked ``STREAMING-*``
forms, whose chunks ``chunked.py`` verifies with the :class:`SigningContext` returned here); and
errors are S3's (``SignatureDoesNotMatch``, ``InvalidAccessKeyId``, ...). The algorithm's
fixed parts (dates, string to sign, key derivation and cache, comparison) are
``strongroom.sigv4``'s, shared with the KMS's verifier.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, unquote_to_bytes

from strongroom.client.identity import Authenticator
from strongroom.client.principal import Credential
from strongroom.objectstore.errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidRequest,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
)
from strongroom.sigv4.algorithm import (
    ALGORITHM,
    MAX_PRESIGNED_EXPIRES,
    parse_amz_date,
    signatures_match,
    string_to_sign,
)
from strongroom.sigv4.algorithm import derive_signing_key as _derive
from strongroom.sigv4.keys import SigningKeyCache

UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING = frozenset((STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER))
_HEX64 = re.compile(r"[0-9a-f]{64}")
_AUTH = re.compile(r"AWS4-HMAC-SHA256\s+(.*)", re.DOTALL)
_SIGNING_KEY_CACHE = 10_000


@dataclass(frozen=True, slots=True)
class SigningContext:
    """What verifying aws-chunked chunk signatures needs: chained from the seed signature."""

    signing_key: bytes = field(repr=False)
    amz_date: str
    scope: str
    seed_signature: str
    # False with development credentials: chunk and trailer signatures are not compared either.
    checked: bool = True


@dataclass(frozen=True, slots=True)
class Authenticated:
    credential: Credential
    payload: str  # the declared x-amz-content-sha256 (or UNSIGNED-PAYLOAD for presigned)
    signing: SigningContext | None  # None for SigV2 presigned URLs
    presigned: bool
    # The region of the SigV4 scope (the request's region); None for SigV2 presigned URLs.
    region: str | None = None


def _trim(value: str) -> str:
    return " ".join(value.split())


def canonical_query(query_string: bytes, *, presigned: bool) -> str:
    pairs = []
    for piece in query_string.split(b"&"):
        if not piece:
            continue
        name, _, value = piece.partition(b"=")
        name_b, value_b = unquote_to_bytes(name), unquote_to_bytes(value)
        if presigned and name_b == b"X-Amz-Signature":
            continue
        pairs.append((quote(name_b, safe="-_.~"), quote(value_b, safe="-_.~")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def derive_signing_key(secret: bytes, date: str, region: str) -> bytes:
    """The signing key of service ``s3`` (aws-chunked chunk signatures chain from it)."""
    return _derive(secret, date, region, "s3")


def sign(signing_key: bytes, string_to_sign: str) -> str:
    return hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class _Params:
    access_key_id: str
    scope: str  # date/region/service/aws4_request
    signed_headers: str
    signature: str
    amz_date: str
    expires: int | None


class S3SigV4Verifier:
    """Verifies SigV4 for service ``s3`` in the regions served (``region`` and ``regions``)."""

    def __init__(
        self,
        region: str,
        authenticator: Authenticator,
        *,
        clock: Callable[[], float] = time.time,
        max_skew_seconds: int = 300,
        regions: Collection[str] = (),
        check_signatures: bool = True,
    ) -> None:
        """``check_signatures=False`` is development credentials (``dev_credentials``, loopback
        only): every check but the signature comparisons, as for the KMS's verifier."""
        self._check_signatures = check_signatures
        self._region = region
        self._regions = frozenset(regions) | {region}
        self._authenticator = authenticator
        self._clock = clock
        self._max_skew = max_skew_seconds
        self._keys = SigningKeyCache("s3", _SIGNING_KEY_CACHE)

    def verify(
        self,
        method: str,
        raw_path: bytes,
        query_string: bytes,
        headers: dict[str, str],
    ) -> Authenticated:
        params = self._params(headers, query_string)
        presigned = params.expires is not None
        self._check_time(params)
        date, region, service, terminator = [*params.scope.split("/"), "", "", ""][:4]
        if region not in self._regions:
            raise AuthorizationHeaderMalformed(
                f"The authorization header is malformed; the region '{region}' is wrong; "
                f"expecting '{self._region}'"
            )
        if service != "s3" or terminator != "aws4_request" or date != params.amz_date[:8]:
            raise AuthorizationHeaderMalformed()
        if presigned:
            payload = headers.get("x-amz-content-sha256", UNSIGNED)
        else:
            declared = headers.get("x-amz-content-sha256")
            if declared is None:
                raise InvalidRequest(
                    "Missing required header for this request: x-amz-content-sha256"
                )
            payload = declared
        if payload != UNSIGNED and payload not in STREAMING and not _HEX64.fullmatch(payload):
            raise InvalidArgument(
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                "STREAMING-* or a valid sha256 value."
            )
        names = params.signed_headers.split(";")
        if "host" not in names:
            raise AccessDenied("There were headers present in the request which were not signed")
        lines = [method, raw_path.decode("latin-1") or "/"]
        lines.append(canonical_query(query_string, presigned=presigned))
        for name in names:
            value = headers.get(name)
            if value is None:
                raise SignatureDoesNotMatch()
            lines.append(f"{name}:{_trim(value)}")
        lines += ["", params.signed_headers, payload]
        canonical = "\n".join(lines)
        credential = self._authenticator.lookup(params.access_key_id)
        if credential is None:
            raise InvalidAccessKeyId()
        message = string_to_sign(
            params.amz_date, params.scope, canonical.encode("utf-8"), encoding="utf-8"
        )
        key = self._keys.get(credential.secret_bytes(), date, region)
        checked = self._check_signatures
        if checked and not signatures_match(key.sign(message), params.signature.encode("utf-8")):
            raise SignatureDoesNotMatch()
        context = SigningContext(
            key.key, params.amz_date, params.scope, params.signature, checked=checked
        )
        return Authenticated(credential, payload, context, presigned, region)

    def _params(self, headers: dict[str, str], query_string: bytes) -> _Params:
        authorization = headers.get("authorization")
        if authorization is not None:
            return self._header_params(authorization, headers)
        query = _query_map(query_string)
        if "X-Amz-Signature" in query or "X-Amz-Credential" in query:
            return _presigned_params(query)
        raise AccessDenied("Anonymous access is not allowed.")

    def _header_params(self, authorization: str, headers: dict[str, str]) -> _Params:
        match = _AUTH.fullmatch(authorization.strip())
        if match is None:
            raise InvalidArgument("Unsupported Authorization Type")
        fields: dict[str, str] = {}
        for part in match[1].split(","):
            name, sep, value = part.strip().partition("=")
            if sep:
                fields[name] = value.strip()
        try:
            credential, signed, signature = (
                fields["Credential"],
                fields["SignedHeaders"],
                fields["Signature"],
            )
        except KeyError:
            raise AuthorizationHeaderMalformed() from None
        amz_date = headers.get("x-amz-date", "")
        if not amz_date:
            raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header")
        access_key_id, _, scope = credential.partition("/")
        return _Params(access_key_id, scope, signed, signature, amz_date, None)

    def _check_time(self, params: _Params) -> None:
        epoch = parse_amz_date(params.amz_date)
        if epoch is None:
            raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header")
        now = self._clock()
        if params.expires is not None:
            if epoch - self._max_skew > now:
                raise AccessDenied("Request is not valid yet")
            if now > epoch + params.expires:
                raise AccessDenied("Request has expired")
            return
        if abs(now - epoch) > self._max_skew:
            raise RequestTimeTooSkewed()


def _query_map(query_string: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for piece in query_string.split(b"&"):
        name, _, value = piece.partition(b"=")
        out[unquote_to_bytes(name).decode("latin-1")] = unquote_to_bytes(value).decode("latin-1")
    return out


def _presigned_params(query: dict[str, str]) -> _Params:
    try:
        algorithm = query["X-Amz-Algorithm"]
        credential = query["X-Amz-Credential"]
        amz_date = query["X-Amz-Date"]
        expires_text = query["X-Amz-Expires"]
        signed = query["X-Amz-SignedHeaders"]
        signature = query["X-Amz-Signature"]
    except KeyError:
        raise AuthorizationHeaderMalformed(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
            "X-Amz-Expires parameters."
        ) from None
    if algorithm != ALGORITHM:
        raise AuthorizationHeaderMalformed('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    if not expires_text.isdigit() or not 1 <= int(expires_text) <= MAX_PRESIGNED_EXPIRES:
        raise AuthorizationHeaderMalformed(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800"
        )
    access_key_id, _, scope = credential.partition("/")
    return _Params(access_key_id, scope, signed, signature, amz_date, int(expires_text))


def header_map(headers: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-case names to values; repeated headers joined with ',' as SigV4 does."""
    out: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        previous = out.get(name)
        out[name] = value if previous is None else f"{_trim(previous)},{_trim(value)}"
    return out
