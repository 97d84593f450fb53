"""Per-request log lines: one line per request (KMS, and the S3, STS and XKS APIs served on
the same port), JSON or key=value, off by default.

A line names the request (time, request id, node, worker, operation), who made it (account and
principal ARN), the key where there is one (the key the response names, else the KeyId the
request gave), the outcome (HTTP status and ``OK`` or the AWS error code) and the latency in the
server. Nothing else of the request or response is read: no plaintext, ciphertext, data key,
signature, token, secret or encryption context can reach a line.

Cost (bench/request_log_bench.py): one ``write(2)`` of one line per request, after the response
is sent; lines are shorter than PIPE_BUF, so lines of several workers sharing a pipe never mix.
Level: ``info`` logs every request, ``warning`` only failed ones (4xx and 5xx), ``error`` only
5xx.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from strongroom.kms.service.caller import Caller

FORMATS = ("off", "json", "text")
LEVELS = {"info": 0, "warning": 400, "error": 500}
# A line longer than this (PIPE_BUF on Linux) could interleave with another worker's line.
MAX_LINE = 4096
_KEY_MEMBERS = ("KeyId", "DestinationKeyId")


def key_of(request: Mapping[str, Any] | None, response: Mapping[str, Any] | None) -> str | None:
    """The key a request was about: the response's KeyId (an ARN), else the request's."""
    for source in (response, request):
        if source:
            for member in _KEY_MEMBERS:
                value = source.get(member)
                if isinstance(value, str):
                    return value
    return None


class RequestLog:
    def __init__(
        self,
        node: str,
        *,
        format: str = "json",
        level: str = "info",
        write: Callable[[bytes], object] | None = None,
        worker: str | None = None,
    ) -> None:
        if format not in FORMATS[1:]:
            raise ValueError(f"request log format {format!r} is not 'json' or 'text'")
        if level not in LEVELS:
            raise ValueError(f"request log level {level!r} is not one of {', '.join(LEVELS)}")
        self._node = node
        self._worker = worker or str(os.getpid())
        self._min_status = LEVELS[level]
        self._encode = _json if format == "json" else _text
        self._write = write or (lambda line: os.write(2, line))

    def kms_request(
        self,
        request_id: str,
        operation: str,
        status: int,
        code: str,
        seconds: float,
        *,
        caller: Caller | None,
        request: Mapping[str, Any] | None,
        response: Mapping[str, Any] | None,
    ) -> None:
        """The line of one KMS API request (``request``/``response``: only their KeyId)."""
        if status < self._min_status:
            return
        self.request(
            request_id,
            operation,
            status,
            code,
            seconds,
            account=None if caller is None else caller.account_id,
            principal=None if caller is None else caller.principal_arn,
            key_id=key_of(request, response),
        )

    def request(
        self,
        request_id: str,
        operation: str,
        status: int,
        code: str,
        seconds: float,
        *,
        service: str = "kms",
        account: str | None = None,
        principal: str | None = None,
        key_id: str | None = None,
    ) -> None:
        """One line; ``service``: the API that answered (kms, s3, sts, xks)."""
        if status < self._min_status:
            return
        fields = {
            "time": datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="milliseconds"),
            "requestId": request_id,
            "node": self._node,
            "worker": self._worker,
            "service": service,
            "operation": operation,
            "account": account,
            "principal": principal,
            "keyId": key_id,
            "status": status,
            "code": code,
            "latencyMs": round(seconds * 1000, 3),
        }
        line = self._encode(fields)
        if len(line) > MAX_LINE:  # only the ids can be long (2048 each): shorten them
            fields["principal"] = _cut(principal)
            fields["keyId"] = _cut(key_id)
            line = self._encode(fields)
        self._write(line)


def _cut(value: str | None) -> str | None:
    return None if value is None else value[:256]


def _json(fields: dict[str, Any]) -> bytes:
    return orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)


def _text(fields: dict[str, Any]) -> bytes:
    parts = []
    for name, value in fields.items():
        if value is None:
            continue
        text = str(value)
        if not text or any(c in text for c in ' "=\\') or not text.isprintable():
            text = orjson.dumps(text).decode()
        parts.append(f"{name}={text}")
    return (" ".join(parts) + "\n").encode()
