"""The ``strongroom`` entry point: every command listed, and only the chosen one loaded."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys

import pytest

from strongroom.cli.main import COMMANDS, build_parser, main

# What a file tool must not pay for at start: the server, its database and its HTTP stack.
SERVER_MODULES = ("strongroom.kms.app", "strongroom.kms.api", "sqlalchemy", "uvicorn", "pkcs11")


def _defined_by(module: str) -> dict[str, str]:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    importlib.import_module(module).add_parser(commands)
    return {action.dest: action.help or "" for action in commands._choices_actions}


def test_the_command_table_matches_what_each_module_defines() -> None:
    for module in {module for module, _ in COMMANDS.values()}:
        listed = {name: text for name, (owner, text) in COMMANDS.items() if owner == module}
        assert _defined_by(module) == listed, module


@pytest.mark.parametrize("command", ["encrypt", "decrypt", "inspect", "key"])
def test_client_commands_do_not_load_the_server(command: str) -> None:
    probe = (
        "from strongroom.cli.main import build_parser\n"
        f"build_parser([{command!r}]).parse_args([{command!r}, '--help'])\n"
    )
    wrapper = (
        "import json, sys, atexit\n"
        "atexit.register(lambda: sys.stderr.write(json.dumps(sorted(sys.modules))))\n" + probe
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stderr)
    assert "strongroom.envelope" in loaded or command == "key"
    assert [m for m in loaded if m.startswith(SERVER_MODULES)] == []
    assert "botocore.session" in loaded  # the client is loaded...
    assert [m for m in loaded if m.startswith("awscrt.")] == []  # ...without the CRT


def test_the_server_keeps_the_crt() -> None:
    """``serve`` needs awscrt (the object store's checksums): it is not kept out there."""
    probe = (
        "import sys\n"
        "from strongroom.cli.main import build_parser\n"
        "build_parser(['serve'])\n"
        "from awscrt import checksums\n"
        "print(checksums.crc32c(b'a', 0))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(0xC1D04330)


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser(["--help"]).parse_args(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name, (_, text) in COMMANDS.items():
        assert name in out and text.split(";")[0][:30] in " ".join(out.split())


def test_no_command_and_unknown_commands_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv in ([], ["bogus"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
