"""The KMS API called in process, for Strongroom's own clients (the web console,
``console_site.py``).

No HTTP, but nothing else skipped: the request is decoded and validated by the same
model-derived decoder as an HTTP request, then run by :class:`InProcessCalls`
(``kms/service/in_process.py``, the object store's path as well): the same request quotas,
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
from strongroom.kms.errors import KmsError, KMSInternalException, UnknownOperationException
from strongroom.kms.service.in_process import InProcessCalls
from strongroom.kms.service.pipeline import Operation

log = logging.getLogger(__name__)


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)


class InProcessKms:
    """KMS operations by name, decoded as the API decodes them and run in process."""

    def __init__(
        self,
        calls: InProcessCalls,
        model: ServiceModel,
        extensions: Mapping[str, tuple[Operation, Mapping[str, str]]],
    ) -> None:
        """``calls``: the worker's in-process calls (its request quotas shared with HTTP)."""
        self._calls = calls
        self._model = model
        self._extension_members = {name: members for name, (_, members) in extensions.items()}
        self._decoders: dict[str, RequestDecoder] = {}

    def call(
        self, principal: Principal, operation: str, request: Mapping[str, Any]
    ) -> dict[str, Any]:
        try:
            if not self._calls.knows(operation):
                raise UnknownOperationException()
            decoded = self._decoder(operation).decode(dict(request))
            response = self._calls.execute(principal, operation, decoded)
            result: dict[str, Any] = orjson.loads(orjson.dumps(response, default=_json_default))
        except KmsError as error:
            raise KmsCallError(error.code, error.message) from None
        except Exception:
            log.exception("internal error decoding an in-process %s request", operation)
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
