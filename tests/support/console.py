"""The web console in tests: a tenant world to sign in to, and a plain HTTP client for it.

The world is a real in-process server (one worker, movable clock) with two accounts: in the
first, ``keyadmin`` and ``app`` hold a key whose policy separates them (administrator, user),
and ``reader`` has no permissions at all; the second account has a key of its own that the
first must never see.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from strongroom.kms.app import DataDir, open_data_dir
from strongroom.kms.config import Settings
from strongroom.kms.domain.policy_templates import separation_of_duties_policy
from strongroom.kms.service.admin import IssuedAccessKey
from tests.support.raw_kms import RawKms
from tests.support.servers import InProcessServer, in_process_server

LIST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "kms:ListKeys",
                    "kms:ListAliases",
                    "kms:GetExposureReport",
                    "kms:ListProviderAccesses",
                    "kms:CreateKey",
                    "kms:DescribeCustomKeyStores",
                    "kms:CreateAlias",
                    "kms:DeleteAlias",
                    "kms:LookupAuditEvents",
                ],
                "Resource": "*",
            }
        ],
    }
)


@dataclass
class ConsoleWorld:
    server: InProcessServer
    data: DataDir
    account: str
    other_account: str
    keys: dict[str, IssuedAccessKey]
    shared_key: str
    other_key: str

    def arn(self, user: str) -> str:
        return f"arn:aws:iam::{self.account}:user/{user}"

    def kms(self, user: str = "admin") -> Any:
        return self.server.client(self.keys[user])

    def trail(self, want: int = 1, **request: Any) -> list[dict[str, Any]]:
        """The account's audit events (LookupAuditEvents as its admin); waits (bounded) until
        ``want`` match, since data-plane events are committed in groups."""
        deadline = time.monotonic() + 5
        while True:
            conn = RawKms(self.server.endpoint, self.server.admin_key)
            try:
                reply = conn.call("LookupAuditEvents", {"Limit": 1000, **request})
            finally:
                conn.close()
            assert reply.status == 200, reply
            events: list[dict[str, Any]] = reply.body["Events"]
            if len(events) >= want or time.monotonic() > deadline:
                return events
            time.sleep(0.1)


@contextmanager
def console_world(data_dir: Path) -> Iterator[ConsoleWorld]:
    with in_process_server(data_dir, chained_audit=True) as server:
        data = open_data_dir(Settings(data_dir=server.data_dir))
        try:
            admin = data.admin
            account = server.admin_key.account_id
            keys = {"admin": server.admin_key}
            for user in ("keyadmin", "app", "reader"):
                admin.create_user(account, user)
                keys[user] = admin.create_access_key(account, user)
            admin.put_user_policy(account, "keyadmin", "ConsoleLists", LIST_POLICY)
            other = admin.create_account("other-tenant").account_id
            admin.create_user(other, "stranger")
            keys["stranger"] = admin.create_access_key(other, "stranger")
            admin.put_user_policy(other, "stranger", "ConsoleLists", LIST_POLICY)
            world = ConsoleWorld(server, data, account, other, keys, "", "")
            policy = separation_of_duties_policy(
                account, [world.arn("keyadmin")], [world.arn("app")], strict=True
            )
            created = world.kms("keyadmin").create_key(Policy=policy, Description="shared")
            world.shared_key = created["KeyMetadata"]["KeyId"]
            world.kms("keyadmin").create_alias(
                AliasName="alias/shared", TargetKeyId=world.shared_key
            )
            other_key = world.kms("stranger").create_key(Description="not yours")
            world.other_key = other_key["KeyMetadata"]["KeyId"]
            yield world
        finally:
            data.db.engine.dispose()


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)

    def set_cookies(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


@dataclass
class ConsoleClient:
    """A browser-less console user: keeps cookies, follows no redirects, sends forms."""

    endpoint: str
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None, **headers: str
    ) -> Answer:
        parts = urlsplit(self.endpoint)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            answer = Answer(response.status, response.getheaders(), response.read().decode())
        finally:
            connection.close()
        for cookie in answer.set_cookies():
            name, value = cookie.split(";", 1)[0].split("=", 1)
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return answer

    def get(self, path: str, **headers: str) -> Answer:
        return self.request("GET", path, None, **headers)

    def post(self, path: str, form: dict[str, str], **headers: str) -> Answer:
        return self.request("POST", path, form, **headers)

    def sign_in(self, key: IssuedAccessKey, secret: str | None = None) -> Answer:
        page = self.get("/console/sign-in")
        token = hidden_field(page.body, "login_token")
        return self.post(
            "/console/sign-in",
            {
                "login_token": token,
                "access_key_id": key.access_key_id,
                "secret_access_key": key.secret_access_key if secret is None else secret,
            },
        )

    def csrf(self, path: str) -> str:
        return hidden_field(self.get(path).body, "csrf")


def hidden_field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no {name} field in the page"
    return found.group(1)
