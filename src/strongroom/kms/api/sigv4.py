"""Server-side verification of AWS Signature Version 4 (header and presigned query auth).

The canonical request is rebuilt exactly as botocore builds it for non-S3 services, so
botocore-based clients (boto3, the AWS CLI) are accepted. Only ``hashlib``/``hmac`` are used,
on bytes. Derived signing keys are cached per (secret, day, region), so a warm verification
costs a SHA-256 of the body, a SHA-256 of the canonical request and one HMAC. The algorithm's
fixed parts (string to sign, key derivation, comparison) are shared with the object store's
verifier in ``strongroom.sigv4``.

Check order (it decides which error a broken request gets): parse the authentication
parameters and the date, check skew / expiry, check the credential scope and the signed
headers, look up the access key, and only then compute and compare the signature.
Messages never contain the secret, the signing key or any signature.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Generic, NamedTuple, Protocol, TypeVar

from strongroom.kms import messages
from strongroom.kms.api.sigv4_request import (
    canonical_query,
    canonical_uri,
    collect_headers,
    parse_query,
    standard_authorization,
)
from strongroom.kms.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from strongroom.sigv4.algorithm import (
    ALGORITHM,
    MAX_PRESIGNED_EXPIRES,
    parse_amz_date,
    signatures_match,
    string_to_sign,
    trim,
)
from strongroom.sigv4.keys import SigningKeyCache

__all__ = ["AccessKeySecret", "SigV4Verifier"]

SIGNING_KEY_CACHE_SIZE = 10_000
SIGNATURE_MISMATCH = messages.SIGNATURE_MISMATCH
_MISSING_QUERY_PARAMS = messages.MISSING_QUERY_PARAMS
_QUERY_AUTH_PARAMS = tuple(
    b"X-Amz-" + name
    for name in b"Algorithm Credential Date Expires SignedHeaders Signature".split()
)
# Any of these in the query (and no Authorization header) means presigned query auth.
_QUERY_AUTH_MARKERS = frozenset((b"X-Amz-Algorithm", b"X-Amz-Credential", b"X-Amz-Signature"))
_ALGORITHM = ALGORITHM.encode("ascii")


class AccessKeySecret(Protocol):
    """What the verifier needs to know about a credential."""

    @property
    def access_key_id(self) -> str: ...

    def secret_bytes(self) -> bytes:
        """The AWS secret access key, UTF-8 encoded."""
        ...


C = TypeVar("C", bound=AccessKeySecret)


class _Auth(NamedTuple):
    """The authentication parameters of one request, from the header or the query."""

    credential: str  # AKID/date/region/service/aws4_request
    signed_headers: bytes  # as sent; enters the canonical request verbatim
    signature: bytes
    amz_date: str  # ISO 8601 basic; enters the string to sign
    epoch: float
    expires: int | None  # presigned requests only

    @property
    def access_key_id(self) -> str:
        return self.credential.partition("/")[0]

    @property
    def scope(self) -> str:
        return self.credential.partition("/")[2]

    @property
    def echo(self) -> str:
        """The parameters for error messages: never the signature."""
        return _echo(self.credential, self.signed_headers.decode("latin-1"), self.expires)


def _echo(credential: str, signed_headers: str, expires: int | None = None) -> str:
    if expires is not None:
        return f"X-Amz-Credential={credential}, X-Amz-SignedHeaders={signed_headers}"
    return f"Authorization={ALGORITHM} Credential={credential}, SignedHeaders={signed_headers}"


def _parse_http_date(value: str) -> float | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=parsed.tzinfo or UTC).timestamp()


def _iso(epoch: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def _check_credential(credential: str) -> None:
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignatureException(messages.credential_elements(credential))
    if parts[4] != "aws4_request":
        raise IncompleteSignatureException(messages.credential_terminator(parts[4]))


def _authorization_params(value: bytes) -> tuple[str, bytes, bytes]:
    """(Credential, SignedHeaders, Signature) from an Authorization header value."""
    standard = standard_authorization(value)
    if standard is not None:
        return standard[0].decode("latin-1"), standard[1], standard[2]
    algorithm, _, rest = value.strip().partition(b" ")
    if algorithm != ALGORITHM.encode():
        raise IncompleteSignatureException(messages.unsupported_algorithm(ALGORITHM))
    params: dict[str, str] = {}
    for part in rest.decode("latin-1").split(","):
        key, sep, val = part.strip().partition("=")
        if sep:
            params.setdefault(key, val.strip())
    missing = [key for key in ("Credential", "SignedHeaders", "Signature") if key not in params]
    if missing:
        present = [
            f"{key}={params[key]}" for key in ("Credential", "SignedHeaders") if key in params
        ]
        echo = f"Authorization={ALGORITHM} {', '.join(present)}".rstrip()
        text = "".join(messages.authorization_parameter_required(key) for key in missing)
        raise IncompleteSignatureException(text + echo)
    signature = params["Signature"].encode("latin-1")
    return params["Credential"], params["SignedHeaders"].encode("latin-1"), signature


def _header_auth(authorization: bytes, headers: dict[bytes, bytes]) -> _Auth:
    credential, signed_headers, signature = _authorization_params(authorization)
    _check_credential(credential)
    amz_date, epoch = _header_date(headers)
    if amz_date is None or epoch is None:
        problem = messages.DATE_HEADER_REQUIRED if amz_date is None else messages.DATE_FORMAT
        raise IncompleteSignatureException(
            problem + _echo(credential, signed_headers.decode("latin-1"))
        )
    return _Auth(credential, signed_headers, signature, amz_date, epoch, None)


def _header_date(headers: dict[bytes, bytes]) -> tuple[str | None, float | None]:
    """(ISO basic date, epoch) from X-Amz-Date, which wins, or Date; None where absent/invalid."""
    raw = headers.get(b"x-amz-date")
    if raw is not None:
        amz_date = raw.decode("latin-1").strip()
        return amz_date, parse_amz_date(amz_date)
    raw = headers.get(b"date")
    if raw is None:
        return None, None
    epoch = _parse_http_date(raw.decode("latin-1"))
    return ("" if epoch is None else _iso(epoch)), epoch


def _query_auth(query: dict[bytes, bytes]) -> _Auth:
    try:
        values = [query[name] for name in _QUERY_AUTH_PARAMS]
    except KeyError:
        raise IncompleteSignatureException(_MISSING_QUERY_PARAMS) from None
    algorithm, credential_b, date_b, expires_b, signed_headers, signature = values
    credential, amz_date = credential_b.decode("latin-1"), date_b.decode("latin-1")
    if algorithm != ALGORITHM.encode():
        raise IncompleteSignatureException(messages.unsupported_query_algorithm(ALGORITHM))
    _check_credential(credential)
    epoch = parse_amz_date(amz_date)
    if epoch is None:
        raise IncompleteSignatureException(
            messages.QUERY_DATE_FORMAT + _echo(credential, signed_headers.decode("latin-1"), 0)
        )
    expires = int(expires_b) if expires_b.isdigit() and len(expires_b) < 10 else 0
    if not 1 <= expires <= MAX_PRESIGNED_EXPIRES:
        raise IncompleteSignatureException(messages.expires_range(MAX_PRESIGNED_EXPIRES))
    return _Auth(credential, signed_headers, signature, amz_date, epoch, expires)


def _check_signed_headers(auth: _Auth, headers: dict[bytes, bytes]) -> None:
    names = auth.signed_headers.lower().split(b";")
    if b"host" not in names:
        raise InvalidSignatureException(f"{messages.HOST_MUST_BE_SIGNED} {auth.echo}")
    if auth.expires is None:  # the header the request time came from must be signed too
        date_header = b"x-amz-date" if b"x-amz-date" in headers else b"date"
        if date_header not in names:
            raise InvalidSignatureException(
                f"{messages.header_must_be_signed(date_header.decode().title())} {auth.echo}"
            )
    for name in names:
        if name not in headers:
            raise InvalidSignatureException(
                messages.signed_header_missing(name.decode("latin-1")) + auth.echo
            )


def _payload_hash(headers: dict[bytes, bytes], body: bytes) -> bytes:
    """The hex SHA-256 of the body; a declared X-Amz-Content-SHA256 must agree with it.

    ``UNSIGNED-PAYLOAD`` is S3's and is refused here, presigned or not: the KMS and STS
    read what to do from the body, so a signature that does not cover the body would let
    whoever holds a presigned URL send any request (AWS's non-S3 services sign the body too).
    """
    declared = headers.get(b"x-amz-content-sha256")
    actual = hashlib.sha256(body).hexdigest().encode("ascii")
    if declared is not None and declared.strip() != actual:
        raise InvalidSignatureException(messages.CONTENT_SHA256_MISMATCH)
    return actual


def _string_to_sign(
    auth: _Auth,
    *,
    method: str,
    raw_path: bytes,
    pairs: list[tuple[bytes, bytes]],
    headers: dict[bytes, bytes],
    body: bytes,
) -> bytes:
    presigned = auth.expires is not None
    lines = [method.upper().encode("latin-1"), canonical_uri(raw_path)]
    lines.append(canonical_query(pairs, presigned))
    for name in auth.signed_headers.lower().split(b";"):
        lines.append(name + b":" + trim(headers[name]))
    lines += (b"", auth.signed_headers, _payload_hash(headers, body))
    return string_to_sign(auth.amz_date, auth.scope, b"\n".join(lines))


class SigV4Verifier(Generic[C]):
    """Verifies SigV4-signed requests for one service in the regions it serves."""

    def __init__(
        self,
        *,
        regions: Collection[str] | None,
        service: str,
        lookup: Callable[[str], C | None],
        clock: Callable[[], float] = time.time,
        max_skew_seconds: int = 300,
        presigned_signed_headers: Sequence[bytes] = (),
        check_signatures: bool = True,
    ) -> None:
        """``presigned_signed_headers``: headers a presigned request must sign when it sends
        them. The KMS names ``x-amz-target``: it picks the operation, and a URL presigned for
        one operation must not run another. ``regions`` are the regions served (a scope naming
        another is refused as AWS refuses it); None accepts any region in the scope (the XKS
        proxy: AWS KMS signs with its own region).

        ``check_signatures=False`` is development credentials (``dev_credentials``): a request
        must still be well-formed SigV4 in time and scope, but its signature is not compared,
        so any secret is accepted. Settings refuse it on non-loopback addresses."""
        self._regions = None if regions is None else frozenset(regions)
        self._service = service
        self._lookup = lookup
        self._clock = clock
        self._max_skew = max_skew_seconds
        self._presigned_signed = tuple(presigned_signed_headers)
        self._check_signatures = check_signatures
        self._signing_keys = SigningKeyCache(service, SIGNING_KEY_CACHE_SIZE)
        self._service_bytes = service.encode("latin-1")

    def __repr__(self) -> str:
        count = "any" if self._regions is None else len(self._regions)
        return f"SigV4Verifier(regions={count}, service={self._service!r})"

    @property
    def cached_signing_keys(self) -> int:
        """How many derived signing keys are cached (for tests and metrics)."""
        return len(self._signing_keys)

    def verify(
        self,
        method: str,
        raw_path: bytes,
        query_string: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
    ) -> tuple[C, str]:
        """Return the credential that signed the request and the region of its scope (the
        region the request is made in), or raise."""
        if not query_string:
            found = self._verify_common(method, raw_path, headers, body)
            if found is not None:
                return found
        return self._verify_any(method, raw_path, query_string, headers, body)

    def _verify_common(
        self, method: str, raw_path: bytes, headers: Sequence[tuple[bytes, bytes]], body: bytes
    ) -> tuple[C, str] | None:
        """The request every SDK sends (header auth, X-Amz-Date, no query, each header once),
        accepted in fewer steps; None: anything else, including every refusal.

        It checks what :meth:`_verify_any` checks, as a condition rather than an error: when it
        returns None the request is verified again by :meth:`_verify_any`, which says what is
        wrong. Hence it can only accept what ``_verify_any`` accepts, never refuse differently.
        """
        header_map = dict(headers)
        authorization = header_map.get(b"authorization")
        # A repeated header is joined by collect_headers: not here.
        if len(header_map) != len(headers) or authorization is None:
            return None
        standard = standard_authorization(authorization)
        if standard is None:
            return None
        credential, signed_headers, signature = standard
        scope = credential.split(b"/")
        amz_date = header_map.get(b"x-amz-date")
        if len(scope) != 5 or scope[4] != b"aws4_request" or amz_date is None:
            return None
        # The strict format has no whitespace, so the value is used as it is (no strip).
        epoch = parse_amz_date(amz_date.decode("latin-1"))
        now = self._clock()
        region = scope[2].decode("latin-1")
        if (
            epoch is None
            or not now - self._max_skew <= epoch <= now + self._max_skew
            or scope[1] != amz_date[:8]
            or (self._regions is not None and region not in self._regions)
            or scope[3] != self._service_bytes
        ):
            return None
        names = signed_headers.lower().split(b";")
        if b"host" not in names or b"x-amz-date" not in names:
            return None
        for name in names:
            if name not in header_map:
                return None
        key = self._lookup(scope[0].decode("latin-1"))
        if key is None:
            return None
        if not self._check_signatures:
            return key, region
        payload = hashlib.sha256(body).hexdigest().encode("ascii")
        declared = header_map.get(b"x-amz-content-sha256")
        if declared is not None and declared.strip() != payload:
            return None
        lines = [
            b"POST" if method == "POST" else method.upper().encode("latin-1"),
            b"/" if raw_path == b"/" else canonical_uri(raw_path),
            b"",  # no query string
        ]
        lines += [name + b":" + b" ".join(header_map[name].split()) for name in names]
        lines += (b"", signed_headers, payload)
        canonical = hashlib.sha256(b"\n".join(lines)).hexdigest().encode("ascii")
        message = b"\n".join((_ALGORITHM, amz_date, credential.partition(b"/")[2], canonical))
        signing_key = self._signing_keys.get(key.secret_bytes(), scope[1].decode(), region)
        if signatures_match(signing_key.sign(message), signature):
            return key, region
        return None

    def _verify_any(
        self,
        method: str,
        raw_path: bytes,
        query_string: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
    ) -> tuple[C, str]:
        """Any request, header or query auth: the credential and region, or the error."""
        header_map = collect_headers(headers)
        pairs = parse_query(query_string) if query_string else []
        auth = self._authentication(header_map, pairs)
        self._check_time(auth)
        self._check_scope(auth)
        _check_signed_headers(auth, header_map)
        if auth.expires is not None:
            self._check_presigned_headers(auth, header_map)
        credential = self._lookup(auth.access_key_id)
        if credential is None:
            raise UnrecognizedClientException
        region = auth.scope.split("/", 2)[1]
        if not self._check_signatures:
            return credential, region
        message = _string_to_sign(
            auth, method=method, raw_path=raw_path, pairs=pairs, headers=header_map, body=body
        )
        key = self._signing_keys.get(credential.secret_bytes(), auth.amz_date[:8], region)
        if not signatures_match(key.sign(message), auth.signature):
            raise InvalidSignatureException(SIGNATURE_MISMATCH)
        return credential, region

    def _authentication(
        self, headers: dict[bytes, bytes], pairs: list[tuple[bytes, bytes]]
    ) -> _Auth:
        authorization = headers.get(b"authorization")
        query_auth = any(name in _QUERY_AUTH_MARKERS for name, _ in pairs)
        if authorization is not None:
            if query_auth:
                raise IncompleteSignatureException(messages.ONE_AUTH_MECHANISM)
            return _header_auth(authorization, headers)
        if query_auth:
            return _query_auth(dict(pairs))
        raise MissingAuthenticationTokenException

    def _check_time(self, auth: _Auth) -> None:
        """Header auth allows max_skew_seconds either way; presigned URLs live X-Amz-Expires."""
        now = self._clock()
        ttl = self._max_skew if auth.expires is None else auth.expires
        if auth.epoch < now - ttl:
            unit = f"{ttl // 60} min." if auth.expires is None else f"{ttl} sec."
            raise InvalidSignatureException(
                messages.signature_expired(auth.amz_date, _iso(now - ttl), _iso(now), unit)
            )
        if auth.epoch > now + self._max_skew:
            raise InvalidSignatureException(
                messages.signature_not_yet_current(
                    auth.amz_date, _iso(now + self._max_skew), _iso(now), self._max_skew // 60
                )
            )

    def _check_presigned_headers(self, auth: _Auth, headers: dict[bytes, bytes]) -> None:
        names = auth.signed_headers.lower().split(b";")
        for name in self._presigned_signed:
            if name in headers and name not in names:
                raise InvalidSignatureException(
                    f"{messages.presigned_header_must_be_signed(name.decode('latin-1'))} "
                    f"{auth.echo}"
                )

    def _check_scope(self, auth: _Auth) -> None:
        date, region, service, _ = auth.scope.split("/")
        if date != auth.amz_date[:8]:
            raise InvalidSignatureException(
                messages.scope_date_mismatch(date, auth.amz_date[:8], auth.amz_date)
            )
        if self._regions is not None and region not in self._regions:
            raise InvalidSignatureException(messages.region_out_of_scope(region))
        if service != self._service:
            raise InvalidSignatureException(messages.service_out_of_scope(self._service))
