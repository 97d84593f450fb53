"""SigV4 verification against requests signed by botocore itself."""

from __future__ import annotations

import calendar
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from unittest import mock
from urllib.parse import urlsplit

import botocore.auth
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.kms.api import sigv4
from strongroom.kms.api.sigv4 import SIGNATURE_MISMATCH, SigV4Verifier
from strongroom.kms.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    KmsError,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

ENDPOINT = "https://kms.us-east-1.amazonaws.com"
AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
NOW = datetime(2026, 11, 29, 1, 0, 0)  # naive UTC, as botocore's clock returns it
BODY = json.dumps(
    {
        "KeyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "Plaintext": "QUJD" * 300,
        "EncryptionContext": {"purpose": "test"},
    }
).encode()
SCOPE = "20261129/us-east-1/kms/aws4_request"
SIGNED = "content-type;host;x-amz-date;x-amz-target"


@dataclass(frozen=True)
class Cred:
    access_key_id: str
    secret: str

    def secret_bytes(self) -> bytes:
        return self.secret.encode("utf-8")


CRED = Cred(AKID, SECRET)


class Request(NamedTuple):
    method: str
    raw_path: bytes
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes:
        return next(value for key, value in self.headers if key == name)

    def with_header(self, name: bytes, value: bytes | None) -> Request:
        headers = [(k, v) for k, v in self.headers if k != name]
        if value is not None:
            headers.append((name, value))
        return self._replace(headers=headers)


def epoch(moment: datetime) -> float:
    return float(calendar.timegm(moment.timetuple()))


def to_asgi(request: Any) -> Request:
    """What an ASGI server hands us for a botocore request (host added as urllib3 does)."""
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    headers = [
        (name.lower().encode("latin-1"), str(value).encode("latin-1"))
        for name, value in request.headers.items()
    ]
    if not any(name == b"host" for name, _ in headers):
        headers.append((b"host", url.netloc.encode("ascii")))
    body = prepared.body or b""
    return Request(
        request.method, (url.path or "/").encode("ascii"), url.query.encode("ascii"), headers, body
    )


def sign(
    *,
    body: bytes = BODY,
    at: datetime = NOW,
    secret: str = SECRET,
    region: str = "us-east-1",
    service: str = "kms",
    url: str = ENDPOINT + "/",
    params: dict[str, str] | None = None,
    extra_headers: dict[str, str] | None = None,
    signer: type[Any] = SigV4Auth,
) -> Request:
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "TrentService.Encrypt",
        **(extra_headers or {}),
    }
    request = AWSRequest(method="POST", url=url, data=body, headers=headers, params=params)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=at):
        signer(Credentials(AKID, secret), service, region).add_auth(request)
    return to_asgi(request)


def presign(*, at: datetime = NOW, expires: int = 300) -> Request:
    request = AWSRequest(method="GET", url=ENDPOINT + "/?Action=Ping&b=x%20y")
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=at):
        SigV4QueryAuth(Credentials(AKID, SECRET), "kms", "us-east-1", expires=expires).add_auth(
            request
        )
    return to_asgi(request)


def make_verifier(creds: dict[str, Cred] | None = None, now: datetime = NOW) -> SigV4Verifier[Cred]:
    table = {AKID: CRED} if creds is None else creds
    return SigV4Verifier(
        regions=("us-east-1",), service="kms", lookup=table.get, clock=lambda: epoch(now)
    )


def verify(request: Request, verifier: SigV4Verifier[Cred] | None = None) -> Cred:
    verifier = verifier or make_verifier()
    credential, region = verifier.verify(
        request.method, request.raw_path, request.query, request.headers, request.body
    )
    assert region == "us-east-1"  # the scope's region: the region the request is made in
    return credential


def authorization(request: Request) -> str:
    return request.header(b"authorization").decode()


def with_authorization(request: Request, value: str) -> Request:
    return request.with_header(b"authorization", value.encode())


