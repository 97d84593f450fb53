"""A deliberately misbehaving XKS proxy for the error paths of external key stores.

A small threaded HTTP server, not Strongroom: while ``mode`` is ``"good"`` it answers the XKS
Proxy API correctly (AES-256-GCM in software with one key per external key id, AAD as the spec
recommends); the other modes break one rule each. It checks nothing of SigV4 but records every
request's headers and body, so tests can see what Strongroom sent.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MODES = (
    "good",
    "bad-auth",  # 401 AuthenticationFailedException
    "not-json",  # 200 with a body that is not JSON
    "wrong-json",  # 200 with JSON lacking the members the operation returns
    "slow",  # answers after `delay` seconds
    "unavailable",  # health: every key manager instance UNAVAILABLE
    "disabled",  # metadata: keyStatus DISABLED; encrypt/decrypt: InvalidStateException
    "rsa",  # metadata: keySpec RSA_2048
    "internal",  # 500 InternalException
)


@dataclass
class BadProxy:
    endpoint: str  # http://127.0.0.1:port
    mode: str = "good"
    delay: float = 3.0
    known_keys: set[str] = field(default_factory=lambda: {"good-key", "other-key"})
    requests: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    _keys: dict[str, bytes] = field(default_factory=dict)

    def key(self, key_id: str) -> AESGCM:
        return AESGCM(self._keys.setdefault(key_id, os.urandom(32)))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _aad(body: dict[str, Any], metadata: bytes = b"") -> bytes:
    aad = base64.b64decode(body.get("additionalAuthenticatedData", ""))
    return len(aad).to_bytes(2, "big") + aad + len(metadata).to_bytes(1, "big") + metadata


def _answer(proxy: BadProxy, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    mode = proxy.mode
    if mode == "bad-auth":
        return 401, {"errorName": "AuthenticationFailedException", "errorMessage": "no"}
    if mode == "internal":
        return 500, {"errorName": "InternalException", "errorMessage": "broken"}
    if mode == "wrong-json":
        return 200, {"unexpected": True}
    if path.endswith("/health"):
        status = "UNAVAILABLE" if mode == "unavailable" else "ACTIVE"
        return 200, {
            "xksProxyFleetSize": 1,
            "xksProxyVendor": "tests",
            "xksProxyModel": "bad",
            "ekmVendor": "tests",
            "ekmFleetDetails": [{"id": "ekm-1", "model": "soft", "healthStatus": status}],
        }
    parts = path.split("/")
    key_id, operation = parts[-2], parts[-1]
    if key_id not in proxy.known_keys:
        return 404, {"errorName": "KeyNotFoundException", "errorMessage": "unknown key"}
    if operation == "metadata":
        return 200, {
            "keySpec": "RSA_2048" if mode == "rsa" else "AES_256",
            "keyUsage": ["ENCRYPT", "DECRYPT"],
            "keyStatus": "DISABLED" if mode == "disabled" else "ENABLED",
        }
    if mode == "disabled":
        return 400, {"errorName": "InvalidStateException", "errorMessage": "disabled"}
    cipher = proxy.key(key_id)
    if operation == "encrypt":
        iv = os.urandom(12)
        sealed = cipher.encrypt(iv, base64.b64decode(body["plaintext"]), _aad(body))
        return 200, {
            "initializationVector": _b64(iv),
            "ciphertext": _b64(sealed[:-16]),
            "authenticationTag": _b64(sealed[-16:]),
        }
    try:
        plaintext = cipher.decrypt(
            base64.b64decode(body["initializationVector"]),
            base64.b64decode(body["ciphertext"]) + base64.b64decode(body["authenticationTag"]),
            _aad(body),
        )
    except Exception:
        return 400, {"errorName": "InvalidCiphertextException", "errorMessage": "no"}
    return 200, {"plaintext": _b64(plaintext)}


def _handler(proxy: BadProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            body = json.loads(raw) if raw else {}
            proxy.requests.append((self.path, dict(self.headers.items()), body))
            if proxy.mode == "slow":
                time.sleep(proxy.delay)
            if proxy.mode == "not-json":
                status, payload = 200, b"<html>surprise</html>"
            else:
                status, answer = _answer(proxy, self.path, body)
                payload = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                return  # the KMS gave up waiting (the slow mode): that is the point

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def bad_proxy(tls: tuple[Path, Path] | None = None) -> Iterator[BadProxy]:
    """With ``tls`` (certificate, private key): served over HTTPS."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(BadProxy("")))
    scheme = "http"
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    proxy = BadProxy(f"{scheme}://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(proxy)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
