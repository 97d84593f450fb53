"""`strongroom serve` with two worker processes: a session opened on one works on both.

Each request opens a new connection, which either worker may accept; a session kept in one
worker's memory would fail about half of them.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.console import ConsoleClient
from tests.support.servers import server_process


def test_a_session_works_on_every_worker(tmp_path: Path) -> None:
    with server_process(tmp_path / "data", 2) as server:
        client = ConsoleClient(server.endpoint)
        assert client.sign_in(server.admin_key).status == 303
        for _ in range(30):
            answer = ConsoleClient(server.endpoint, dict(client.cookies)).get("/console/keys")
            assert answer.status == 200
            assert "Signed in as" in answer.body