def botocore_signature(request: Request) -> str:
    return authorization(request).rpartition("Signature=")[2]


# --- accepted requests -----------------------------------------------------------------------


def test_valid_request_returns_the_looked_up_credential() -> None:
    asked: list[str] = []

    def lookup(access_key_id: str) -> Cred | None:
        asked.append(access_key_id)
        return CRED if access_key_id == AKID else None

    verifier = SigV4Verifier(
        regions=("us-east-1",), service="kms", lookup=lookup, clock=lambda: epoch(NOW)
    )
    request = sign()
    assert authorization(request).startswith(
        f"AWS4-HMAC-SHA256 Credential={AKID}/{SCOPE}, SignedHeaders={SIGNED}, Signature="
    )
    assert len(request.body) > 1000
    assert verify(request, verifier) is CRED
    assert asked == [AKID]


def test_request_with_odd_path_and_query_params_is_accepted() -> None:
    request = sign(url=ENDPOINT + "/a/b%20c/", params={"b": "x y", "a": "1/2", "c": "é~"})
    assert request.raw_path == b"/a/b%20c/"
    assert request.query == b"b=x+y&a=1%2F2&c=%C3%A9~"
    assert verify(request) is CRED


def test_dot_segments_double_slashes_and_repeated_query_names_are_canonicalised() -> None:
    request = sign(url=ENDPOINT + "/a/./b%20c//d/../?z=a%20b&a=2&a=1&e=")
    assert request.raw_path == b"/a/./b%20c//d/../"
    assert verify(request) is CRED
    tampered = request._replace(query=b"z=a%20b&a=2&a=3&e=")
    with pytest.raises(InvalidSignatureException, match=r"^The request signature we calculated"):
        verify(tampered)


def test_path_is_part_of_the_signature() -> None:
    request = sign(url=ENDPOINT + "/a/b%20c/")
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(request._replace(raw_path=b"/a/b%20d/"))
    assert excinfo.value.message == SIGNATURE_MISMATCH


def test_repeated_headers_are_joined_and_whitespace_trimmed_like_botocore() -> None:
    request = AWSRequest(method="POST", url=ENDPOINT + "/", data=BODY)
    request.headers["X-Amz-Target"] = "TrentService.Encrypt"
    request.headers["X-Extra"] = "  a   b  "
    request.headers["X-Extra"] = "c\t\td"  # HTTPHeaders keeps both, like the wire
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=NOW):
        SigV4Auth(Credentials(AKID, SECRET), "kms", "us-east-1").add_auth(request)
    asgi = to_asgi(request)
    assert [v for k, v in asgi.headers if k == b"x-extra"] == [b"  a   b  ", b"c\t\td"]
    assert verify(asgi) is CRED
    swapped = [(k, v) for k, v in asgi.headers if k != b"x-extra"]
    swapped += [(b"x-extra", b"c d"), (b"x-extra", b"a b")]
    with pytest.raises(InvalidSignatureException, match=r"^The request signature we calculated"):
        verify(asgi._replace(headers=swapped))


def test_date_header_instead_of_x_amz_date_is_accepted() -> None:
    request = sign(extra_headers={"Date": "placeholder, botocore rewrites it"})
    assert request.header(b"date") == b"Sun, 29 Nov 2026 01:00:00 -0000"
    assert b"x-amz-date" not in dict(request.headers)
    assert verify(request) is CRED


def test_matching_x_amz_content_sha256_is_accepted() -> None:
    digest = hashlib.sha256(BODY).hexdigest()
    assert verify(sign(extra_headers={"X-Amz-Content-SHA256": digest})) is CRED


def test_x_amz_content_sha256_that_does_not_match_the_body_is_rejected() -> None:
    # botocore signs whatever the header says, so only the explicit check can catch this.
    request = sign(extra_headers={"X-Amz-Content-SHA256": hashlib.sha256(b"other").hexdigest()})
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(request)
    assert excinfo.value.message == (
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    )


