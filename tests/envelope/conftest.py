from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from strongroom.envelope import KmsKeyring
from tests.support.servers import InProcessServer


@pytest.fixture(scope="session")
def key_arns(kms: Any) -> list[str]:
    """Three keys shared by the envelope tests (creating keys is the slow part)."""
    return [
        str(kms.create_key(Description=f"envelope {n}")["KeyMetadata"]["Arn"]) for n in range(3)
    ]


@pytest.fixture
def keyring(kms: Any, key_arns: list[str]) -> KmsKeyring:
    return KmsKeyring(kms, [key_arns[0]])


@pytest.fixture
def kms_env(server: InProcessServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The standard AWS environment pointed at the in-process server (as the CLIs see it)."""
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.admin_key.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.admin_key.secret_access_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", server.region)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", server.endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    yield
