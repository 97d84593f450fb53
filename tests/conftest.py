from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import softhsm
from tests.support.postgres import PostgresCluster, remove_cluster, start_cluster
from tests.support.servers import InProcessServer, in_process_server

# One SoftHSM token directory for the whole run, exported before anything initialises PKCS#11.
softhsm.configure_session()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One private PostgreSQL cluster for the whole run (tests/support/postgres.py)."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        remove_cluster(cluster)


def _database_url(request: pytest.FixtureRequest, directory: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{directory / 'strongroom.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database of each kind: the embedded default and PostgreSQL."""
    return _database_url(request, tmp_path)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessServer]:
    """The shared test server, once on SQLite and once on PostgreSQL."""
    data_dir = tmp_path_factory.mktemp("kms")
    url = "" if request.param == "sqlite" else _database_url(request, data_dir)
    with in_process_server(data_dir, database_url=url) as running:
        yield running


@pytest.fixture(scope="session")
def kms(server: InProcessServer) -> Any:
    return server.client()


@pytest.fixture
def key_id(kms: Any) -> str:
    return str(kms.create_key(Description="test key")["KeyMetadata"]["KeyId"])


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(scope="session")
def raw_kms(server: InProcessServer) -> Any:
    """A boto3 client that skips botocore's own checks, so the server's validation is tested."""
    return server.client(parameter_validation=False)


@pytest.fixture
def softhsm_token() -> softhsm.SoftHsmToken:
    """A freshly initialised SoftHSM2 token with a unique label."""
    return softhsm.create_token()


@pytest.fixture
def softhsm_tokens() -> Callable[[int], list[softhsm.SoftHsmToken]]:
    """A factory: ``softhsm_tokens(n)`` gives ``n`` fresh tokens."""
    return lambda n: [softhsm.create_token() for _ in range(n)]
