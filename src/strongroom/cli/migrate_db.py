"""``strongroom admin migrate-db``: bring the database to this version's schema now.

Every start migrates too; running this first lets an operator upgrade the schema once, before
rolling the new version onto the nodes (docs/deployment.md).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from strongroom.kms.config import load_settings


def add_parser(things: Any) -> None:
    parser = things.add_parser(
        "migrate-db", help="apply the schema migrations this version has (servers may run)"
    )
    parser.add_argument("--database-url", default=None, help="default: the settings' database")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from strongroom.kms.app import database_url, open_database
    from strongroom.kms.storage.engine import redacted
    from strongroom.objectstore.storage import migrate as objectstore_migrate

    settings = load_settings(args.data_dir).with_overrides(database_url=args.database_url)
    url = database_url(settings)
    db = open_database(url)
    try:
        objects = objectstore_migrate.upgrade(db.engine)
    finally:
        db.engine.dispose()
    assert db.migration is not None
    result = {
        "Database": redacted(url),
        "From": db.migration.before,
        "To": db.migration.after,
        "Changed": db.migration.changed,
        # The object store's tables are versioned apart (docs/adr/0027).
        "ObjectStore": {"From": objects.before, "To": objects.after},
    }
    print(json.dumps(result))
    return 0
