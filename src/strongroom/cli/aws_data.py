"""``strongroom aws-data-path``: where botocore finds Strongroom's extension operations.

``export AWS_DATA_PATH=$(strongroom aws-data-path)`` makes ``aws kms get-exposure-report`` and
boto3's ``kms.get_exposure_report()`` (and the other extensions) work like any KMS call.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "aws-data-path",
        help="print the AWS_DATA_PATH that gives boto3 and the AWS CLI our extensions",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from strongroom import botocore_data

    print(botocore_data.PATH)
    return 0