# --- signature mismatches --------------------------------------------------------------------


def _flip_signature_digit(request: Request) -> Request:
    value = authorization(request)
    last = value[-1]
    return with_authorization(request, value[:-1] + ("0" if last != "0" else "1"))


TAMPERINGS: dict[str, Callable[[Request], Request]] = {
    "body": lambda r: r._replace(body=r.body.replace(b"purpose", b"purpoze")),
    "target": lambda r: r.with_header(b"x-amz-target", b"TrentService.Decrypt"),
    "signature": _flip_signature_digit,
    "method": lambda r: r._replace(method="PUT"),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_tampered_request_is_rejected(tamper: Callable[[Request], Request]) -> None:
    request = tamper(sign())
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(request)
    assert type(excinfo.value) is InvalidSignatureException
    assert excinfo.value.message == SIGNATURE_MISMATCH


def test_wrong_secret_is_rejected() -> None:
    verifier = make_verifier({AKID: Cred(AKID, "not-the-secret")})
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(sign(), verifier)
    assert excinfo.value.message == SIGNATURE_MISMATCH


def test_unknown_access_key_is_unrecognized() -> None:
    with pytest.raises(UnrecognizedClientException) as excinfo:
        verify(sign(), make_verifier({}))
    assert excinfo.value.message == "The security token included in the request is invalid."


def test_unknown_access_key_is_reported_before_the_signature_is_checked() -> None:
    with pytest.raises(UnrecognizedClientException):
        verify(_flip_signature_digit(sign()), make_verifier({}))


# --- malformed authentication ----------------------------------------------------------------


def test_missing_authorization_is_a_missing_token() -> None:
    with pytest.raises(MissingAuthenticationTokenException) as excinfo:
        verify(sign().with_header(b"authorization", None))
    assert excinfo.value.message == "Missing Authentication Token"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("garbage", "Unsupported authorization algorithm; only 'AWS4-HMAC-SHA256' is accepted."),
        (
            f"AWS4-HMAC-SHA512 Credential={AKID}/{SCOPE}, SignedHeaders={SIGNED}, Signature=ab",
            "Unsupported authorization algorithm; only 'AWS4-HMAC-SHA256' is accepted.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AKID}/{SCOPE}, SignedHeaders={SIGNED}",
            "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 "
            f"Credential={AKID}/{SCOPE}, SignedHeaders={SIGNED}",
        ),
        (
            "AWS4-HMAC-SHA256 Signature=" + "ab" * 32,
            "Authorization header requires 'Credential' parameter. Authorization header requires "
            "'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AKID}/20261129/us-east-1/kms, SignedHeaders=host, "
            "Signature=00",
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{AKID}/20261129/us-east-1/kms'",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AKID}/20261129/us-east-1/kms/aws5_request, "
            "SignedHeaders=host, Signature=00",
            "Credential should be scoped with a valid terminator: 'aws4_request', "
            "not 'aws5_request'. ",
        ),
    ],
    ids=["garbage", "algorithm", "no-signature", "no-credential", "4-part-scope", "terminator"],
)
def test_malformed_authorization_is_incomplete(value: str, message: str) -> None:
    with pytest.raises(IncompleteSignatureException) as excinfo:
        verify(with_authorization(sign(), value))
    assert excinfo.value.message == message


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"\xff\xfe",
        b"AWS4-HMAC-SHA256",
        b"AWS4-HMAC-SHA256 ,,,===",
        b"AWS4-HMAC-SHA256 Credential=\xe9/20261129/us-east-1/kms/aws4_request, "
        b"SignedHeaders=host;x-\xe9, Signature=00",
        b"AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=;, Signature=",
    ],
)
def test_hostile_authorization_values_raise_only_kms_errors(value: bytes) -> None:
    request = sign().with_header(b"authorization", value)
    with pytest.raises(KmsError) as excinfo:
        verify(request)
    assert type(excinfo.value) in {IncompleteSignatureException, InvalidSignatureException}


