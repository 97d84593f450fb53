"""The ``strongroom`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from strongroom.cli import admin, audit, byok, envelope, keys, operator, report, serve
from strongroom.kms.config import ConfigError
from strongroom.kms.keystores.root_key_file import RootKeyFileError
from strongroom.kms.service.admin_error import AdminError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strongroom", description="A self-hosted key management service (AWS KMS API)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve.add_parser(commands)
    admin.add_parser(commands)
    keys.add_parser(commands)
    envelope.add_parser(commands)
    audit.add_parser(commands)
    byok.add_parser(commands)
    operator.add_parser(commands)
    report.add_parser(commands)
    return parser


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data directory (default: $STRONGROOM_DATA_DIR or ./strongroom-data)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Everything Strongroom writes (database, root key, credentials, audit) is for its owner.
    os.umask(0o077)
    try:
        return int(args.run(args))
    except (AdminError, ConfigError, RootKeyFileError) as error:
        print(f"strongroom: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
