"""Run the real ``strongroom`` command (its main()) in the test process."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout

from strongroom.cli.main import main


def run(*argv: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``strongroom ARGV...``."""
    out, err = io.StringIO(), io.StringIO()
    umask = os.umask(0o022)  # main() sets the process umask; keep the test process's
    os.umask(umask)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                status = main(list(argv))
            except SystemExit as exit_:  # argparse
                status = int(exit_.code or 0)
    finally:
        os.umask(umask)
    return status, out.getvalue(), err.getvalue()
