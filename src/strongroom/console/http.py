"""Just enough HTTP for the console over raw ASGI: requests, forms, cookies, responses.

Every response carries a strict Content-Security-Policy (scripts, styles and images only from
Strongroom itself, no inline script), no framing, no referrer and no caching of pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_FORM_BYTES = 256 * 1024
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


class FormTooLarge(Exception):
    """The request body is larger than a console form may be."""


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    cookies: dict[str, str]
    form: dict[str, list[str]]
    client_ip: str
    secure: bool

    def field(self, name: str) -> str:
        values = self.form.get(name)
        return values[0] if values else ""

    def fields(self, name: str) -> list[str]:
        return self.form.get(name, [])


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: bytes = b"text/html; charset=utf-8"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    cache: bytes = b"no-store"

    def set_cookie(
        self, name: str, value: str, *, secure: bool, max_age: int | None = None
    ) -> None:
        parts = [f"{name}={value}", "Path=/console/", "HttpOnly", "SameSite=Strict"]
        if secure:
            parts.append("Secure")
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        self.headers.append((b"set-cookie", "; ".join(parts).encode("latin-1")))


def redirect(location: str) -> Response:
    return Response(303, headers=[(b"location", location.encode("latin-1"))])


def _cookies(raw: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


async def read_request(scope: Scope, receive: Receive) -> Request:
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise FormTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    form: dict[str, list[str]] = {}
    if body and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    query = {
        k: v[0]
        for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()
        if v and v[0]
    }
    client = scope.get("client")
    return Request(
        scope["method"],
        scope["path"],
        query,
        headers,
        _cookies(headers.get("cookie", "")),
        form,
        client[0] if client else "",
        scope.get("scheme") == "https",
    )


async def send_response(send: Send, response: Response) -> None:
    headers = [
        (b"content-type", response.content_type),
        (b"content-length", str(len(response.body)).encode()),
        (b"cache-control", response.cache),
        *SECURITY_HEADERS,
        *response.headers,
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def same_origin(request: Request) -> bool:
    """A browser's Origin (or Referer) on a form post must be this server."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host
