"""`strongroom serve` with two worker processes: a session opened on one works on both.

Each request opens a new connection, which either worker may accept; a session kept in one
worker's memory would fail about half of them.
"""

from __future__ import annotations

import time
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


def test_signing_out_on_one_worker_ends_the_session_on_every_worker(tmp_path: Path) -> None:
    """A copy of the cookie taken before sign-out is refused by both workers, whichever
    serves it (the sign-out is recorded in the database, which every worker re-reads)."""
    with server_process(tmp_path / "data", 2) as server:
        client = ConsoleClient(server.endpoint)
        assert client.sign_in(server.admin_key).status == 303
        stolen = dict(client.cookies)
        for _ in range(10):  # the session is live on both workers first
            assert ConsoleClient(server.endpoint, dict(stolen)).get("/console/keys").status == 200
        out = client.post("/console/sign-out", {"csrf": client.csrf("/console/keys")})
        assert out.status == 303
        assert "strongroom_console" not in client.cookies
        time.sleep(0.5)  # the workers re-read signed-out sessions every cache_poll_seconds (0.2)
        answers = [
            ConsoleClient(server.endpoint, dict(stolen)).get("/console/keys") for _ in range(30)
        ]
        assert {a.status for a in answers} == {303}
        assert {a.header("location") for a in answers} == {"/console/sign-in?expired=1"}
        # A new sign-in still works on both workers.
        again = ConsoleClient(server.endpoint)
        assert again.sign_in(server.admin_key).status == 303
        for _ in range(10):
            assert (
                ConsoleClient(server.endpoint, dict(again.cookies)).get("/console/keys").status
                == 200
            )
