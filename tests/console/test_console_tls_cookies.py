"""Over TLS (an ``https`` ASGI scope) the console's cookies also carry ``Secure``.

Drives a second application on the world's data directory directly through ASGI, the way
uvicorn calls it when it terminates TLS.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlencode

from strongroom.kms.app import create_app
from tests.support.console import ConsoleWorld


def _call(app: Any, method: str, path: str, body: bytes = b"", cookie: str = "") -> Any:
    headers = [(b"host", b"kms.example.com")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    if body:
        headers.append((b"content-type", b"application/x-www-form-urlencoded"))
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "scheme": "https",
        "client": ("192.0.2.7", 50000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    cookies = [v.decode() for k, v in start["headers"] if k == b"set-cookie"]
    return start["status"], cookies, sent[1]["body"].decode()


def test_cookies_are_secure_over_tls(world: ConsoleWorld) -> None:
    app = create_app(world.server.settings, world.server.clock)
    status, cookies, body = _call(app, "GET", "/console/sign-in")
    assert status == 200
    login = next(c for c in cookies if c.startswith("strongroom_console_login="))
    assert "; Secure" in login and "HttpOnly" in login
    token = re.search(r'name="login_token" value="([^"]+)"', body)
    assert token is not None
    key = world.keys["keyadmin"]
    form = urlencode(
        {
            "login_token": token.group(1),
            "access_key_id": key.access_key_id,
            "secret_access_key": key.secret_access_key,
        }
    ).encode()
    status, cookies, _ = _call(app, "POST", "/console/sign-in", form, login.split(";", 1)[0])
    assert status == 303
    session = next(c for c in cookies if c.startswith("strongroom_console="))
    assert all(flag in session for flag in ("; Secure", "; HttpOnly", "; SameSite=Strict"))