def test_non_ascii_signed_headers_are_echoed_without_crashing() -> None:
    value = f"AWS4-HMAC-SHA256 Credential={AKID}/{SCOPE}, SignedHeaders=host;\xe9 , Signature=00"
    request = sign().with_header(b"authorization", value.encode("latin-1"))
    with pytest.raises(IncompleteSignatureException) as excinfo:
        verify(request.with_header(b"x-amz-date", None))
    assert excinfo.value.message.endswith(f"Credential={AKID}/{SCOPE}, SignedHeaders=host;\xe9")


def test_reordered_authorization_parameters_are_accepted() -> None:
    request = sign()
    signature = botocore_signature(request)
    value = (
        f"AWS4-HMAC-SHA256  Signature={signature},SignedHeaders={SIGNED} , "
        f"Credential={AKID}/{SCOPE} "
    )
    assert verify(with_authorization(request, value)) is CRED


def test_missing_date_is_incomplete() -> None:
    with pytest.raises(IncompleteSignatureException) as excinfo:
        verify(sign().with_header(b"x-amz-date", None))
    assert excinfo.value.message == (
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        f"Authorization=AWS4-HMAC-SHA256 Credential={AKID}/{SCOPE}, SignedHeaders={SIGNED}"
    )


@pytest.mark.parametrize("value", [b"2026-11-29T01:00:00Z", b"20261329T010000Z", b"soon"])
def test_unparseable_x_amz_date_is_incomplete(value: bytes) -> None:
    with pytest.raises(IncompleteSignatureException, match=r"^Date must be in ISO-8601"):
        verify(sign().with_header(b"x-amz-date", value))


# --- time ------------------------------------------------------------------------------------


def test_request_six_minutes_old_has_expired() -> None:
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(sign(at=NOW - timedelta(minutes=6)))
    assert excinfo.value.message == (
        "Signature expired: 20261129T005400Z is now earlier than 20261129T005500Z "
        "(20261129T010000Z - 5 min.)"
    )


def test_request_six_minutes_in_the_future_is_not_yet_current() -> None:
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(sign(at=NOW + timedelta(minutes=6)))
    assert excinfo.value.message == (
        "Signature not yet current: 20261129T010600Z is still later than 20261129T010500Z "
        "(20261129T010000Z + 5 min.)"
    )


@pytest.mark.parametrize("offset", [-300, -240, 0, 240, 300])
def test_requests_within_the_skew_window_are_accepted(offset: int) -> None:
    assert verify(sign(at=NOW + timedelta(seconds=offset))) is CRED


@pytest.mark.parametrize("offset", [-301, 301])
def test_skew_window_boundary_is_exclusive_beyond_five_minutes(offset: int) -> None:
    with pytest.raises(InvalidSignatureException, match=r"^Signature (expired|not yet current)"):
        verify(sign(at=NOW + timedelta(seconds=offset)))


def test_custom_skew_is_honoured() -> None:
    verifier = SigV4Verifier(
        regions=("us-east-1",),
        service="kms",
        lookup={AKID: CRED}.get,
        clock=lambda: epoch(NOW),
        max_skew_seconds=60,
    )
    with pytest.raises(InvalidSignatureException, match=r"\(20261129T010000Z - 1 min\.\)$"):
        verify(sign(at=NOW - timedelta(seconds=61)), verifier)


# --- scope and signed headers ----------------------------------------------------------------


def test_scope_with_another_region_is_rejected() -> None:
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(sign(region="us-west-2"))
    assert (
        excinfo.value.message == "Credential should be scoped to a valid region, not 'us-west-2'. "
    )


def test_scope_with_another_service_is_rejected() -> None:
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(sign(service="s3"))
    assert excinfo.value.message == "Credential should be scoped to correct service: 'kms'. "


