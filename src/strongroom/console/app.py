"""The console's ASGI application: routes, sign-in and sessions, CSRF, rendering.

Pages run in a thread (``asyncio.to_thread``): they make several KMS calls, each with its
database reads, and must not hold up the worker's event loop, which also serves the KMS API.
A page is sent once the audit events of its KMS calls are committed, when the KMS's audit
durability asks for that (``before-response``), exactly as an API response is.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from strongroom.client.kms import AuditGate
from strongroom.client.kms import KmsCallError as AuditUnavailable
from strongroom.console.http import (
    FormTooLarge,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    read_request,
    redirect,
    same_origin,
    send_response,
)
from strongroom.console.kms import (
    Authenticator,
    KmsOperations,
    Principal,
    SessionRevocations,
    SignInRecorder,
)
from strongroom.console.operator_sign_in import OPERATOR_KEY, PROVIDER, OperatorSignIn
from strongroom.console.operators import OperatorDesk
from strongroom.console.pages import Page, PageContext
from strongroom.console.routes import ROUTES, Route
from strongroom.console.sessions import ABSOLUTE_SECONDS, Session, SessionCodec
from strongroom.console.views.operators import OperatorContext

log = logging.getLogger(__name__)

PREFIX = "/console"
SESSION_COOKIE = "strongroom_console"
LOGIN_COOKIE = "strongroom_console_login"
STATIC_TYPES = {".css": b"text/css; charset=utf-8", ".js": b"text/javascript; charset=utf-8"}
PolicyTemplate = Callable[[str, list[str], list[str], bool], str]


@dataclass(frozen=True, slots=True)
class SignedIn:
    session: Session
    principal: Principal
    operator: str | None = None  # an operator's session (operator pages only)

    @property
    def realm(self) -> str:
        return "tenant" if self.operator is None else "operator"


class Console:
    """Serves ``/console/``; every page acts through ``kms`` as the session's principal."""

    def __init__(
        self,
        authenticator: Authenticator,
        kms: KmsOperations,
        session_key: bytes,
        now: Callable[[], float],
        policy_template: PolicyTemplate,
        *,
        audit: AuditGate,
        revocations: SessionRevocations,
        operators: OperatorDesk | None = None,
        sign_ins: SignInRecorder | None = None,
    ) -> None:
        """``audit``: holds each page until its KMS calls' audit events are committed;
        ``revocations``: signed-out sessions, shared by every worker; ``operators``: the
        quorum, for the operator pages (None: no operator pages); ``sign_ins``: records
        tenants' sign-ins in their audit trail."""
        self._authenticator = authenticator
        self._audit = audit
        self._kms = kms
        self._codec = SessionCodec(session_key, now, revocations)
        self._policy_template = policy_template
        self._operators = operators
        self._sign_ins = sign_ins
        self._templates = Environment(
            loader=PackageLoader("strongroom.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._templates.filters["utc"] = _utc
        static = resources.files("strongroom.console") / "static"
        self._static = {
            f"{PREFIX}/static/{item.name}": item.read_bytes()
            for item in static.iterdir()
            if item.name.endswith(tuple(STATIC_TYPES))
        }
        self._operator_sign_in = (
            None
            if operators is None
            else OperatorSignIn(operators, self._codec, lambda page: self._render(page, None), now)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            request = await read_request(scope, receive)
        except FormTooLarge:
            await send_response(send, Response(413, b"Request too large.", b"text/plain"))
            return
        if request.method == "GET" and request.path in self._static:
            name = request.path.rsplit(".", 1)[-1]
            body = self._static[request.path]
            await send_response(
                send, Response(200, body, STATIC_TYPES[f".{name}"], cache=b"max-age=3600")
            )
            return
        token = self._audit.open()  # in this task: the page's thread shares its ticket
        try:
            response = await asyncio.to_thread(self.respond, request)
        except Exception:
            log.exception("console page %s %s failed", request.method, request.path)
            response = Response(500, b"Internal error.", b"text/plain; charset=utf-8")
        try:
            await self._audit.close(token)
        except AuditUnavailable as error:
            message = (
                f"{error.code}: the audit trail could not record this page's calls. {error.message}"
            )
            response = self._render(Page("error.html", {"message": message}, 503), None)
        await send_response(send, response)

    def respond(self, request: Request) -> Response:
        if request.path in (PREFIX, f"{PREFIX}/"):
            return redirect(f"{PREFIX}/keys")
        if request.path == f"{PREFIX}/sign-in":
            return self._sign_in(request)
        if request.path == f"{PREFIX}/operator/sign-in" and self._operator_sign_in is not None:
            return self._operator_sign_in.respond(request)
        route, arguments = _match(request)
        if route is None or (route.realm == "operator" and self._operators is None):
            return self._render(Page("error.html", {"message": "No such page."}, 404), None)
        signed_in = self._signed_in(request)
        if signed_in is None:
            home = "operator/sign-in" if route.realm == "operator" else "sign-in"
            response = redirect(f"{PREFIX}/{home}?expired=1")
            response.set_cookie(SESSION_COOKIE, "", secure=request.secure, max_age=0)
            return response
        if route.realm not in (signed_in.realm, "any"):
            return self._render(
                Page("error.html", {"message": _WRONG_REALM[route.realm]}, 403), signed_in
            )
        if request.method == "POST" and not self._csrf_ok(request, signed_in.session):
            page = Page(
                "error.html",
                {
                    "message": "The form's CSRF token is missing or wrong. "
                    "Reload the page and try again."
                },
                403,
            )
            return self._render(page, signed_in)
        if route.name == "sign-out":
            return self._sign_out(request, signed_in)
        if signed_in.operator is not None and self._operators is not None:
            context: object = OperatorContext(request, signed_in.operator, self._operators)
        else:
            context = PageContext(request, signed_in.principal, self._kms, self._policy_template)
        result = route.handler(context, *arguments)
        response = result if isinstance(result, Response) else self._render(result, signed_in)
        renewed = self._codec.renewed(signed_in.session)
        if renewed is not None:
            response.set_cookie(
                SESSION_COOKIE, renewed, secure=request.secure, max_age=ABSOLUTE_SECONDS
            )
        return response

    def _sign_out(self, request: Request, signed_in: SignedIn) -> Response:
        try:
            self._codec.revoke(signed_in.session)
        except Exception:
            log.exception("console: a sign-out could not be recorded")
            message = (
                "The server could not record your sign-out, so a copy of this session's cookie "
                "would still work. Try again; your cookie stays until then."
            )
            return self._render(Page("error.html", {"message": message}, 503), signed_in)
        home = "operator/sign-in" if signed_in.operator else "sign-in"
        response = redirect(f"{PREFIX}/{home}?signed_out=1")
        response.set_cookie(SESSION_COOKIE, "", secure=request.secure, max_age=0)
        return response

    def _signed_in(self, request: Request) -> SignedIn | None:
        token = request.cookies.get(SESSION_COOKIE)
        session = self._codec.open(token) if token else None
        if session is None:
            return None
        if session.access_key_id.startswith(OPERATOR_KEY):
            return self._operator_signed_in(request, session)
        key = self._authenticator.lookup(session.access_key_id)
        if key is None or not hmac.compare_digest(
            self._codec.secret_digest(key.secret_bytes()), session.secret_digest
        ):
            return None
        principal = Principal(
            key.account_id, key.principal_arn, key.access_key_id, request.client_ip
        )
        return SignedIn(session, principal)

    def _operator_signed_in(self, request: Request, session: Session) -> SignedIn | None:
        """An operator's session lives while the operator is enrolled with the same key."""
        name = session.access_key_id.removeprefix(OPERATOR_KEY)
        key = None if self._operators is None else self._operators.public_key(name)
        if key is None or not hmac.compare_digest(
            self._codec.secret_digest(key), session.secret_digest
        ):
            return None
        principal = Principal(PROVIDER, session.principal_arn, "", request.client_ip)
        return SignedIn(session, principal, operator=name)

    def _csrf_ok(self, request: Request, session: Session) -> bool:
        return same_origin(request) and self._codec.csrf_valid(session, request.field("csrf"))

    def _sign_in(self, request: Request) -> Response:
        if request.method != "POST":
            return self._sign_in_page(request, None, 200)
        expected = request.cookies.get(LOGIN_COOKIE, "")
        given = request.field("login_token")
        if not (
            same_origin(request)
            and expected
            and hmac.compare_digest(expected.encode(), given.encode())
        ):
            return self._sign_in_page(request, "The sign-in form expired. Try again.", 403)
        access_key_id = request.field("access_key_id").strip()
        secret = request.field("secret_access_key").strip().encode()
        key = self._authenticator.lookup(access_key_id) if access_key_id else None
        if key is None or not hmac.compare_digest(key.secret_bytes(), secret):
            return self._sign_in_page(request, "Unknown access key or wrong secret.", 401)
        if self._sign_ins is not None:
            try:
                self._sign_ins.record_sign_in(
                    key.account_id, key.principal_arn, key.access_key_id, request.client_ip
                )
            except Exception:
                log.exception("console: a sign-in could not be recorded")
                error = "The audit trail cannot record your sign-in now, so it was refused."
                return self._sign_in_page(request, error, 503)
        token = self._codec.issue(
            key.access_key_id, key.account_id, key.principal_arn, key.secret_bytes()
        )
        response = redirect(f"{PREFIX}/keys")
        response.set_cookie(SESSION_COOKIE, token, secure=request.secure, max_age=ABSOLUTE_SECONDS)
        response.set_cookie(LOGIN_COOKIE, "", secure=request.secure, max_age=0)
        return response

    def _sign_in_page(self, request: Request, error: str | None, status: int) -> Response:
        login_token = secrets.token_urlsafe(32)
        values = {
            "error": error,
            "login_token": login_token,
            "expired": "expired" in request.query,
            "signed_out": "signed_out" in request.query,
        }
        response = self._render(Page("sign_in.html", values, status, "Sign in"), None)
        response.set_cookie(LOGIN_COOKIE, login_token, secure=request.secure, max_age=1800)
        return response

    def _render(self, page: Page, signed_in: SignedIn | None) -> Response:
        template = self._templates.get_template(page.template)
        body = template.render(
            **page.values,
            title=page.title,
            principal=None if signed_in is None else signed_in.principal,
            operator=None if signed_in is None else signed_in.operator,
            csrf=None if signed_in is None else self._codec.csrf_token(signed_in.session),
            prefix=PREFIX,
        )
        return Response(page.status, body.encode())


_WRONG_REALM = {
    "operator": "The operator pages are for the provider's operators: sign out, then sign in "
    "as an operator with your signing key.",
    "tenant": "Operators have no tenant pages: the provider reaches a tenant's keys only "
    "through a quorum-approved proposal. Sign out, then sign in with an access key.",
}


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(float(seconds), UTC).strftime("%Y-%m-%d %H:%M UTC")


def _match(request: Request) -> tuple[Route | None, tuple[str, ...]]:
    for route in ROUTES:
        if route.method == request.method:
            found = re.fullmatch(route.pattern, request.path)
            if found:
                return route, found.groups()
    return None, ()
