"""One KMIP request message in, one response message out.

Parsing failures are answered with Invalid Message; a certificate that is not registered gets
Authentication Not Successful for every batch item; each batch item otherwise runs through the
KMS pipeline as its :class:`~strongroom.kmip.operation.KmipOperation`. A batch item without a
Unique Identifier uses the one the previous item returned (KMIP's ID Placeholder).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from strongroom.client.served import Served
from strongroom.kmip import messages, ttlv
from strongroom.kmip.enums import Operation, ResultReason
from strongroom.kmip.errors import message_of, reason_of
from strongroom.kmip.identity import KmipIdentities
from strongroom.kmip.operation import KmipOperation, request_of
from strongroom.kmip.tags import Tag
from strongroom.kmip.ttlv import Item, TtlvError
from strongroom.kms.domain.ids import UuidShapedIds
from strongroom.kms.errors import KmsError
from strongroom.kms.service.caller import Caller
from strongroom.kms.service.pipeline import Pipeline

log = logging.getLogger(__name__)


def _code(reason: ResultReason | None) -> str:
    """``OK``, or the result reason as KMIP names it (ITEM_NOT_FOUND: ``ItemNotFound``)."""
    return "OK" if reason is None else "".join(w.capitalize() for w in reason.name.split("_"))


def _served(result: messages.Result, caller: Caller | None) -> Served:
    try:
        name = "".join(w.capitalize() for w in Operation(result.operation or 0).name.split("_"))
    except ValueError:
        name = "unknown"
    status = 200 if result.reason is None else 400
    if result.reason is ResultReason.GENERAL_FAILURE:
        status = 500
    return Served(
        "kmip",
        name,
        status,
        _code(result.reason),
        None if caller is None else caller.account_id,
        None if caller is None else caller.principal_arn,
    )


class KmipService:
    def __init__(
        self,
        pipeline: Pipeline,
        identities: KmipIdentities,
        operations: Mapping[int, KmipOperation],
        now: Callable[[], datetime],
    ) -> None:
        self._pipeline = pipeline
        self._identities = identities
        self._operations = operations
        self._now = now
        self._request_ids = UuidShapedIds()

    def handle(
        self, data: bytes, certificate_fingerprint: str, source_ip: str
    ) -> tuple[bytes, list[Served]]:
        """The response message, and what each batch item was (for the node's metrics and
        request log)."""
        try:
            request = messages.parse(ttlv.decode(data))
        except TtlvError as error:
            invalid = Served("kmip", "unknown", 400, _code(ResultReason.INVALID_MESSAGE))
            return ttlv.encode(
                messages.response(
                    (1, 0),
                    self._now(),
                    [
                        messages.Result(
                            None,
                            None,
                            reason=ResultReason.INVALID_MESSAGE,
                            message=f"Invalid message: {error}",
                        )
                    ],
                )
            ), [invalid]
        version = messages.answer_version(request.version)
        caller = self._identities.caller(
            certificate_fingerprint, source_ip, self._pipeline.ctx.default_region
        )
        results: list[messages.Result] = []
        placeholder: str | None = None
        for item in request.items:
            if caller is None:
                result = messages.Result(
                    item.operation,
                    item.batch_id,
                    reason=ResultReason.AUTHENTICATION_NOT_SUCCESSFUL,
                    message="The client certificate is not registered with this server.",
                )
            else:
                result, placeholder = self._run(item, version, caller, placeholder)
            results.append(result)
            if result.failed and request.stop_on_error:
                break
        encoded = ttlv.encode(messages.response(version, self._now(), results))
        if request.max_response_size is not None and len(encoded) > request.max_response_size:
            too_large = [
                messages.Result(
                    r.operation,
                    r.batch_id,
                    reason=ResultReason.RESPONSE_TOO_LARGE,
                    message="The response is larger than Maximum Response Size.",
                )
                for r in results
            ]
            encoded = ttlv.encode(messages.response(version, self._now(), too_large))
            results = too_large
        return encoded, [_served(result, caller) for result in results]

    def _run(
        self,
        item: messages.BatchItem,
        version: messages.Version,
        caller: Caller,
        placeholder: str | None,
    ) -> tuple[messages.Result, str | None]:
        op = self._operations.get(item.operation)
        if op is None:
            return (
                messages.Result(
                    item.operation,
                    item.batch_id,
                    reason=ResultReason.OPERATION_NOT_SUPPORTED,
                    message=f"Operation {item.operation:#04x} is not supported by this server.",
                ),
                placeholder,
            )
        try:
            request = request_of(op, item.payload, version, placeholder)
            response = self._pipeline.execute(
                op.pipeline_operation(request), request, caller, self._request_ids.next()
            )
        except KmsError as error:
            reason = reason_of(error)
            if reason is ResultReason.GENERAL_FAILURE:
                log.warning("KMIP %s failed: %s", op.operation.name, error.code)
            return (
                messages.Result(
                    item.operation, item.batch_id, reason=reason, message=message_of(error)
                ),
                placeholder,
            )
        except Exception:
            # A bug, not the client's fault: answer General Failure, keep the connection.
            log.exception("KMIP %s failed unexpectedly", op.operation.name)
            return (
                messages.Result(
                    item.operation,
                    item.batch_id,
                    reason=ResultReason.GENERAL_FAILURE,
                    message="The server failed to perform the operation.",
                ),
                placeholder,
            )
        payload = response.get("Payload")
        assert isinstance(payload, Item)
        # The ID placeholder: the object a batch item made or named (a pair: its private key).
        uid = payload.find(Tag.UNIQUE_IDENTIFIER) or payload.find(Tag.PRIVATE_KEY_UNIQUE_IDENTIFIER)
        if uid is not None:
            placeholder = str(uid.value)
        return messages.Result(item.operation, item.batch_id, payload=payload), placeholder
