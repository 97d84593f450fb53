"""The KMS API called in process, for Strongroom's own clients (the web console,
``console_site.py``).

No HTTP, but nothing else skipped: the request is decoded and validated by the same
model-derived decoder as an HTTP request, counted by the same request quotas, and run through
:meth:`Pipeline.execute` with the given principal as the caller, so the key policy, identity
policies, grants, the key-state table and audit apply exactly as for boto3. Under
``before-response`` audit durability the console holds each page until the events of its calls
are committed (the ``AuditGate`` handed to ``console_site.web_console``), as the HTTP API holds each
response. The response is what the wire would carry (timestamps as epoch seconds, blobs
base64), through the same JSON encoding.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any

import orjson

from strongroom.console.kms import KmsCallError, Principal
from strongroom.kms.api.model import RequestDecoder, ServiceModel
from strongroom.kms.api.quotas import RequestQuotas
from strongroom.kms.domain.ids import UuidShapedIds
from strongroom.kms.errors import KmsError, KMSInternalException, UnknownOperationException
from strongroom.kms.service.caller import Caller
from strongroom.kms.service.pipeline import Operation, Pipeline

log = logging.getLogger(__name__)


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)


class InProcessKms:
    """KMS operations by name, decoded as the API decodes them and run by the pipeline."""

    def __init__(
        self,
        pipeline: Pipeline,
        model: ServiceModel,
        operations: Mapping[str, Operation],
        extensions: Mapping[str, tuple[Operation, Mapping[str, str]]],
        quotas: RequestQuotas | None = None,
    ) -> None:
        """``quotas``: the worker's request quotas, shared with the HTTP API."""
        self._pipeline = pipeline
        self._quotas = quotas
        self._model = model
        self._operations = dict(operations)
        self._extension_members = {name: members for name, (_, members) in extensions.items()}
        self._operations.update({name: op for name, (op, _) in extensions.items()})
        self._decoders: dict[str, RequestDecoder] = {}
        self._request_ids = UuidShapedIds()

    def call(
        self, principal: Principal, operation: str, request: Mapping[str, Any]
    ) -> dict[str, Any]:
        caller = Caller(
            principal.account_id, principal.arn, principal.access_key_id, principal.source_ip
        )
        request_id = self._request_ids.next()
        try:
            found = self._operations.get(operation)
            if found is None:
                raise UnknownOperationException()
            if self._quotas is not None:
                self._quotas.admit(principal.account_id, operation)
            decoded = self._decoder(operation).decode(dict(request))
            response = self._pipeline.execute(found, decoded, caller, request_id)
            result: dict[str, Any] = orjson.loads(orjson.dumps(response, default=_json_default))
        except KmsError as error:
            raise KmsCallError(error.code, error.message) from None
        except Exception:
            log.exception("internal error in in-process request %s", request_id)
            internal = KMSInternalException()
            raise KmsCallError(internal.code, internal.message) from None
        return result

    def _decoder(self, operation: str) -> RequestDecoder:
        decoder = self._decoders.get(operation)
        if decoder is None:
            members = self._extension_members.get(operation)
            decoder = (
                self._model.request_decoder(operation)
                if members is None
                else self._model.extension_decoder(operation, members)
            )
            self._decoders[operation] = decoder
        return decoder
