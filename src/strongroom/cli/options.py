"""Options several subcommands share."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data directory (default: $STRONGROOM_DATA_DIR or ./strongroom-data)",
    )
