"""The request's parts as SigV4 reads them, and the verifier's path for common requests.

``SigV4Verifier.verify`` first tries the request every SDK sends (``_verify_common``) and
falls back to the full verification (``_verify_any``) for anything else, refusals included.
The tests below hold the two to the same answers: whatever the request, ``verify`` returns or
raises exactly what ``_verify_any`` alone returns or raises.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.kms.api.sigv4 import SigV4Verifier
from strongroom.kms.api.sigv4_request import collect_headers, standard_authorization
from strongroom.kms.errors import KmsError
from tests.unit.kms.api.test_sigv4 import AKID, BODY, CRED, NOW, Cred, Request, epoch, sign

# The regular expression the verifier used before standard_authorization (its reference).
_REFERENCE = re.compile(
    rb"AWS4-HMAC-SHA256 Credential=([!-+\--~]+), SignedHeaders=([!-+\--~]+), "
    rb"Signature=([!-+\--~]+)"
)
_PIECES = [
    b"AWS4-HMAC-SHA256 ",
    b"Credential=",
    b", SignedHeaders=",
    b", Signature=",
    b"AKID/20261129/us-east-1/kms/aws4_request",
    b"host;x-amz-date",
    b"ab" * 32,
    b",",
    b" ",
    b", ",
    b"=",
    b"\t",
    b"\xe9",
    b"\x7f",
    b"",
]


def _outcome(call: object) -> object:
    try:
        return call()  # type: ignore[operator]
    except KmsError as error:
        return (type(error), error.message)


def _both(verifier: SigV4Verifier[Cred], request: Request) -> tuple[object, object]:
    args = (request.method, request.raw_path, request.query, request.headers, request.body)
    return (
        _outcome(lambda: verifier.verify(*args)),
        _outcome(lambda: verifier._verify_any(*args)),
    )


@given(st.lists(st.sampled_from(_PIECES), max_size=12))
def test_standard_authorization_is_the_reference_pattern(pieces: list[bytes]) -> None:
    value = b"".join(pieces)
    match = _REFERENCE.fullmatch(value)
    assert standard_authorization(value) == (None if match is None else match.groups())


def test_standard_authorization_of_botocore_s_header() -> None:
    value = sign().header(b"authorization")
    found = standard_authorization(value)
    assert found is not None
    assert found[0] == f"{AKID}/20261129/us-east-1/kms/aws4_request".encode()
    assert found[1] == b"content-type;host;x-amz-date;x-amz-target"


def test_repeated_headers_are_joined_trimmed() -> None:
    headers = [(b"a", b" x  y "), (b"b", b"1"), (b"a", b"z")]
    assert collect_headers(headers) == {b"a": b"x y,z", b"b": b"1"}


def test_a_botocore_request_is_accepted_without_the_full_verification() -> None:
    verifier = _verifier()
    request = sign(extra_headers={"amz-sdk-request": "attempt=1;  max=3"})
    with mock.patch.object(verifier, "_verify_any", side_effect=AssertionError("slow path")):
        credential, region = verifier.verify(
            request.method, request.raw_path, request.query, request.headers, request.body
        )
    assert (credential, region) == (CRED, "us-east-1")


def test_development_credentials_take_the_common_path_too() -> None:
    verifier = _verifier(check_signatures=False)
    request = sign(secret="any secret at all")
    with mock.patch.object(verifier, "_verify_any", side_effect=AssertionError("slow path")):
        assert verifier.verify(
            request.method, request.raw_path, request.query, request.headers, request.body
        ) == (CRED, "us-east-1")


_HEADER_NAMES = [
    b"authorization",
    b"x-amz-date",
    b"date",
    b"host",
    b"content-type",
    b"x-amz-target",
    b"x-amz-content-sha256",
    b"x-other",
]
_HEADER_VALUES = [
    b"",
    b" ",
    b"20261129T010000Z",
    b" 20261129T010000Z",
    b"20261129T010000Z\t",
    b"20261129T010500Z",
    b"20261128T010000Z",
    b"Sun, 29 Nov 2026 01:00:00 GMT",
    b"kms.us-east-1.amazonaws.com",
    b"application/x-amz-json-1.1",
    b"TrentService.Decrypt",
    b"UNSIGNED-PAYLOAD",
    b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    b"\xe9",
]


def _mutations() -> st.SearchStrategy[list[tuple[str, bytes, bytes]]]:
    names = st.sampled_from(_HEADER_NAMES)
    values = st.sampled_from(_HEADER_VALUES)
    authorization = st.lists(st.sampled_from(_PIECES), max_size=8).map(b"".join)
    step = st.one_of(
        st.tuples(st.just("set"), names, values),
        st.tuples(st.just("add"), names, values),
        st.tuples(st.just("drop"), names, st.just(b"")),
        st.tuples(st.just("repeat"), names, st.just(b"")),
        st.tuples(st.just("auth"), st.just(b"authorization"), authorization),
        st.tuples(st.just("replace"), st.just(b"authorization"), st.sampled_from(_PIECES)),
    )
    return st.lists(step, max_size=3)


def _mutate(request: Request, steps: list[tuple[str, bytes, bytes]]) -> Request:
    for kind, name, value in steps:
        if kind == "set":
            request = request.with_header(name, value)
        elif kind == "add":
            request = request._replace(headers=[*request.headers, (name, value)])
        elif kind == "drop":
            request = request.with_header(name, None)
        elif kind == "repeat":  # the same header again, with the same value
            request = request._replace(
                headers=[*request.headers, *((n, v) for n, v in request.headers if n == name)]
            )
        elif kind == "auth":
            request = request.with_header(name, value)
        else:  # swap one piece of botocore's Authorization value for another
            old = request.header(name) if any(n == name for n, _ in request.headers) else b""
            for piece in _PIECES:
                if piece and piece in old:
                    request = request.with_header(name, old.replace(piece, value, 1))
                    break
    return request


def _verifier(
    offset: int = 0, regions: tuple[str, ...] | None = ("us-east-1",), check_signatures: bool = True
) -> SigV4Verifier[Cred]:
    return SigV4Verifier(
        regions=regions,
        service="kms",
        lookup={AKID: CRED}.get,
        clock=lambda: epoch(NOW + timedelta(seconds=offset)),
        check_signatures=check_signatures,
    )


class _SkipSigV4Auth(SigV4Auth):  # type: ignore[misc]  # botocore is untyped
    """Signs validly, but without the headers named in ``skip``."""

    skip: tuple[str, ...] = ()

    def headers_to_sign(self, request: Any) -> Any:
        headers = super().headers_to_sign(request)
        for name in self.skip:
            del headers[name]
        return headers


class _NoHost(_SkipSigV4Auth):
    skip = ("host",)


class _NoDate(_SkipSigV4Auth):
    skip = ("x-amz-date",)


class _NoTarget(_SkipSigV4Auth):
    skip = ("x-amz-target", "content-type")


_EXTRA = {"amz-sdk-request": "attempt=1;  max=3"}
# Each validly signed, most with something the verifier refuses.
_BASES = [
    sign(),
    sign(extra_headers={**_EXTRA, "X-Amz-Content-SHA256": hashlib.sha256(BODY).hexdigest()}),
    sign(extra_headers={"X-Amz-Content-SHA256": "0" * 64}),  # signed, but not the body's hash
    sign(signer=_NoHost),
    sign(signer=_NoDate),
    sign(signer=_NoTarget),
    sign(region="eu-west-1"),
    sign(service="sts"),
    sign(secret="another secret"),
    sign(at=NOW - timedelta(minutes=6)),
    sign(extra_headers={"Date": "Sun, 29 Nov 2026 01:00:00 GMT"}).with_header(b"x-amz-date", None),
    sign(url="https://kms.us-east-1.amazonaws.com/a/./b/../c%20d/"),
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(_BASES),
    steps=_mutations(),
    offset=st.sampled_from([0, 0, 0, 299, 300, 301, -300, -301, 86400]),
    regions=st.sampled_from([("us-east-1",), ("us-east-1",), ("eu-west-1",), None]),
    query=st.sampled_from([b"", b"", b"a=b"]),
    check_signatures=st.booleans(),
)
def test_verify_answers_exactly_as_the_full_verification(
    *,
    base: Request,
    steps: list[tuple[str, bytes, bytes]],
    offset: int,
    regions: tuple[str, ...] | None,
    query: bytes,
    check_signatures: bool,
) -> None:
    request = _mutate(base._replace(query=query or base.query), steps)
    fast, full = _both(_verifier(offset, regions, check_signatures), request)
    assert fast == full


def test_every_base_request_as_signed_is_answered_alike() -> None:
    outcomes = []
    for base in _BASES:
        fast, full = _both(_verifier(), base)
        assert fast == full
        outcomes.append(fast)
    assert outcomes.count((CRED, "us-east-1")) >= 3  # and some are refused


_BODY_HASH = hashlib.sha256(BODY).hexdigest().encode()


def _hand_signed(
    *,
    scope_date: str = "20261129",
    terminator: str = "aws4_request",
    key_terminator: str = "aws4_request",
    names: tuple[str, ...] = ("host", "x-amz-date"),
    unsigned: tuple[tuple[bytes, bytes], ...] = (),
) -> Request:
    """A request signed by hand (the algorithm written out here, apart from the verifier's), so
    that it can be signed validly with a scope the verifier refuses."""
    headers = {"host": "kms.us-east-1.amazonaws.com", "x-amz-date": "20261129T010000Z"}
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            *(f"{name}:{headers[name]}" for name in names),
            "",
            ";".join(names),
            hashlib.sha256(BODY).hexdigest(),
        ]
    )
    scope = f"{scope_date}/us-east-1/kms/{terminator}"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    message = f"AWS4-HMAC-SHA256\n20261129T010000Z\n{scope}\n{digest}"
    key = ("AWS4" + CRED.secret).encode()
    for part in (scope_date, "us-east-1", "kms", key_terminator):
        key = hmac.digest(key, part.encode(), "sha256")
    signature = hmac.new(key, message.encode(), "sha256").hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    )
    return Request(
        "POST",
        b"/",
        b"",
        [
            *((name.encode(), value.encode()) for name, value in headers.items()),
            (b"authorization", authorization.encode()),
            *unsigned,
        ],
        BODY,
    )


@pytest.mark.parametrize(
    ("request_", "accepted"),
    [
        (_hand_signed(), True),
        (_hand_signed(scope_date="20261128"), False),
        (_hand_signed(terminator="aws5_request"), False),
        (_hand_signed(names=("host",)), False),
        (_hand_signed(names=("x-amz-date",)), False),
        (_hand_signed(unsigned=((b"x-amz-content-sha256", b"0" * 64),)), False),
        (_hand_signed(unsigned=((b"x-amz-content-sha256", _BODY_HASH),)), True),
        (_hand_signed(unsigned=((b"host", b"kms.us-east-1.amazonaws.com"),)), False),
        (_hand_signed(unsigned=((b"x-other", b"a"), (b"x-other", b"b"))), True),
    ],
    ids=[
        "valid",
        "scope-date",
        "terminator",
        "no-date",
        "no-host",
        "declared-hash",
        "declared-hash-ok",
        "repeated-host",
        "repeated-unsigned",
    ],
)
def test_validly_signed_requests_are_answered_alike(request_: Request, accepted: bool) -> None:
    fast, full = _both(_verifier(), request_)
    assert fast == full
    assert (fast == (CRED, "us-east-1")) is accepted
