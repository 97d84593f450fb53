"""``strongroom audit``: verify the hash-chained audit trail; export a tenant's own events."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from strongroom.kms.config import load_settings


def add_parser(commands: Any) -> None:
    from strongroom.cli.options import add_data_dir

    parser = commands.add_parser(
        "audit", help="verify the tamper-evident audit trail; export a tenant's events"
    )
    verbs = parser.add_subparsers(dest="verb", required=True)

    verify = verbs.add_parser(
        "verify",
        help="check every event hash and signed chain head; name the first problem",
        description=(
            "Walk the audit chain from its start, recompute every hash and check every signed "
            "chain head. Exit 0 if the chain is intact, 1 with the first problem (by sequence "
            "number) otherwise."
        ),
    )
    add_data_dir(verify)
    verify.add_argument(
        "--archive",
        type=Path,
        metavar="DIR",
        help="check the archives in DIR (audit_archive_dir); alone without --data-dir, and "
        "with it, that the trail continues where they end",
    )
    verify.add_argument(
        "--digests",
        type=Path,
        metavar="DIR",
        help="also check the trail against the signed digest files in DIR (audit_digest_dir): "
        "finds removed newest events, dropped tables and rewritten chains",
    )
    verify.set_defaults(run=_verify)

    digest = verbs.add_parser(
        "digest",
        help="write a signed digest file of the chain head now (the server does it every "
        "audit_digest_seconds)",
    )
    add_data_dir(digest)
    digest.set_defaults(run=_digest)

    archive = verbs.add_parser(
        "archive",
        help="move the events before a time to signed archive files and prune them",
        description=(
            "Verify the trail, write the events up to the last flush before --before to a "
            "records file with a signed manifest in --archive-dir (audit_archive_dir), then "
            "delete them from the database, leaving a signed anchor the rest continues from."
        ),
    )
    add_data_dir(archive)
    archive.add_argument("--before", type=iso_time, required=True, help="ISO 8601 time")
    archive.add_argument("--archive-dir", type=Path, help="default: audit_archive_dir")
    archive.set_defaults(run=_archive)

    export = verbs.add_parser(
        "export",
        help="an account's own events as JSON Lines (CloudTrail-like fields)",
        description=(
            "Print the events made by the account and the events about its keys, oldest "
            "first, one JSON object per line. --since is inclusive, --until exclusive; times "
            "without a zone are UTC."
        ),
    )
    add_data_dir(export)
    export.add_argument("--account", required=True, help="12-digit account id")
    export.add_argument("--since", type=iso_time, help="ISO 8601 time, e.g. 2026-01-31T00:00:00Z")
    export.add_argument("--until", type=iso_time, help="ISO 8601 time")
    export.set_defaults(run=_export)


def iso_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _verify(args: argparse.Namespace) -> int:
    from strongroom.cli.audit_verify import run

    return run(args)


def _archive(args: argparse.Namespace) -> int:
    from strongroom.kms.app import open_data_dir
    from strongroom.kms.audit.archive import Archiver
    from strongroom.kms.audit.verify import verify_chain

    settings = load_settings(args.data_dir)
    data_dir = open_data_dir(settings)
    try:
        verdict = verify_chain(data_dir.db, data_dir.store)
        if not verdict.ok:  # archiving a damaged trail would launder it
            print(f"strongroom: audit trail damaged: {verdict.summary()}", file=sys.stderr)
            return 1
        directory = args.archive_dir or settings.audit_archive_path
        archiver = Archiver(data_dir.db, data_dir.store, settings.region, directory)
        done = archiver.archive_before(args.before, data_dir.clock.now())
    finally:
        data_dir.db.engine.dispose()
    if done is None:
        print(f"no flushed events before {args.before.isoformat()} left to archive")
    else:
        print(f"archived seq {done.first_seq}-{done.last_seq} to {done.manifest}")
    return 0


def _digest(args: argparse.Namespace) -> int:
    from strongroom.kms.app import audit_trail, open_data_dir

    settings = load_settings(args.data_dir)
    data_dir = open_data_dir(settings)
    try:
        written = audit_trail(settings, data_dir.db, data_dir.store, data_dir.clock)
        path = written.digests.publish_due(force=True)
    finally:
        data_dir.db.engine.dispose()
    print(path if path is not None else "the chain has not moved since the newest digest")
    return 0


def _export(args: argparse.Namespace) -> int:
    from strongroom.kms.app import open_data_dir
    from strongroom.kms.audit.export import export_account

    data_dir = open_data_dir(load_settings(args.data_dir))
    try:
        out = sys.stdout
        for line in export_account(data_dir.db, args.account, args.since, args.until):
            out.write(line)
            out.write("\n")
    finally:
        data_dir.db.engine.dispose()
    return 0
