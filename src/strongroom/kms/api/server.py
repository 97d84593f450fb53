"""The HTTP face of the KMS: AWS JSON 1.1 over raw ASGI, or handed over whole by the HTTP
protocol (:meth:`KmsApi.answer_direct`, ADR 33); routing between APIs is ``asgi_app.py``.

Per request: read the body (bounded) -> verify SigV4 -> find the operation -> parse JSON ->
validate against the service model -> run the pipeline -> encode. Any :class:`KmsError` becomes
a response in ``wire_errors``; anything else is logged and answered as KMSInternalException.
Form-encoded requests without ``X-Amz-Target`` are STS's Query protocol and go to ``sts.py``.

No web framework: on this path a framework costs more than everything else together (see
``docs/adr/0002-raw-asgi-uvicorn.md``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import replace
from typing import Any

import orjson
from pybase64 import b64encode_as_string

from strongroom.client.served import Served
from strongroom.kms.api.http_limits import DirectResponse
from strongroom.kms.api.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from strongroom.kms.api.metrics import Metrics
from strongroom.kms.api.model import ServiceModel
from strongroom.kms.api.quotas import RequestQuotas
from strongroom.kms.api.request_log import RequestLog
from strongroom.kms.api.sigv4 import SigV4Verifier
from strongroom.kms.api.sts import CONTENT_TYPE as STS_CONTENT_TYPE
from strongroom.kms.api.sts import StsApi, is_sts_request
from strongroom.kms.api.wire_errors import error_response
from strongroom.kms.audit.events import CommitWaiter, new_ticket
from strongroom.kms.domain.ids import UuidShapedIds
from strongroom.kms.errors import (
    DependencyTimeoutException,
    KmsError,
    KMSInternalException,
    RequestEntityTooLargeException,
    SerializationException,
    UnknownOperationException,
    UnsupportedOperationException,
)
from strongroom.kms.log_limits import RateLimitedLog, describe_failure, is_environmental
from strongroom.kms.service.caller import Caller, Credential
from strongroom.kms.service.pipeline import NeedsThread, Operation, Pipeline, Request

log = logging.getLogger(__name__)

STORAGE_UNAVAILABLE = "The request could not be stored now (storage unavailable). Retry later."

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TARGET_PREFIX = "TrentService."
JSON_CONTENT_TYPE = b"application/x-amz-json-1.1"
HEALTH_PATHS = ("/health", "/healthz")  # liveness: the process answers
READY_PATH = "/readyz"  # readiness: the database and the key store answer
METRICS_PATH = "/metrics"

# A readiness check: each dependency's name and "ok" or what is wrong (never a secret).
ReadyCheck = Callable[[], dict[str, str]]


_PROBES = (*HEALTH_PATHS, READY_PATH, METRICS_PATH)


def is_probe(scope: Scope) -> bool:
    """The node's own probes, answered before the object store sees a path (no bucket may
    take their names)."""
    return bool(scope["method"] == "GET" and scope["path"] in _PROBES)


def _json_default(value: object) -> object:
    """Blobs of a response as Base64 text: pybase64 (SIMD; 0.3 µs for 1 KiB where
    ``base64.b64encode`` takes 1.4), the same text (ADR 39)."""
    if isinstance(value, bytes):
        return b64encode_as_string(value)
    raise TypeError(type(value).__name__)


class KmsApi:
    """Routes AWS JSON 1.1 requests to the pipeline."""

    def __init__(
        self,
        pipeline: Pipeline,
        verifier: SigV4Verifier[Credential],
        model: ServiceModel,
        operations: Mapping[str, Operation],
        max_body_bytes: int,
        *,
        sts: StsApi | None = None,
        extensions: Mapping[str, tuple[Operation, Mapping[str, str]]] | None = None,
        metrics: Metrics | None = None,
        ready: ReadyCheck | None = None,
        quotas: RequestQuotas | None = None,
        commits: CommitWaiter | None = None,
        request_log: RequestLog | None = None,
    ) -> None:
        """``extensions``: Strongroom operations that AWS's model lacks, each with its input
        members and the model shapes that validate them (ListProviderAccesses).
        ``commits``: with ``before-response`` audit durability, the sink whose commit of a
        request's event the response waits for."""
        self._pipeline = pipeline
        self.commits = commits
        self._sts = sts
        self._verifier = verifier
        extensions = extensions or {}
        self._operations = {**operations, **{n: op for n, (op, _) in extensions.items()}}
        self.max_body = max_body_bytes
        self._model_operations = frozenset(model.operation_names)
        self._decoders = {name: model.request_decoder(name) for name in operations}
        for name, (_, members) in extensions.items():
            self._decoders[name] = model.extension_decoder(name, members)
        self._request_ids = UuidShapedIds()
        self._metrics = metrics
        self._ready = ready
        self._storage_alert = RateLimitedLog(log, 30.0)
        self._quotas = quotas
        self._request_log = request_log

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = self._request_ids.next()
        if is_probe(scope):
            await self._probe(scope["path"], send, request_id)
            return
        if self._sts is not None and is_sts_request(scope["headers"]):
            await self._handle_sts(self._sts, scope, receive, send, request_id)
            return
        status, payload = await self._answer(scope, receive, None, request_id)
        await _respond(send, status, payload, request_id)

    async def answer_direct(self, scope: Scope, body: bytes) -> DirectResponse:
        """A KMS request the HTTP protocol hands over whole (``http_limits``, ADR 33)."""
        request_id = self._request_ids.next()
        status, payload = await self._answer(scope, None, body, request_id)
        return (
            status,
            [(b"content-type", JSON_CONTENT_TYPE), (b"x-amzn-requestid", request_id.encode())],
            payload,
        )

    async def _answer(
        self, scope: Scope, receive: Receive | None, body: bytes | None, request_id: str
    ) -> tuple[int, bytes]:
        """Run one KMS request (the body given, or read from ``receive``); count and log it."""
        started = time.perf_counter()
        name, code = "unknown", "OK"
        commits = self.commits
        ticket = None if commits is None else new_ticket()
        request = response = caller = None
        try:
            if body is None:
                assert receive is not None
                body = await self._read_body(scope, receive)
            operation, request, caller = self._prepare(scope, body)
            name = operation.name
            execute = self._pipeline.execute
            if operation.blocking:
                response = await asyncio.to_thread(execute, operation, request, caller, request_id)
            else:
                try:
                    response = execute(operation, request, caller, request_id, inline=True)
                except NeedsThread:  # an external key store's key: its proxy is a round trip
                    response = await asyncio.to_thread(
                        execute, operation, request, caller, request_id
                    )
            status, payload = 200, orjson.dumps(response, default=_json_default)
        except KmsError as error:
            code = error.code
            status, payload = error_response(error)
        except Exception as error:
            failure = self._unexpected(error, request_id)
            code = failure.code
            status, payload = error_response(failure)
        if commits is not None and ticket is not None and ticket.seq:
            try:  # before-response durability: answer once the request's event is committed
                await commits.wait_committed(ticket)
            except KmsError as error:
                code = error.code
                status, payload = error_response(error)
        seconds = time.perf_counter() - started
        if self._metrics is not None:
            self._metrics.observe(name, code, seconds)
        if self._request_log is not None:  # off by default (api/request_log.py)
            self._request_log.kms_request(
                request_id,
                name,
                status,
                code,
                seconds,
                caller=caller,
                request=request,
                response=response,
            )
        return status, payload

    async def _probe(self, path: str, send: Send, request_id: str) -> None:
        if path == METRICS_PATH:
            text = b"" if self._metrics is None else self._metrics.exposition()
            await _respond(send, 200, text, request_id, METRICS_CONTENT_TYPE)
            return
        if path == READY_PATH and self._ready is not None:
            checks = await asyncio.to_thread(self._ready)
            ready = all(v == "ok" for v in checks.values())
            body = orjson.dumps({"status": "ready" if ready else "not ready", "checks": checks})
            await _respond(send, 200 if ready else 503, body, request_id)
            return
        await _respond(send, 200, b'{"status":"ok"}', request_id)

    def _unexpected(self, error: Exception, request_id: str) -> KmsError:
        """A failure of the machine (a full disk, a database refusing writes) is a retryable
        DependencyTimeoutException with one rate-limited line; anything else is a bug, logged
        with its traceback and answered KMSInternalException."""
        if is_environmental(error):
            self._storage_alert.log(
                logging.ERROR,
                f"request {request_id} failed: storage unavailable ({describe_failure(error)})",
            )
            return DependencyTimeoutException(STORAGE_UNAVAILABLE)
        log.exception("internal error in request %s", request_id)
        return KMSInternalException()

    def record(self, served: Served, seconds: float) -> None:
        """Count and log a request another API of this node answered (S3, STS, XKS)."""
        if self._metrics is not None:
            self._metrics.observe_served(served.service, served.operation, served.code, seconds)
        if self._request_log is not None:
            self._request_log.request(
                served.request_id,
                served.operation,
                served.status,
                served.code,
                seconds,
                service=served.service,
                account=served.account_id,
                principal=served.principal_arn,
            )

    async def _handle_sts(
        self, sts: StsApi, scope: Scope, receive: Receive, send: Send, request_id: str
    ) -> None:
        started = time.perf_counter()
        commits = self.commits
        ticket = None if commits is None else new_ticket()
        try:
            body = await self._read_body(scope, receive)
        except KmsError as error:
            status, payload = sts.error_response(error, request_id)
            served = Served("sts", "unknown", status, error.code, request_id=request_id)
        else:
            raw_path = scope.get("raw_path") or b"/"
            query = scope.get("query_string", b"")
            client = scope.get("client")
            status, payload, served = sts.respond(
                scope["method"],
                raw_path,
                query,
                scope["headers"],
                body,
                request_id=request_id,
                source_ip=client[0] if client else "",
            )
        if commits is not None and ticket is not None and ticket.seq:
            try:
                await commits.wait_committed(ticket)
            except KmsError as error:
                status, payload = sts.error_response(error, request_id)
                served = replace(served, status=status, code=error.code)
        await _respond(send, status, payload, request_id, STS_CONTENT_TYPE)
        self.record(served, time.perf_counter() - started)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise SerializationException("Invalid Content-Length header.") from None
                if declared > self.max_body:
                    raise RequestEntityTooLargeException()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise RequestEntityTooLargeException()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _prepare(self, scope: Scope, body: bytes) -> tuple[Operation, Request, Caller]:
        """Authenticate, find the operation, decode the request (on the event loop: cheap)."""
        if scope["method"] != "POST" or scope["path"] != "/":
            raise UnknownOperationException()
        headers = scope["headers"]
        credential, region = self._verifier.verify(
            "POST", scope.get("raw_path") or b"/", scope.get("query_string", b""), headers, body
        )
        operation = self._operation(headers)
        if self._quotas is not None:
            self._quotas.admit(credential.principal.account_id, region, operation.name)
        try:
            parsed = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            raise SerializationException("Unable to parse the request body as JSON.") from None
        request = self._decoders[operation.name].decode(parsed)
        client = scope.get("client")
        source_ip = client[0] if client else ""
        return operation, request, Caller.from_credential(credential, source_ip, region)

    def _operation(self, headers: list[tuple[bytes, bytes]]) -> Operation:
        for header, value in headers:  # the first X-Amz-Target (a loop: no generator to make)
            if header == b"x-amz-target":
                target = value.decode("latin-1")
                break
        else:
            target = ""
        name = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        operation = self._operations.get(name)
        if operation is not None:
            return operation
        if name in self._model_operations:
            raise UnsupportedOperationException(f"{name} is not supported by this server yet.")
        raise UnknownOperationException()


async def _respond(
    send: Send,
    status: int,
    payload: bytes,
    request_id: str,
    content_type: bytes = JSON_CONTENT_TYPE,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(payload)).encode()),
                (b"x-amzn-requestid", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
