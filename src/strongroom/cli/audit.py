"""``strongroom audit``: verify the hash-chained audit trail; export a tenant's own events."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
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
    verify.set_defaults(run=_verify)

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
    # Imported here: the server's modules are not needed to parse the command line.
    from strongroom.kms.app import open_data_dir
    from strongroom.kms.audit.verify import verify_chain

    data_dir = open_data_dir(load_settings(args.data_dir))
    try:
        verdict = verify_chain(data_dir.db, data_dir.store)
    finally:
        data_dir.db.engine.dispose()
    if verdict.ok:
        print(verdict.summary())
        return 0
    print(f"strongroom: audit trail damaged: {verdict.summary()}", file=sys.stderr)
    return 1


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
