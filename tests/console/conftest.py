from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.console import ConsoleClient, ConsoleWorld, console_world


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    with console_world(tmp_path_factory.mktemp("console")) as running:
        yield running


@pytest.fixture
def client(world: ConsoleWorld) -> ConsoleClient:
    return ConsoleClient(world.server.endpoint)
