"""The README runs as written: its shell and Python blocks, in order, against the server it starts.

The only changes made to the text are the port (a free one instead of 8080) and the working
directory (a fresh one, with the checkout's ``.venv`` linked in, as in a checkout).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import OutputDrain
from tests.support.readme import blocks, session_script
from tests.support.servers import free_port, wait_healthy

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
VENV = Path(sys.executable).parent.parent


def reader_environment(home: Path) -> dict[str, str]:
    """A reader's shell: the checkout's tools on PATH, nothing of ours or AWS's set."""
    return {"PATH": f"{VENV / 'bin'}:{os.environ['PATH']}", "HOME": str(home), "LANG": "C.UTF-8"}


def test_annotations_are_understood() -> None:
    found = blocks(README)
    servers = [b for b in found if b.is_server]
    assert [b.code.split() for b in servers] == [["bash", "scripts/serve.sh"]]
    for block in found:
        if block.annotation is not None and not block.is_server:
            assert block.not_run_reason, f"line {block.line}: {block.annotation!r}"
    assert sum(b.runs for b in found) >= 5


@pytest.fixture
def readme_session(tmp_path: Path) -> Iterator[tuple[Path, int, str]]:
    """A fresh working directory, a clean environment and the README's server on a free port."""
    (tmp_path / ".venv").symlink_to(VENV)
    port = free_port()
    env = {**reader_environment(tmp_path), "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [
            "bash",
            str(REPO / "scripts" / "serve.sh"),
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "strongroom-data"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = OutputDrain(server)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server, timeout=60)
        banner = output.wait_for("aws kms create-key --endpoint-url", timeout=30)
        yield tmp_path, port, banner
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.mark.timeout(600)
def test_readme_runs_top_to_bottom(readme_session: tuple[Path, int, str]) -> None:
    cwd, port, banner = readme_session
    endpoint = f"http://127.0.0.1:{port}"
    # The first command prints how to reach the server, as the README shows.
    assert f"Strongroom KMS on {endpoint}" in banner
    assert f"credentials: {cwd / 'strongroom-data' / 'aws' / 'credentials'}" in banner
    assert f"aws kms create-key --endpoint-url {endpoint}" in banner

    script = session_script(blocks(README), "python").replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    result = subprocess.run(
        ["bash", "-c", script],
        check=False,
        cwd=cwd,
        env=reader_environment(cwd),
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert result.returncode == 0, (
        f"{result.stderr[-4000:]}\n--- stdout ---\n{result.stdout[-2000:]}"
    )
    # What the walkthrough says it prints, it prints.
    assert "card 4111" in result.stdout
