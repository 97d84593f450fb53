"""Calls to an XKS proxy: the four operations of AWS's XKS Proxy API, SigV4-signed for service
``kms-xks-proxy`` with the external key store's credential, each bounded by a timeout.

Every failure is one :class:`ProxyError` whose ``kind`` says what went wrong in the terms AWS
uses (unreachable, timed out, credential refused, unusable answer, the proxy's own error name);
callers turn it into the KMS error their operation answers. Nothing here logs or raises the
secret, the plaintext or the ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import ssl
import threading
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.kms.domain.external_key_stores import (
    ExternalKeyMetadata,
    XksProxySettings,
    XksTransport,
)

SERVICE = "kms-xks-proxy"
_MAX_RESPONSE = 64 * 1024


class ProxyFailure(Enum):
    UNREACHABLE = "the proxy could not be reached"
    TIMED_OUT = "the proxy did not answer in time"
    TLS = "the proxy's TLS certificate was not accepted"
    ACCESS_DENIED = "the proxy refused the credential"
    INVALID_RESPONSE = "the proxy's answer could not be interpreted"
    KEY_NOT_FOUND = "the proxy does not know the external key"
    KEY_INVALID_STATE = "the external key is not usable (disabled, or its key manager is not)"
    INVALID_CIPHERTEXT = "the proxy could not decrypt the ciphertext"
    PROXY_ERROR = "the proxy answered with an error"


class ProxyError(Exception):
    def __init__(self, kind: ProxyFailure, detail: str = "") -> None:
        super().__init__(kind.value + (f" ({detail})" if detail else ""))
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The requestMetadata of a call: who asked KMS for what (never used to decide access)."""

    principal_arn: str
    operation: str
    request_id: str
    key_arn: str = ""


@dataclass(frozen=True, slots=True)
class Encrypted:
    iv: bytes
    ciphertext: bytes
    tag: bytes
    metadata: bytes  # ciphertextMetadata, empty when the proxy returns none


