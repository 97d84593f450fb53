from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.s3 import kms_bucket, s3_client
from tests.support.servers import InProcessServer, in_process_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """The object store's tests read the data directory's files (SQLite, blobs) at rest: one
    server on the embedded default (the KMS API tests run on SQLite and PostgreSQL)."""
    with in_process_server(tmp_path_factory.mktemp("objectstore")) as running:
        yield running


@pytest.fixture(scope="session")
def kms(server: InProcessServer) -> Any:
    """The KMS of this directory's server. Without this override, the root ``kms`` fixture,
    cached per session, would be the KMS API tests' server when a worker ran those first."""
    return server.client()


@pytest.fixture(scope="session")
def s3(server: InProcessServer) -> Any:
    return s3_client(server)


@pytest.fixture
def key_arn(kms: Any) -> str:
    return str(kms.create_key(Description="s3 test key")["KeyMetadata"]["Arn"])


@pytest.fixture
def bucket(s3: Any, key_arn: str) -> str:
    """A new bucket encrypting with SSE-KMS under ``key_arn`` by default."""
    return kms_bucket(s3, key_arn)
