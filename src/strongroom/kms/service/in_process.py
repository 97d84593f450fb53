"""The one way Strongroom's own clients call the KMS in process: the object store (through
``strongroom.client``, ``in_process_client.py``) and the web console (``kms/api/in_process.py``,
which decodes wire-shaped requests first).

A call is an HTTP request without HTTP: counted by the worker's request quotas (an S3 request
that needs a data key counts against the account's KMS quota, as on AWS), run by
:meth:`Pipeline.execute` as the given principal (with ``kms:ViaService`` when a service calls
on the principal's behalf), so the key policy, identity policies, grants, the key-state table
and audit apply exactly as for boto3. Errors are the KMS's own (:class:`KmsError`); anything
unexpected is logged and becomes ``KMSInternalException``, as over HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from strongroom.kms.domain.ids import UuidShapedIds
from strongroom.kms.errors import KmsError, KMSInternalException, UnknownOperationException
from strongroom.kms.service.caller import Caller
from strongroom.kms.service.pipeline import Operation, Pipeline, Response

log = logging.getLogger(__name__)

# (account id, region, operation name) -> None, or raises ThrottlingException
# (kms/api/quotas.py).
Admit = Callable[[str, str, str], None]


class CallingPrincipal(Protocol):
    """Who a call is made for (``strongroom.client``'s and the console's principals)."""

    @property
    def account_id(self) -> str: ...

    @property
    def arn(self) -> str: ...

    @property
    def access_key_id(self) -> str: ...

    @property
    def source_ip(self) -> str: ...


class InProcessCalls:
    def __init__(
        self,
        pipeline: Pipeline,
        operations: Mapping[str, Operation],
        admit: Admit | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._operations = dict(operations)
        self._admit = admit
        self._request_ids = UuidShapedIds()

    def knows(self, operation: str) -> bool:
        return operation in self._operations

    def execute(
        self,
        principal: CallingPrincipal,
        operation: str,
        request: Mapping[str, Any],
        *,
        region: str | None = None,
        service: str | None = None,
    ) -> Response:
        """Run ``operation`` with an already decoded ``request`` in ``region`` (None: the
        default region); with ``service`` (``s3``), as that service of the region
        (``kms:ViaService`` = ``s3.<region>.amazonaws.com``). Raises :class:`KmsError`."""
        region = region or self._pipeline.ctx.default_region
        caller = Caller(
            principal.account_id,
            principal.arn,
            principal.access_key_id,
            principal.source_ip,
            region,
            via_service=None if service is None else f"{service}.{region}.amazonaws.com",
            counted=self._admit is not None,
        )
        request_id = self._request_ids.next()
        try:
            found = self._operations.get(operation)
            if found is None:
                raise UnknownOperationException()
            if self._admit is not None:
                self._admit(principal.account_id, region, operation)
            return self._pipeline.execute(found, dict(request), caller, request_id)
        except KmsError:
            raise
        except Exception:
            log.exception("internal error in in-process request %s", request_id)
            raise KMSInternalException() from None