class XksProxyClient:
    """One external key store's proxy, as Strongroom calls it. Thread-safe: each thread keeps
    its own kept-alive connection."""

    def __init__(self, settings: XksProxySettings, secret: str, transport: XksTransport) -> None:
        self.settings = settings
        self._credentials = Credentials(settings.access_key_id, secret)
        self._region = transport.region
        self._transport = transport
        dialled = urlsplit(transport.dial(settings.uri_endpoint))
        self._scheme, self._netloc = dialled.scheme, dialled.netloc
        self._host = urlsplit(settings.uri_endpoint).netloc  # signed, as AWS signs it
        self._local = threading.local()
        self._ssl = (
            ssl.create_default_context(cafile=transport.ca_file or None)
            if self._scheme == "https"
            else None
        )

    def __repr__(self) -> str:  # never the secret
        return f"XksProxyClient({self.settings.uri!r}, {self.settings.access_key_id!r})"

    # --- operations ---------------------------------------------------------------------

    def health(self, context: RequestContext) -> list[dict[str, Any]]:
        """The proxy's key manager instances (each with ``ekmFleetDetails``-style status)."""
        answer = self._call("health", {"requestMetadata": _metadata(context, with_key=False)})
        instances = answer.get("ekmFleetDetails")
        if not isinstance(instances, list) or not all(isinstance(i, dict) for i in instances):
            raise ProxyError(ProxyFailure.INVALID_RESPONSE, "ekmFleetDetails")
        return instances

    def key_metadata(self, key_id: str, context: RequestContext) -> ExternalKeyMetadata:
        answer = self._call(
            f"keys/{key_id}/metadata", {"requestMetadata": _metadata(context, with_key=False)}
        )
        spec, usage, status = answer.get("keySpec"), answer.get("keyUsage"), answer.get("keyStatus")
        if not (
            isinstance(spec, str)
            and isinstance(status, str)
            and isinstance(usage, list)
            and all(isinstance(u, str) for u in usage)
        ):
            raise ProxyError(ProxyFailure.INVALID_RESPONSE, "key metadata")
        return ExternalKeyMetadata(spec, tuple(usage), status)

    def encrypt(
        self, key_id: str, plaintext: bytes, aad: bytes, context: RequestContext
    ) -> Encrypted:
        answer = self._call(
            f"keys/{key_id}/encrypt",
            {
                "requestMetadata": _metadata(context, with_key=True),
                "plaintext": _b64(plaintext),
                "encryptionAlgorithm": "AES_GCM",
                "additionalAuthenticatedData": _b64(aad),
            },
        )
        encrypted = Encrypted(
            iv=_field(answer, "initializationVector"),
            ciphertext=_field(answer, "ciphertext"),
            tag=_field(answer, "authenticationTag"),
            metadata=_field(answer, "ciphertextMetadata", required=False),
        )
        if (
            len(encrypted.iv) not in (12, 16)
            or len(encrypted.tag) != 16
            or len(encrypted.metadata) > 20
            or len(encrypted.ciphertext) != len(plaintext)
        ):
            raise ProxyError(ProxyFailure.INVALID_RESPONSE, "encrypt output sizes")
        return encrypted

    def decrypt(
        self, key_id: str, encrypted: Encrypted, aad: bytes, context: RequestContext
    ) -> bytes:
        body: dict[str, Any] = {
            "requestMetadata": _metadata(context, with_key=True),
            "ciphertext": _b64(encrypted.ciphertext),
            "initializationVector": _b64(encrypted.iv),
            "authenticationTag": _b64(encrypted.tag),
            "encryptionAlgorithm": "AES_GCM",
            "additionalAuthenticatedData": _b64(aad),
        }
        if encrypted.metadata:
            body["ciphertextMetadata"] = _b64(encrypted.metadata)
        answer = self._call(f"keys/{key_id}/decrypt", body)
        plaintext = _field(answer, "plaintext")
        if len(plaintext) != len(encrypted.ciphertext):
            raise ProxyError(ProxyFailure.INVALID_RESPONSE, "decrypt output size")
        return plaintext

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    # --- transport ----------------------------------------------------------------------

    def _call(self, suffix: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"{self.settings.uri_path}/{suffix}"
        data = orjson.dumps(body)
        request = AWSRequest(
            method="POST",
            url=f"https://{self._host}{path}",
            data=data,
            headers={"Content-Type": "application/json"},
        )
        SigV4Auth(self._credentials, SERVICE, self._region).add_auth(request)
        headers = {key: str(value) for key, value in request.headers.items()}
        headers["Host"] = self._host  # signed as the endpoint's, wherever we dial
        status, payload = self._send(path, data, headers)
        try:
            answer = orjson.loads(payload) if payload else None
        except orjson.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            raise ProxyError(ProxyFailure.INVALID_RESPONSE, f"HTTP {status}, not a JSON object")
        if status == 200:
            return answer
        raise _error(status, answer)

    def _send(self, path: str, data: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (1, 2):
            connection, fresh = self._connection()
            try:
                connection.request("POST", path, body=data, headers=headers)
                response = connection.getresponse()
                payload = response.read(_MAX_RESPONSE + 1)
            except TimeoutError:
                self.close()
                raise ProxyError(ProxyFailure.TIMED_OUT) from None
            except ssl.SSLError:
                self.close()
                raise ProxyError(ProxyFailure.TLS) from None
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if fresh or attempt == 2:  # a kept-alive connection the proxy closed: once more
                    raise ProxyError(ProxyFailure.UNREACHABLE) from None
                continue
            except (OSError, http.client.HTTPException):
                self.close()
                raise ProxyError(ProxyFailure.UNREACHABLE) from None
            if len(payload) > _MAX_RESPONSE:
                self.close()
                raise ProxyError(ProxyFailure.INVALID_RESPONSE, "answer too large")
            if response.will_close:
                self.close()
            return response.status, payload
        raise ProxyError(ProxyFailure.UNREACHABLE)  # pragma: no cover - the loop returns

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return connection, False
        timeout = self._transport.timeout_seconds
        if self._ssl is not None:
            connection = http.client.HTTPSConnection(
                self._netloc, timeout=timeout, context=self._ssl
            )
        else:
            connection = http.client.HTTPConnection(self._netloc, timeout=timeout)
        self._local.connection = connection
        return connection, True


def _metadata(context: RequestContext, *, with_key: bool) -> dict[str, str]:
    meta = {
        "awsPrincipalArn": context.principal_arn,
        "kmsOperation": context.operation,
        "kmsRequestId": context.request_id or str(uuid.uuid4()),
    }
    if with_key and context.key_arn:
        meta["kmsKeyArn"] = context.key_arn
    return meta


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _field(answer: dict[str, Any], name: str, *, required: bool = True) -> bytes:
    value = answer.get(name)
    if value is None and not required:
        return b""
    if not isinstance(value, str):
        raise ProxyError(ProxyFailure.INVALID_RESPONSE, f"{name} missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProxyError(ProxyFailure.INVALID_RESPONSE, f"{name} is not Base64") from None


# The spec's error names, by what they mean to KMS.
_ERRORS = {
    "AuthenticationFailedException": ProxyFailure.ACCESS_DENIED,
    "AccessDeniedException": ProxyFailure.ACCESS_DENIED,
    "KeyNotFoundException": ProxyFailure.KEY_NOT_FOUND,
    "InvalidStateException": ProxyFailure.KEY_INVALID_STATE,
    "InvalidCiphertextException": ProxyFailure.INVALID_CIPHERTEXT,
}


def _error(status: int, answer: dict[str, Any]) -> ProxyError:
    name = answer.get("errorName")
    if not isinstance(name, str):
        return ProxyError(ProxyFailure.INVALID_RESPONSE, f"HTTP {status} without errorName")
    # Names only: the proxy's message is its own text, not ours to repeat.
    safe = "".join(c for c in name[:64] if c.isalnum())
    return ProxyError(_ERRORS.get(safe, ProxyFailure.PROXY_ERROR), f"HTTP {status} {safe}")
