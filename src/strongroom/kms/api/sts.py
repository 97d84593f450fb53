"""AWS STS ``GetCallerIdentity`` on the KMS endpoint: the AWS Query protocol, XML responses.

``aws sts get-caller-identity --endpoint-url ...`` and SDKs that check their credentials before
anything else then work against Strongroom unchanged. An STS request is a form-encoded POST
(``Action=GetCallerIdentity&Version=2011-06-15``) without ``X-Amz-Target``, signed with SigV4
for the service ``sts`` and any region the server serves (botocore signs with the client's
region when it is given an ``endpoint_url``).

The SigV4 verifier raises the KMS error classes; STS names and statuses some of them
differently. That mapping, and STS's own errors, live here and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from strongroom.client.served import Served
from strongroom.kms.api.sigv4 import SigV4Verifier
from strongroom.kms.audit.events import STS_EVENT_SOURCE, AuditEvent, AuditSink
from strongroom.kms.domain.principals import Principal
from strongroom.kms.errors import (
    DependencyTimeoutException,
    IncompleteSignatureException,
    InvalidSignatureException,
    KmsError,
    MissingAuthenticationTokenException,
    RequestEntityTooLargeException,
    UnrecognizedClientException,
)
from strongroom.kms.service.caller import Credential

log = logging.getLogger(__name__)

API_VERSION = "2011-06-15"
NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
CONTENT_TYPE = b"text/xml"
FORM_CONTENT_TYPE = b"application/x-www-form-urlencoded"


class StsError(Exception):
    """An error as STS reports it: code, HTTP status, message."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message

    @property
    def fault(self) -> str:
        return "Receiver" if self.status >= 500 else "Sender"


# What STS calls the authentication failures the verifier reports with KMS's names.
# (code, status, message; None keeps the verifier's message, which says what was wrong.)
_FROM_KMS: dict[type[KmsError], tuple[str, int, str | None]] = {
    MissingAuthenticationTokenException: (
        "MissingAuthenticationToken",
        403,
        "Request is missing Authentication Token",
    ),
    IncompleteSignatureException: ("IncompleteSignature", 400, None),
    InvalidSignatureException: ("SignatureDoesNotMatch", 403, None),
    UnrecognizedClientException: (
        "InvalidClientTokenId",
        403,
        "The security token included in the request is invalid",
    ),
    RequestEntityTooLargeException: ("RequestEntityTooLarge", 413, None),
    # The audit trail cannot take the event (audit/policy.py): refused before anything runs.
    DependencyTimeoutException: ("ServiceUnavailable", 503, None),
}
_INTERNAL = StsError("InternalFailure", 500, "The request processing has failed.")


def is_sts_request(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    """Form-encoded and without X-Amz-Target: the AWS Query protocol, so STS."""
    form = False
    for name, value in headers:
        if name == b"x-amz-target":
            return False
        if name == b"content-type":
            form = value.lower().startswith(FORM_CONTENT_TYPE)
    return form


def as_sts_error(error: Exception) -> StsError:
    if isinstance(error, StsError):
        return error
    mapped = _FROM_KMS.get(type(error)) if isinstance(error, KmsError) else None
    if mapped is None:
        return _INTERNAL
    code, status, message = mapped
    return StsError(code, status, message if message is not None else str(error))


class StsApi:
    """Answers STS Query requests; today the one action ``GetCallerIdentity``."""

    def __init__(
        self,
        verifier: SigV4Verifier[Credential],
        audit: AuditSink | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._verifier = verifier
        self._audit = audit
        self._now = now or (lambda: datetime.now(UTC))

    def respond(
        self,
        method: str,
        raw_path: bytes,
        query_string: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        *,
        request_id: str,
        source_ip: str = "",
    ) -> tuple[int, bytes, Served]:
        """(status, XML body, what it was) for one request; every failure becomes an STS
        error response.

        Every authenticated request is audited (event source ``sts.amazonaws.com``), in the
        caller's account, like KMS calls; one that fails authentication is not (as for KMS).
        """
        credential: Credential | None = None
        region: str | None = None
        action = "GetCallerIdentity"
        if self._audit is not None:
            try:
                self._audit.admit()
            except KmsError as error:
                status, body = self.error_response(error, request_id)
                return (
                    status,
                    body,
                    Served("sts", action, status, error.code, request_id=request_id),
                )
        try:
            credential, region = self._verifier.verify(
                method, raw_path, query_string, headers, body
            )
            params = dict(
                parse_qsl(query_string.decode("utf-8", "replace"), keep_blank_values=True)
            )
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            action = params.get("Action") or ""
            if not action:
                raise StsError("MissingAction", 400, "Missing Action")
            version = params.get("Version") or "NO_VERSION_SPECIFIED"
            if action != "GetCallerIdentity" or version != API_VERSION:
                raise StsError(
                    "InvalidAction", 400, f"Could not find operation {action} for version {version}"
                )
            reply = 200, caller_identity_xml(credential.principal, request_id)
            failed = None
        except Exception as error:
            if not isinstance(error, (StsError, KmsError)):
                log.exception("internal error in STS request %s", request_id)
            sts_error = as_sts_error(error)
            reply, failed = (sts_error.status, error_xml(sts_error, request_id)), sts_error.code
        if credential is not None and self._audit is not None:
            self._audit.record(
                AuditEvent(
                    time=self._now(),
                    request_id=request_id,
                    account_id=credential.principal.account_id,
                    principal_arn=credential.principal.arn,
                    access_key_id=credential.access_key_id,
                    source_ip=source_ip,
                    operation=action or "UnknownAction",
                    resources=(),
                    error_code=failed,
                    event_source=STS_EVENT_SOURCE,
                    region=region,
                )
            )
        principal = None if credential is None else credential.principal
        return (
            *reply,
            Served(
                "sts",
                action or "unknown",
                reply[0],
                failed or "OK",
                None if principal is None else principal.account_id,
                None if principal is None else principal.arn,
                request_id=request_id,
            ),
        )

    def error_response(self, error: Exception, request_id: str) -> tuple[int, bytes]:
        """(status, XML body) in STS's ``ErrorResponse`` shape."""
        sts_error = as_sts_error(error)
        return sts_error.status, error_xml(sts_error, request_id)


def caller_identity_xml(principal: Principal, request_id: str) -> bytes:
    return (
        f'<GetCallerIdentityResponse xmlns="{NAMESPACE}">\n'
        "  <GetCallerIdentityResult>\n"
        f"    <Arn>{escape(principal.arn)}</Arn>\n"
        f"    <UserId>{escape(principal.unique_id)}</UserId>\n"
        f"    <Account>{escape(principal.account_id)}</Account>\n"
        "  </GetCallerIdentityResult>\n"
        "  <ResponseMetadata>\n"
        f"    <RequestId>{escape(request_id)}</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</GetCallerIdentityResponse>\n"
    ).encode()


def error_xml(error: StsError, request_id: str) -> bytes:
    return (
        f'<ErrorResponse xmlns="{NAMESPACE}">\n'
        "  <Error>\n"
        f"    <Type>{error.fault}</Type>\n"
        f"    <Code>{escape(error.code)}</Code>\n"
        f"    <Message>{escape(error.message)}</Message>\n"
        "  </Error>\n"
        f"  <RequestId>{escape(request_id)}</RequestId>\n"
        "</ErrorResponse>\n"
    ).encode()
