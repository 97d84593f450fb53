"""Hand-made S3 requests: bodies and encodings the SDKs do not send on their own.

Requests are signed by botocore's ``S3SigV4Auth``; the aws-chunked forms with chunk signatures
are framed here from the seed signature botocore computed, following AWS's published algorithm.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.servers import RunningServer

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str | None:
        found = re.search(rb"<Code>([^<]*)</Code>", self.body)
        return found[1].decode() if found else None


class _DeclaredPayloadAuth(S3SigV4Auth):  # type: ignore[misc]
    """botocore's S3 signer, with the x-amz-content-sha256 value the test chooses."""

    def __init__(self, credentials: Credentials, region: str, payload: str) -> None:
        super().__init__(credentials, "s3", region)
        self._payload = payload

    def payload(self, request: AWSRequest) -> str:
        return self._payload


def _sign(
    server: RunningServer, method: str, path: str, headers: dict[str, str], payload_hash: str
) -> dict[str, str]:
    key = server.admin_key
    request = AWSRequest(method=method, url=server.endpoint + path, headers=headers)
    credentials = Credentials(key.access_key_id, key.secret_access_key)
    _DeclaredPayloadAuth(credentials, server.region, payload_hash).add_auth(request)
    return dict(request.headers.items())


def send(
    server: RunningServer, method: str, path: str, body: bytes, headers: Mapping[str, str]
) -> Reply:
    parts = urlsplit(server.endpoint)
    assert parts.hostname is not None and parts.port is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=dict(headers))
        response = conn.getresponse()
        return Reply(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()


def signed_s3_request(
    server: RunningServer,
    method: str,
    path: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    payload_hash: str | None = None,
) -> Reply:
    """A header-signed request whose x-amz-content-sha256 is ``payload_hash`` (default: the
    body's true hash)."""
    declared = payload_hash or hashlib.sha256(body).hexdigest()
    extra = {"Content-Length": str(len(body)), **(headers or {})}
    return send(server, method, path, body, _sign(server, method, path, extra, declared))


def _chunk_signature(
    signing_key: bytes, amz_date: str, scope: str, previous: str, data: bytes
) -> str:
    text = "\n".join(
        (
            "AWS4-HMAC-SHA256-PAYLOAD",
            amz_date,
            scope,
            previous,
            EMPTY_SHA256,
            hashlib.sha256(data).hexdigest(),
        )
    )
    return hmac.new(signing_key, text.encode(), hashlib.sha256).hexdigest()


def signing_key(secret: str, date: str, region: str) -> bytes:
    key = hmac.digest(f"AWS4{secret}".encode(), date.encode(), "sha256")
    for part in (region, "s3", "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def signed_chunked_put(
    server: RunningServer,
    path: str,
    data: bytes,
    *,
    chunk_size: int = 64 * 1024,
    trailer: tuple[str, str] | None = None,
    tamper_chunk: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD (or its -TRAILER form when ``trailer`` is
    given): every chunk signed, chained from the seed signature. ``tamper_chunk`` flips a byte
    of that chunk's data after signing."""
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    pieces = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    base = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        **(headers or {}),
    }
    if trailer:
        base["x-amz-trailer"] = trailer[0]
    # The encoded length is needed before signing: compute it with dummy signatures.
    sig_len = 64
    length = sum(len(f"{len(p):x};chunk-signature=") + sig_len + 2 + len(p) + 2 for p in pieces)
    if trailer:
        length -= 2  # the final chunk has no data CRLF; the trailer follows instead
        length += (
            len(f"{trailer[0]}:{trailer[1]}\r\n") + len("x-amz-trailer-signature:") + sig_len + 4
        )
    base["Content-Length"] = str(length)
    signed = _sign(server, "PUT", path, base, mode)
    authorization = signed["Authorization"]
    seed = authorization.rsplit("Signature=", 1)[1]
    amz_date = signed["X-Amz-Date"]
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/", 1)[1]
    key = signing_key(server.admin_key.secret_access_key, amz_date[:8], server.region)
    previous = seed
    body = bytearray()
    for index, piece in enumerate(pieces):
        signature = _chunk_signature(key, amz_date, scope, previous, piece)
        previous = signature
        sent = piece
        if tamper_chunk == index and piece:
            sent = bytes([piece[0] ^ 1]) + piece[1:]
        body += f"{len(piece):x};chunk-signature={signature}\r\n".encode() + sent
        if piece or not trailer:
            body += b"\r\n"
    if trailer:
        line = f"{trailer[0]}:{trailer[1]}\n"
        text = "\n".join(
            (
                "AWS4-HMAC-SHA256-TRAILER",
                amz_date,
                scope,
                previous,
                hashlib.sha256(line.encode()).hexdigest(),
            )
        )
        trailer_signature = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
        body += f"{trailer[0]}:{trailer[1]}\r\n".encode()
        body += f"x-amz-trailer-signature:{trailer_signature}\r\n\r\n".encode()
    assert len(body) == length
    return send(server, "PUT", path, bytes(body), signed)
