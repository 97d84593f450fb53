"""The XKS proxy's HTTP face: ``POST /xks/<custom key store id>/kms/xks/v1/...``.

Served on the KMS port. :meth:`XksApi.claims` is a prefix test on the path, so the KMS JSON
path (``POST /``) pays one failed ``startswith``. Per request: method (POST only; the spec
wants 405 for GET), path, bounded body, SigV4 for service ``kms-xks-proxy`` with a credential
of the store the path names (any region: AWS KMS signs with its own), then the operation
(proxy.py). Every failure is an :class:`XksError`, answered in ``errors.error_response``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from strongroom.client.served import Served
from strongroom.kms.api.sigv4 import SigV4Verifier
from strongroom.kms.audit.events import CommitWaiter, new_ticket
from strongroom.kms.domain.ids import UuidShapedIds
from strongroom.kms.domain.xks import XKS_PATH_ROOT, XksCredential
from strongroom.kms.errors import KmsError
from strongroom.xks import wire
from strongroom.xks.errors import (
    AuthenticationFailedException,
    DependencyTimeoutException,
    InternalException,
    MethodNotAllowed,
    UnsupportedOperationException,
    XksError,
    error_response,
)
from strongroom.xks.proxy import XksProxy

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

SERVICE = "kms-xks-proxy"
CONTENT_TYPE = b"application/json"
# The largest valid request (16 KiB of data, 8 KiB of AAD, metadata ARNs), Base64'd, fits.
MAX_BODY_BYTES = 96 * 1024


class XksApi:
    def __init__(
        self,
        proxy: XksProxy,
        verifier: SigV4Verifier[XksCredential],
        commits: CommitWaiter | None = None,
    ) -> None:
        """``commits``: with ``before-response`` audit durability, the sink whose commit of
        a request's event the response waits for (as for KMS requests)."""
        self._proxy = proxy
        self._verifier = verifier
        self._commits = commits
        self._request_ids = UuidShapedIds()

    @staticmethod
    def claims(scope: Scope) -> bool:
        """Is this an XKS request? The path prefix decides; S3 requests signed for ``s3``
        (a bucket named ``xks``) are left to the object store."""
        if not scope["path"].startswith(XKS_PATH_ROOT):
            return False
        for name, value in scope["headers"]:
            if name == b"authorization":
                return b"/s3/aws4_request" not in value
        return True

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> Served:
        """Answer one XKS request; returns what it was, for the node's metrics and log."""
        request_id = self._request_ids.next()
        commits = self._commits
        ticket = None if commits is None else new_ticket()
        operation, code = "unknown", "OK"
        try:
            if scope["method"] != "POST":
                raise MethodNotAllowed()
            path = wire.parse_path(scope["path"])
            operation = path.operation
            body = await _read_body(scope, receive)
            credential = self._authenticate(scope, body, path)
            client = scope.get("client")
            source_ip = client[0] if client else ""
            run = self._proxy.run
            if path.operation == wire.HEALTH:  # looks up every token: off the event loop
                response = await asyncio.to_thread(
                    run, path, body, credential, request_id, source_ip
                )
            else:
                response = run(path, body, credential, request_id, source_ip)
            status, payload = 200, orjson.dumps(response)
        except XksError as error:
            status, payload = error_response(error)
            code = error.name
        except KmsError as error:  # the audit trail refusing events (fail closed)
            log.warning("XKS request %s refused: %s", request_id, type(error).__name__)
            status, payload = error_response(DependencyTimeoutException())
            code = DependencyTimeoutException.__name__
        except Exception:
            log.exception("internal error in XKS request %s", request_id)
            status, payload = error_response(InternalException())
            code = InternalException.__name__
        if commits is not None and ticket is not None and ticket.seq:
            try:
                await commits.wait_committed(ticket)
            except KmsError:
                status, payload = error_response(DependencyTimeoutException())
                code = DependencyTimeoutException.__name__
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", CONTENT_TYPE),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-amzn-requestid", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        return Served("xks", operation, status, code, request_id=request_id)

    def _authenticate(self, scope: Scope, body: bytes, path: wire.XksPath) -> XksCredential:
        """The credential that signed the request; it must belong to the path's store."""
        try:
            credential, _ = self._verifier.verify(
                "POST",
                scope.get("raw_path") or scope["path"].encode(),
                scope.get("query_string", b""),
                scope["headers"],
                body,
            )
        except KmsError as error:
            raise AuthenticationFailedException(_reason(error)) from None
        if credential.custom_key_store_id != path.custom_key_store_id:
            raise AuthenticationFailedException("The credential is not valid for this path.")
        return credential


def _reason(error: KmsError) -> str:
    """The verifier's wording (it never contains secrets or signatures), or a fixed text."""
    return str(error) or "The request signature could not be verified."


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY_BYTES:
            raise UnsupportedOperationException("The request body is too large.")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise UnsupportedOperationException("The request body is too large.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
