"""The shared SigV4 primitives against AWS's published example and botocore's signer."""

from __future__ import annotations

import hashlib

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.sigv4.algorithm import (
    derive_signing_key,
    parse_amz_date,
    signatures_match,
    string_to_sign,
    trim,
)
from strongroom.sigv4.keys import SigningKey, SigningKeyCache

# AWS General Reference, "Examples of how to derive a signing key for Signature Version 4".
AWS_SECRET = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
AWS_SIGNING_KEY = "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def test_the_signing_key_of_aws_published_example() -> None:
    assert derive_signing_key(AWS_SECRET, "20120215", "us-east-1", "iam").hex() == AWS_SIGNING_KEY


def test_string_to_sign_and_signature_agree_with_botocore() -> None:
    request = AWSRequest(
        method="POST",
        url="https://kms.us-east-1.amazonaws.com/",
        data=b'{"KeyId": "alias/x"}',
        headers={"X-Amz-Target": "TrentService.Encrypt"},
    )
    signer = SigV4Auth(Credentials("AKIDEXAMPLE", AWS_SECRET.decode()), "kms", "us-east-1")
    signer.add_auth(request)
    canonical = signer.canonical_request(request)
    amz_date = request.context["timestamp"]
    scope = f"{amz_date[:8]}/us-east-1/kms/aws4_request"
    theirs = signer.string_to_sign(request, canonical)
    ours = string_to_sign(amz_date, scope, canonical.encode())
    assert ours.decode() == theirs
    key = SigningKey(derive_signing_key(AWS_SECRET, amz_date[:8], "us-east-1", "kms"))
    sent = signer.signature(theirs, request).encode()
    assert key.sign(ours) == sent
    assert signatures_match(key.sign(b"other"), key.sign(b"other"))
    assert not signatures_match(key.sign(b"other"), sent)
    assert "f47" not in repr(key) and repr(key) == "SigningKey(<redacted>)"


def test_dates_and_trimming() -> None:
    assert parse_amz_date("20261205T081500Z") == 1796458500.0
    assert parse_amz_date("20261305T081500Z") is None  # month 13
    assert parse_amz_date("2026-12-05T08:15:00Z") is None  # not the basic format
    assert trim(b"  a   b \t c ") == b"a b c"
    assert hashlib.sha256(b"").hexdigest() in string_to_sign("d", "s", b"").decode()


def test_the_cache_keys_by_secret_day_and_region_and_stays_bounded() -> None:
    cache = SigningKeyCache("kms", max_size=2)
    first = cache.get(b"secret", "20261205", "us-east-1")
    assert cache.get(b"secret", "20261205", "us-east-1") is first
    assert cache.get(b"changed", "20261205", "us-east-1") is not first
    assert len(cache) == 2
    cache.get(b"secret", "20261206", "us-east-1")  # full: emptied, then this one
    assert len(cache) == 1
    assert cache.get(b"secret", "20261205", "us-east-1").key == first.key
    assert "secret" not in repr(cache)
