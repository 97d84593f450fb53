"""The provider's operators in console tests: real key files (`keygen`), governance
initialised on the server's data directory with the quorum service the CLI uses, and a
browser-less operator who signs what the pages show."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from strongroom.kms.app import open_data_dir
from strongroom.kms.audit.store import AuditChain
from strongroom.kms.config import Settings
from strongroom.kms.governance.operators import keygen, load_private_key, load_public_key
from strongroom.kms.governance.quorum import Quorum
from tests.support.console import Answer, ConsoleClient, hidden_field


@dataclass
class Operators:
    quorum: Quorum
    key_files: dict[str, Path]
    public_files: dict[str, Path]

    def key(self, name: str) -> Ed25519PrivateKey:
        return load_private_key(self.key_files[name])

    def sign(self, name: str, message: bytes) -> str:
        return base64.b64encode(self.key(name).sign(message)).decode()


@contextmanager
def operators(
    data_dir: Path, key_dir: Path, names: tuple[str, ...] = ("ann", "bob", "cat"), m: int = 2
) -> Iterator[Operators]:
    data = open_data_dir(Settings(data_dir=data_dir))
    files = {name: keygen(name, key_dir) for name in names}
    quorum = Quorum(
        data.governance_env(),
        AuditChain(data.store, data.settings.region, data.clock.now),
        data.clock,
    )
    quorum.initialise(m, [(name, load_public_key(public)) for name, (_, public) in files.items()])
    try:
        yield Operators(
            quorum,
            {name: private for name, (private, _) in files.items()},
            {name: public for name, (_, public) in files.items()},
        )
    finally:
        data.db.engine.dispose()


def bytes_to_sign(page: Answer) -> bytes:
    found = re.search(r'data-sign-bytes="([A-Za-z0-9+/=]+)"', page.body)
    assert found, "the page shows no bytes to sign"
    return base64.b64decode(found.group(1))


def operator_sign_in(
    client: ConsoleClient, ops: Operators, name: str, signer: str | None = None
) -> Answer:
    """Sign in as ``name`` with the signature of ``signer`` (default: ``name`` itself)."""
    page = client.get("/console/operator/sign-in")
    assert page.status == 200
    form = {
        "login_token": hidden_field(page.body, "login_token"),
        "issued": hidden_field(page.body, "issued"),
        "operator": name,
        "signature": ops.sign(signer or name, bytes_to_sign(page)),
    }
    return client.post("/console/operator/sign-in", form)


def sign_and_post(
    client: ConsoleClient, ops: Operators, name: str, page_path: str, action: str, **extra: Any
) -> Answer:
    """Open ``page_path``, sign the bytes it shows as ``name`` and post them to ``action``."""
    page = client.get(page_path)
    assert page.status == 200, page.body
    form = {
        "csrf": hidden_field(page.body, "csrf"),
        "signature": ops.sign(name, bytes_to_sign(page)),
        **extra,
    }
    return client.post(action, form)
