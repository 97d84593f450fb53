"""``strongroom admin sweep-blobs``: remove object store files no record references, now.

Servers sweep on their own (``s3_sweep_seconds``); this runs one sweep at once, for instance
after a crash, with the same grace period unless told otherwise (objectstore/sweep.py).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from strongroom.kms.config import load_settings


def add_parser(things: Any) -> None:
    parser = things.add_parser(
        "sweep-blobs",
        help="remove orphan object store blobs older than the grace period (servers may run)",
    )
    parser.add_argument(
        "--grace-seconds",
        type=float,
        default=None,
        help="only files older than this (default: the s3_sweep_grace_seconds setting)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from strongroom.kms.app import database_url, open_database
    from strongroom.kms.objectstore_wiring import sweep_blobs

    settings = load_settings(args.data_dir)
    grace = settings.s3_sweep_grace_seconds if args.grace_seconds is None else args.grace_seconds
    db = open_database(database_url(settings))
    try:
        result = sweep_blobs(settings, db, grace)
    finally:
        db.engine.dispose()
    print(
        json.dumps(
            {
                "RemovedBlobs": result.removed_blobs,
                "RemovedTemporaryFiles": result.removed_temporaries,
                "RemovedBytes": result.removed_bytes,
                "KeptYoung": result.kept_young,
                "SkippedForBackup": result.skipped,
            }
        )
    )
    return 0