def test_scope_date_must_match_x_amz_date() -> None:
    request = sign()
    value = authorization(request).replace("/20261129/", "/20261128/")
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(with_authorization(request, value))
    assert excinfo.value.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '20261128' != '20261129', from '20261129T010000Z'."
    )


class _SkipHeaderSigV4Auth(SigV4Auth):  # type: ignore[misc]  # botocore is untyped
    """A botocore signer that leaves one header out of the signature (validly otherwise)."""

    skip = "host"

    def headers_to_sign(self, request: Any) -> Any:
        headers = super().headers_to_sign(request)
        del headers[self.skip]
        return headers


class _SkipDateSigV4Auth(_SkipHeaderSigV4Auth):
    skip = "x-amz-date"


def test_signed_headers_must_include_host() -> None:
    request = sign(signer=_SkipHeaderSigV4Auth)
    assert "SignedHeaders=content-type;x-amz-date;x-amz-target," in authorization(request)
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(request)
    assert excinfo.value.message == (
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization. "
        f"Authorization=AWS4-HMAC-SHA256 Credential={AKID}/{SCOPE}, "
        "SignedHeaders=content-type;x-amz-date;x-amz-target"
    )


def test_signed_headers_must_include_x_amz_date_when_present() -> None:
    with pytest.raises(InvalidSignatureException, match=r"^'X-Amz-Date' must be a 'SignedHeader'"):
        verify(sign(signer=_SkipDateSigV4Auth))


def test_content_type_and_target_need_not_be_signed() -> None:
    request = AWSRequest(method="POST", url=ENDPOINT + "/", data=BODY)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=NOW):
        SigV4Auth(Credentials(AKID, SECRET), "kms", "us-east-1").add_auth(request)
    asgi = to_asgi(request)
    assert "SignedHeaders=host;x-amz-date," in authorization(asgi)
    asgi = asgi._replace(headers=[*asgi.headers, (b"x-amz-target", b"TrentService.Encrypt")])
    assert verify(asgi) is CRED


class _SkipHttpDateSigV4Auth(_SkipHeaderSigV4Auth):
    skip = "date"


def test_date_header_must_be_signed_when_it_dates_the_request() -> None:
    request = sign(extra_headers={"Date": "x"}, signer=_SkipHttpDateSigV4Auth)
    assert "SignedHeaders=content-type;host;x-amz-target," in authorization(request)
    with pytest.raises(InvalidSignatureException, match=r"^'Date' must be a 'SignedHeader'"):
        verify(request)


def test_unparseable_date_header_is_incomplete() -> None:
    request = sign(extra_headers={"Date": "x"}).with_header(b"date", b"the day after tomorrow")
    with pytest.raises(IncompleteSignatureException, match=r"^Date must be in ISO-8601"):
        verify(request)


def test_signed_header_absent_from_the_request_is_rejected() -> None:
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(sign().with_header(b"x-amz-target", None))
    assert excinfo.value.message.startswith(
        "The signed header 'x-amz-target' is not present in the request. "
    )


# --- presigned URLs --------------------------------------------------------------------------


def test_presigned_url_is_accepted() -> None:
    request = presign()
    assert b"X-Amz-Signature=" in request.query
    assert b"authorization" not in dict(request.headers)
    assert verify(request) is CRED


def test_tampered_presigned_url_is_rejected() -> None:
    request = presign()
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(request._replace(query=request.query.replace(b"Action=Ping", b"Action=Pong")))
    assert excinfo.value.message == SIGNATURE_MISMATCH


def test_expired_presigned_url_is_rejected() -> None:
    request = presign(at=NOW - timedelta(seconds=301), expires=300)
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(request)
    assert excinfo.value.message == (
        "Signature expired: 20261129T005459Z is now earlier than 20261129T005500Z "
        "(20261129T010000Z - 300 sec.)"
    )


