"""Operator sign-in: a signature over a challenge, never a password or a private key.

Operators have no access keys: they prove who they are with their Ed25519 signing key, as
every quorum step does. The page shows a challenge (``OperatorDesk.sign_in_bytes``: this host,
this deployment, the form's nonce, the time), which the operator signs in the browser (WebCrypto,
from a key file that is read by the page's script and never sent) or with ``strongroom
operator sign``; the server checks the signature against the enrolled operator's public key.
The nonce is also the form's cookie (double submit, as for tenants), so a signature is good for
one browser's form, for a few minutes. The session is the console's sealed cookie, bound to
the operator's public key: removing the operator or changing their key ends it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Callable

from strongroom.console.http import Request, Response, redirect, same_origin
from strongroom.console.operators import OperatorDesk
from strongroom.console.pages import Page
from strongroom.console.sessions import ABSOLUTE_SECONDS, SessionCodec

OPERATOR_KEY = "operator:"  # the access key id slot of an operator's session
PROVIDER = "provider"  # the provider's account, as in the audit trail
LOGIN_COOKIE = "strongroom_console_login"
SESSION_COOKIE = "strongroom_console"
CHALLENGE_SECONDS = 300


class OperatorSignIn:
    def __init__(
        self,
        desk: OperatorDesk,
        codec: SessionCodec,
        render: Callable[[Page], Response],
        now: Callable[[], float],
    ) -> None:
        self._desk = desk
        self._codec = codec
        self._render = render
        self._now = now

    def respond(self, request: Request) -> Response:
        if request.method != "POST":
            return self._page(request, None, 200)
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        given = request.field("login_token")
        if not (
            same_origin(request) and nonce and hmac.compare_digest(nonce.encode(), given.encode())
        ):
            return self._page(request, "The sign-in form expired. Try again.", 403)
        try:
            issued = int(request.field("issued"))
        except ValueError:
            issued = 0
        if not 0 <= self._now() - issued <= CHALLENGE_SECONDS:
            return self._page(request, "The challenge is more than 5 minutes old. Try again.", 403)
        name = request.field("operator").strip()
        try:
            signature = base64.b64decode("".join(request.field("signature").split()), validate=True)
        except (binascii.Error, ValueError):
            signature = b""
        message = self._desk.sign_in_bytes(request.headers.get("host", ""), nonce, issued)
        key = self._desk.public_key(name) if name else None
        if key is None or not self._desk.verify(name, signature, message):
            error = (
                "Not signed in: that is not the signature of an enrolled operator of that name "
                "over this challenge."
            )
            return self._page(request, error, 401)
        self._desk.record_sign_in(name, request.client_ip)
        token = self._codec.issue(f"{OPERATOR_KEY}{name}", PROVIDER, f"operator/{name}", key)
        response = redirect("/console/operator/proposals")
        response.set_cookie(SESSION_COOKIE, token, secure=request.secure, max_age=ABSOLUTE_SECONDS)
        response.set_cookie(LOGIN_COOKIE, "", secure=request.secure, max_age=0)
        return response

    def _page(self, request: Request, error: str | None, status: int) -> Response:
        nonce = secrets.token_urlsafe(32)
        issued = int(self._now())
        challenge = self._desk.sign_in_bytes(request.headers.get("host", ""), nonce, issued)
        values = {
            "error": error,
            "login_token": nonce,
            "issued": issued,
            "challenge": base64.b64encode(challenge).decode(),
            "expired": "expired" in request.query,
            "signed_out": "signed_out" in request.query,
            "operator_name": request.field("operator"),
        }
        response = self._render(Page("operator_sign_in.html", values, status, "Operator sign-in"))
        response.set_cookie(LOGIN_COOKIE, nonce, secure=request.secure, max_age=CHALLENGE_SECONDS)
        return response
