"""The HTTP face of the object store: authenticate, route, run the handler, answer S3's way.

Served on the KMS's port: ``AsgiApp`` asks :meth:`S3Api.claims` about each request, a cheap
look at a few headers, and hands the request here when it is signed for service ``s3``, aimed
at a virtual-hosted bucket, or an unsigned request for a path other than ``/``. Every
:class:`S3Error` becomes S3's XML error body here, and only here.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from strongroom.client.kms import AuditGate, KmsCallError
from strongroom.client.principal import Principal
from strongroom.client.served import Served
from strongroom.objectstore import routing, sse, xml
from strongroom.objectstore.buckets import Buckets
from strongroom.objectstore.chunked import decode_chunked, decoded_length, plain_body
from strongroom.objectstore.context import StoreContext
from strongroom.objectstore.copying import Copying
from strongroom.objectstore.errors import (
    IncompleteBody,
    InternalError,
    MethodNotAllowed,
    MissingContentLength,
    S3Error,
    Unimplemented,
)
from strongroom.objectstore.http import S3Request, S3Response, decode_query
from strongroom.objectstore.keyring import kms_error
from strongroom.objectstore.listing import Listing
from strongroom.objectstore.multipart import Multipart
from strongroom.objectstore.objects import Objects
from strongroom.objectstore.sigv2 import S3SigV2PresignVerifier, is_presigned_v2
from strongroom.objectstore.sigv4 import (
    STREAMING,
    UNSIGNED,
    Authenticated,
    S3SigV4Verifier,
    header_map,
)
from strongroom.objectstore.tagging import Tagging

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[S3Request], Awaitable[S3Response]]

_LOOPBACK = frozenset(("127.0.0.1", "::1"))
# Operations whose body is object data: S3 requires its length up front.
_DATA = frozenset(("PutObject", "UploadPart"))


class _Body:
    """The request body from ASGI messages; remembers whether it was read to the end."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self.done:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise IncompleteBody()
            body = message.get("body", b"")
            self.done = not message.get("more_body", False)
            if body:
                yield body


def _declares_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if (name == b"content-length" and value.strip() != b"0") or name == b"transfer-encoding":
            return True
    return False


