"""KMS requests over one HTTP connection the test controls, signed by botocore.

boto3 hides its connections; these do not, so a test can find out which server worker process
holds a connection (``tests/support/processes.connection_owner``) and talk to each worker on
purpose instead of relying on the kernel spreading new connections.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.kms.service.admin import IssuedAccessKey
from tests.support.processes import connection_owner

REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any]

    @property
    def error_code(self) -> str | None:
        code = self.body.get("__type")
        return None if code is None else str(code)


class RawKms:
    """One keep-alive HTTP connection to a KMS endpoint."""

    def __init__(self, endpoint: str, key: IssuedAccessKey, region: str = REGION) -> None:
        parts = urlsplit(endpoint)
        assert parts.hostname is not None and parts.port is not None
        self.endpoint = endpoint
        self.server_port = parts.port
        self.key = key
        self.region = region
        self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        self._conn.connect()
        self.local_port: int = self._conn.sock.getsockname()[1]

    def health(self) -> int:
        self._conn.request("GET", "/health")
        response = self._conn.getresponse()
        response.read()
        return response.status

    def call(
        self, operation: str, payload: dict[str, Any], key: IssuedAccessKey | None = None
    ) -> Reply:
        chosen = key or self.key
        body = json.dumps(payload).encode()
        request = AWSRequest(
            method="POST",
            url=self.endpoint + "/",
            data=body,
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"TrentService.{operation}",
            },
        )
        credentials = Credentials(chosen.access_key_id, chosen.secret_access_key)
        SigV4Auth(credentials, "kms", self.region).add_auth(request)
        self._conn.request("POST", "/", body=body, headers=dict(request.headers.items()))
        response = self._conn.getresponse()
        data = response.read()
        if self._conn.sock is None or self._conn.sock.getsockname()[1] != self.local_port:
            raise AssertionError("the connection was replaced; the test lost its worker")
        return Reply(response.status, json.loads(data) if data else {})

    def encrypt(
        self, key_id: str, plaintext: bytes = b"x", key: IssuedAccessKey | None = None
    ) -> Reply:
        return self.call(
            "Encrypt", {"KeyId": key_id, "Plaintext": base64.b64encode(plaintext).decode()}, key
        )

    def close(self) -> None:
        self._conn.close()


@contextmanager
def kept_alive(connections: Iterable[RawKms], every: float = 1.0) -> Iterator[None]:
    """Ping idle connections while the block runs (a slow subprocess on a loaded machine), so
    the server's keep-alive timeout does not close the connections a test pinned to workers."""
    stop = threading.Event()

    def ping() -> None:
        while not stop.wait(every):
            for conn in connections:
                assert conn.health() == 200

    pinger = threading.Thread(target=ping, daemon=True)
    pinger.start()
    try:
        yield
    finally:
        stop.set()
        pinger.join()


def connect_to_each_worker(
    endpoint: str, key: IssuedAccessKey, workers: list[int], attempts: int = 200
) -> dict[int, RawKms]:
    """Open connections until every worker holds one; return one connection per worker.

    The kernel hands each new connection to whichever worker accepts first; the owner is read
    from ``/proc`` once a request on the connection has been answered (so it was accepted).
    """
    pinned: dict[int, RawKms] = {}
    for _ in range(attempts):
        conn = RawKms(endpoint, key)
        assert conn.health() == 200
        owner = connection_owner(conn.server_port, conn.local_port, workers)
        if owner is not None and owner not in pinned:
            pinned[owner] = conn
            if len(pinned) == len(workers):
                return pinned
        else:
            conn.close()
    for conn in pinned.values():
        conn.close()
    raise AssertionError(
        f"{attempts} new connections reached only workers {sorted(pinned)} of {workers}"
    )