def test_presigned_url_lives_as_long_as_x_amz_expires() -> None:
    assert verify(presign(at=NOW - timedelta(seconds=3000), expires=3600)) is CRED


@pytest.mark.parametrize("expires", [b"0", b"604801", b"-1", b"ten"])
def test_presigned_expires_out_of_range_is_incomplete(expires: bytes) -> None:
    request = presign()
    query = request.query.replace(b"X-Amz-Expires=300", b"X-Amz-Expires=" + expires)
    with pytest.raises(IncompleteSignatureException, match=r"^X-Amz-Expires must be"):
        verify(request._replace(query=query))


def test_presigned_url_missing_a_parameter_is_incomplete() -> None:
    request = presign()
    query = b"&".join(p for p in request.query.split(b"&") if not p.startswith(b"X-Amz-Date="))
    with pytest.raises(IncompleteSignatureException, match=r"^AWS query-string parameters must"):
        verify(request._replace(query=query))


def test_header_and_query_authentication_together_are_rejected() -> None:
    request = sign()._replace(query=presign().query)
    with pytest.raises(IncompleteSignatureException, match=r"^Only one auth mechanism allowed"):
        verify(request)


# --- signing-key cache -----------------------------------------------------------------------


def test_signing_key_cache_holds_one_entry_per_key_and_day() -> None:
    verifier = make_verifier()
    request = sign()
    for _ in range(100):
        assert verify(request, verifier) is CRED
    assert verifier.cached_signing_keys == 1


def test_changed_secret_is_not_hidden_by_the_cache() -> None:
    table = {AKID: CRED}
    verifier = make_verifier(table)
    old = sign()
    assert verify(old, verifier) is CRED
    table[AKID] = Cred(AKID, "rotated-secret")
    with pytest.raises(InvalidSignatureException) as excinfo:
        verify(old, verifier)
    assert excinfo.value.message == SIGNATURE_MISMATCH
    assert verify(sign(secret="rotated-secret"), verifier) == table[AKID]
    assert verifier.cached_signing_keys == 2


def test_signing_key_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sigv4, "SIGNING_KEY_CACHE_SIZE", 2)
    table: dict[str, Cred] = {}
    verifier = make_verifier(table)
    for n in range(3):
        table[AKID] = Cred(AKID, f"secret-{n}")
        verify(sign(secret=f"secret-{n}"), verifier)
        assert verifier.cached_signing_keys == [1, 2, 1][n]


# --- no secrets in messages ------------------------------------------------------------------


def _signing_key_hex(secret: str) -> str:
    key = ("AWS4" + secret).encode()
    for part in ("20261129", "us-east-1", "kms", "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key.hex()


def _failures() -> Iterator[tuple[KmsError, str]]:
    """Every kind of rejection, with the signature the server computed for that request."""
    good = sign()
    cases = [
        (good._replace(body=b"{}"), sign(body=b"{}")),
        (_flip_signature_digit(good), good),
        (sign(at=NOW - timedelta(minutes=6)), sign(at=NOW - timedelta(minutes=6))),
        (sign(region="us-west-2"), sign()),
        (sign(signer=_SkipHeaderSigV4Auth), sign()),
        (with_authorization(good, authorization(good).partition(", Signature")[0]), good),
        (good.with_header(b"x-amz-date", b"bogus"), good),
    ]
    for request, computed in cases:
        with pytest.raises(KmsError) as excinfo:
            verify(request)
        yield excinfo.value, botocore_signature(computed)


def test_messages_never_contain_the_secret_or_the_computed_signature() -> None:
    seen = 0
    for error, computed in _failures():
        texts = (str(error), repr(error), error.message, repr(error.args))
        for secret_value in (SECRET, SECRET.encode().hex(), _signing_key_hex(SECRET), computed):
            assert all(secret_value not in text for text in texts), (error, secret_value)
        seen += 1
    assert seen == 7
    assert SECRET not in repr(make_verifier())
