"""Several Strongroom nodes on one PostgreSQL database, in the test process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from tests.support.postgres import PostgresCluster
from tests.support.servers import InProcessServer, in_process_server


@contextmanager
def postgres_nodes(
    directory: Path, postgres: PostgresCluster, count: int = 3, **settings: Any
) -> Iterator[list[InProcessServer]]:
    """``count`` nodes on a new database, each with its own data directory, clock and
    scheduler, writing the real hash-chained audit trail; the first creates the database."""
    url = postgres.new_database()
    with ExitStack() as stack:
        first = stack.enter_context(
            in_process_server(directory / "n0", database_url=url, chained_audit=True, **settings)
        )
        others = [
            stack.enter_context(
                in_process_server(
                    directory / f"n{i}",
                    database_url=url,
                    chained_audit=True,
                    join=first,
                    **settings,
                )
            )
            for i in range(1, count)
        ]
        yield [first, *others]