class S3Api:
    def __init__(
        self,
        ctx: StoreContext,
        verifier: S3SigV4Verifier,
        v2_verifier: S3SigV2PresignVerifier,
        *,
        virtual_host_suffix: str,
        request_ids: Callable[[], str],
        audit: AuditGate,
    ) -> None:
        self._verifier = verifier
        self._v2 = v2_verifier
        self._suffix = virtual_host_suffix
        self._host_suffix = ("." + virtual_host_suffix).encode() if virtual_host_suffix else None
        self._request_ids = request_ids
        self._audit = audit
        buckets, objects = Buckets(ctx), Objects(ctx)
        listing, multipart, tagging = Listing(ctx), Multipart(ctx), Tagging(ctx)
        copying = Copying(ctx, objects)
        self._handlers: dict[str, Handler] = {
            "ListBuckets": buckets.list_all,
            "CreateBucket": buckets.create,
            "DeleteBucket": buckets.delete,
            "HeadBucket": buckets.head,
            "GetBucketLocation": buckets.location,
            "PutBucketEncryption": buckets.put_encryption,
            "GetBucketEncryption": buckets.get_encryption,
            "DeleteBucketEncryption": buckets.delete_encryption,
            "ListObjectsV2": listing.list_v2,
            "ListObjects": listing.list_v1,
            "DeleteObjects": objects.delete_many,
            "PutObject": copying.put_or_copy,
            "GetObject": objects.get,
            "HeadObject": objects.head,
            "DeleteObject": objects.delete,
            "PutObjectTagging": tagging.put,
            "GetObjectTagging": tagging.get,
            "DeleteObjectTagging": tagging.delete,
            "CreateMultipartUpload": multipart.create,
            "UploadPart": multipart.upload_part_or_copy,
            "CompleteMultipartUpload": multipart.complete,
            "AbortMultipartUpload": multipart.abort,
            "ListParts": multipart.list_parts,
            "ListMultipartUploads": multipart.list_uploads,
        }

    @property
    def operations(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def claims(self, scope: Scope) -> bool:
        """Is this an S3 request? A few byte comparisons, so the KMS path stays fast."""
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"x-amz-target":
                return False
            elif (
                name == b"host"
                and self._host_suffix is not None
                and value.split(b":", 1)[0].endswith(self._host_suffix)
            ):
                return True
        if authorization is not None:
            return b"/s3/aws4_request" in authorization
        query = scope.get("query_string", b"")
        if b"X-Amz-Credential=" in query:
            return b"%2Fs3%2Faws4_request" in query or b"/s3/aws4_request" in query
        return scope["path"] not in ("/", "/health")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> Served:
        """Answer one S3 request; returns what it was, for the node's metrics and log."""
        request_id = self._request_ids()
        method = scope["method"]
        body = _Body(receive)
        token = self._audit.open()
        trace = _Trace()
        try:
            response = await self._dispatch(scope, body, request_id, trace)
        except S3Error as error:
            response = _error_response(error, scope["path"], request_id)
            trace.code = error.code
        except Exception:
            log.exception("internal error in S3 request %s", request_id)
            internal = InternalError()
            response = _error_response(internal, scope["path"], request_id)
            trace.code = internal.code
        try:  # the KMS's before-response audit durability holds for calls made through S3 too
            await self._audit.close(token)
        except KmsCallError as error:
            failure = kms_error(error)
            response = _error_response(failure, scope["path"], request_id)
            trace.code = failure.code
        if not body.done and _declares_body(scope):
            # The client may still send the body we did not read (or never send it, after
            # Expect: 100-continue): the connection cannot carry another request.
            response.headers.append(("Connection", "close"))
        await _send(send, response, request_id, head=method == "HEAD")
        principal = trace.principal
        return Served(
            "s3",
            trace.operation,
            response.status,
            trace.code,
            None if principal is None else principal.account_id,
            None if principal is None else principal.arn,
            request_id=request_id,
        )

    async def _dispatch(
        self, scope: Scope, body: _Body, request_id: str, trace: _Trace
    ) -> S3Response:
        method = scope["method"]
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query_string = scope.get("query_string", b"")
        headers = header_map(scope["headers"])
        path = raw_path.split(b"?", 1)[0]
        found = routing.target(scope["path"], headers.get("host", ""), self._suffix)
        query = decode_query(query_string)
        if is_presigned_v2(query):
            resource = path if not found.virtual else f"/{found.bucket}".encode() + path
            credential = self._v2.verify(method, resource, query, headers)
            authenticated = Authenticated(credential, UNSIGNED, None, presigned=True)
        else:
            authenticated = self._verifier.verify(method, path, query_string, headers)
        sse.require_secure_transport(headers, _secure(scope))
        name = routing.operation(method, found, query)
        trace.operation = name or "unknown"
        if name is None:
            if method not in ("GET", "PUT", "POST", "DELETE", "HEAD"):
                raise MethodNotAllowed(Method=method, ResourceType="OBJECT")
            raise Unimplemented()
        client = scope.get("client")
        request = S3Request(
            method,
            found.bucket,
            found.key,
            query,
            headers,
            authenticated.credential.principal(client[0] if client else "", authenticated.region),
            request_id,
        )
        trace.principal = request.principal
        source = body.chunks()
        if authenticated.payload in STREAMING and authenticated.signing is not None:
            length = decoded_length(headers)
            request.body = decode_chunked(
                source, authenticated.payload, authenticated.signing, length, request.trailer
            )
        else:
            raw = headers.get("content-length")
            if raw is None or not raw.isdigit():
                if name in _DATA:
                    raise MissingContentLength()
                length = 0
            else:
                length = int(raw)
            declared = authenticated.payload
            request.body = plain_body(source, length, declared if len(declared) == 64 else None)
        request.content_length = length
        return await self._handlers[name](request)


class _Trace:
    """What the request turned out to be, filled in as it is dispatched."""

    __slots__ = ("code", "operation", "principal")

    def __init__(self) -> None:
        self.operation = "unknown"
        self.code = "OK"
        self.principal: Principal | None = None


def _secure(scope: Scope) -> bool:
    """TLS, or a peer on this host (loopback, a Unix socket): a secret sent here crossed no
    network. Behind a proxy uvicorn trusts (``forwarded_allow_ips``), scheme and peer are the
    ones the proxy reports (X-Forwarded-Proto, X-Forwarded-For)."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    client = scope.get("client")
    if not client:
        return True
    if client[0] in _LOOPBACK:
        return True  # the usual peers, without parsing them
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _error_response(error: S3Error, resource: str, request_id: str) -> S3Response:
    if error.status == 304:
        return S3Response(status=304)
    children: list[xml.Node] = [("Code", error.code), ("Message", error.message)]
    children += list(error.fields.items())
    children += [("Resource", resource), ("RequestId", request_id)]
    body = xml.document("Error", children, namespace=False)
    return S3Response(status=error.status, headers=[("Content-Type", "application/xml")], body=body)


async def _send(send: Send, response: S3Response, request_id: str, *, head: bool) -> None:
    headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in response.headers]
    headers.append((b"x-amz-request-id", request_id.encode()))
    names = {n.lower() for n, _ in response.headers}
    if response.stream is None:
        if "content-length" not in names:
            headers.append((b"content-length", str(len(response.body)).encode()))
        if response.body and "content-type" not in names:
            headers.append((b"content-type", b"application/xml"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if head or response.stream is None:
        await send({"type": "http.response.body", "body": b"" if head else response.body})
        return
    async for piece in response.stream():
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
