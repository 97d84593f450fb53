"""Request log lines: their fields, formats and levels, and what they never contain."""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from strongroom.kms.api.request_log import MAX_LINE, RequestLog, key_of
from strongroom.kms.service.caller import Caller

CALLER = Caller(
    "111122223333", "arn:aws:iam::111122223333:user/alice", "AKIAEXAMPLE", "10.0.0.1", "us-east-1"
)
ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _log(**options: str) -> tuple[RequestLog, list[bytes]]:
    lines: list[bytes] = []
    return RequestLog("node-a", write=lines.append, worker="7", **options), lines


def test_a_json_line_has_every_field_and_nothing_of_the_payloads() -> None:
    log, lines = _log()
    request = {"KeyId": "alias/orders", "Plaintext": b"top secret", "EncryptionContext": {"a": "b"}}
    response = {"KeyId": ARN, "CiphertextBlob": b"\x01ciphertext"}
    log.kms_request(
        "req-1", "Encrypt", 200, "OK", 0.00042, caller=CALLER, request=request, response=response
    )
    (line,) = lines
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    fields = orjson.loads(line)
    assert datetime.fromisoformat(fields.pop("time")).tzinfo is not None
    assert fields == {
        "requestId": "req-1",
        "node": "node-a",
        "worker": "7",
        "service": "kms",
        "operation": "Encrypt",
        "account": "111122223333",
        "principal": "arn:aws:iam::111122223333:user/alice",
        "keyId": ARN,
        "status": 200,
        "code": "OK",
        "latencyMs": 0.42,
    }
    for secret in (b"top secret", b"ciphertext", b"AKIAEXAMPLE", b"10.0.0.1", b'"a"'):
        assert secret not in line


def test_a_failed_request_names_the_key_it_asked_for_and_the_error() -> None:
    log, lines = _log()
    log.kms_request(
        "req-2",
        "DescribeKey",
        400,
        "NotFoundException",
        0.001,
        caller=CALLER,
        request={"KeyId": "alias/missing"},
        response=None,
    )
    fields = orjson.loads(lines[0])
    assert (fields["keyId"], fields["status"], fields["code"]) == (
        "alias/missing",
        400,
        "NotFoundException",
    )


def test_an_unauthenticated_request_has_no_principal() -> None:
    log, lines = _log(format="text")
    log.kms_request(
        "req-3",
        "unknown",
        400,
        "IncompleteSignatureException",
        0.0001,
        caller=None,
        request=None,
        response=None,
    )
    (line,) = lines
    assert line.startswith(b"time=")
    assert (
        b" requestId=req-3 node=node-a worker=7 service=kms operation=unknown status=400 " in line
    )
    assert b"code=IncompleteSignatureException latencyMs=0.1\n" in line
    assert b"principal" not in line and b"keyId" not in line


def test_text_values_with_spaces_or_quotes_are_quoted() -> None:
    log, lines = _log(format="text")
    log.request("r", "Encrypt", 200, "OK", 0.0, key_id='alias/a "b" c=d')
    assert b'keyId="alias/a \\"b\\" c=d"' in lines[0]


@pytest.mark.parametrize(
    ("level", "logged"),
    [("info", [200, 400, 503]), ("warning", [400, 503]), ("error", [503])],
    ids=["info", "warning", "error"],
)
def test_the_level_chooses_which_requests_are_logged(level: str, logged: list[int]) -> None:
    log, lines = _log(level=level)
    for status in (200, 400, 503):
        log.request("r", "Encrypt", status, "X", 0.0)
    assert [orjson.loads(line)["status"] for line in lines] == logged


def test_a_line_stays_one_atomic_write_with_the_longest_ids() -> None:
    log, lines = _log()
    log.request("r", "Encrypt", 200, "OK", 0.0, principal="p" * 2048, key_id="k" * 2048)
    assert len(lines[0]) <= MAX_LINE
    fields = orjson.loads(lines[0])
    assert fields["keyId"] == "k" * 256


def test_key_of_prefers_the_response_and_knows_re_encrypt() -> None:
    assert key_of({"KeyId": "alias/x"}, {"KeyId": ARN}) == ARN
    assert key_of({"DestinationKeyId": "alias/y"}, None) == "alias/y"
    assert key_of({"Limit": 5}, {"Keys": []}) is None


def test_unknown_formats_and_levels_are_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        RequestLog("n", format="xml")
    with pytest.raises(ValueError, match="level"):
        RequestLog("n", level="debug")
