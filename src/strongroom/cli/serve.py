"""``strongroom serve``: start the KMS on the embedded default, ready for the AWS CLI."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strongroom.kms.config import Settings, load_settings

if TYPE_CHECKING:
    from strongroom.kms.service.admin import IssuedAccessKey


def add_parser(commands: Any) -> None:
    from strongroom.cli.options import add_data_dir

    parser = commands.add_parser("serve", help="run the KMS server")
    add_data_dir(parser)
    parser.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8080)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default 2)")
    parser.add_argument("--region", default=None, help="AWS region name (default us-east-1)")
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgresql://user:password@host/db for several nodes (default: SQLite in the "
        "data directory; also the setting database_url, STRONGROOM_DATABASE_URL)",
    )
    parser.add_argument(
        "--dev",
        action="store_const",
        const=True,
        default=None,
        help="development credentials: accept any access key and secret (loopback only)",
    )
    parser.set_defaults(run=run)


def write_aws_files(settings: Settings, issued: IssuedAccessKey) -> None:
    """Write the admin's credentials in the AWS shared-file formats, readable by owner only."""
    directory = settings.data_dir / "aws"
    directory.mkdir(mode=0o700, exist_ok=True)
    _write_private(
        directory / "credentials",
        (
            "[default]\n"
            f"aws_access_key_id = {issued.access_key_id}\n"
            f"aws_secret_access_key = {issued.secret_access_key}\n"
        ),
    )
    _write_private(directory / "config", f"[default]\nregion = {settings.region}\n")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


DEV_WARNING = (
    "WARNING: development credentials are ON: any access key and secret are accepted and "
    "signatures are not checked.\n"
    "  The access key id picks the account (12 digits: that account; else 000000000000).\n"
    "  Never use this mode for data that matters.\n"
)


def banner(settings: Settings) -> str:
    from strongroom.kms.storage.engine import redacted

    endpoint = f"http://{settings.host}:{settings.port}"
    aws_dir = settings.data_dir.resolve() / "aws"
    database = f", database {redacted(settings.database_url)}" if settings.database_url else ""
    return (DEV_WARNING if settings.dev_credentials else "") + (
        f"Strongroom KMS on {endpoint} (region {settings.region}, "
        f"{settings.workers} workers, data in {settings.data_dir.resolve()}{database})\n"
        f"  credentials: {aws_dir / 'credentials'} (profile default)\n"
        f"  config:      {aws_dir / 'config'}\n"
        "Try it:\n"
        f"  export AWS_SHARED_CREDENTIALS_FILE={aws_dir / 'credentials'}\n"
        f"  export AWS_CONFIG_FILE={aws_dir / 'config'}\n"
        f"  aws kms create-key --endpoint-url {endpoint}\n"
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.data_dir).with_overrides(
        host=args.host,
        port=args.port,
        workers=args.workers,
        region=args.region,
        database_url=args.database_url,
        dev_credentials=args.dev,
    )
    # Imported here: parsing any strongroom command line should not load the server.
    import uvicorn

    from strongroom.kms.app import initialize
    from strongroom.kms.root_key_fence import ServingLease

    data_dir, issued = initialize(settings)
    # Refused while a root key change runs; each worker then holds its own lease.
    ServingLease(data_dir.db).claim_and_release()
    data_dir.db.engine.dispose()
    data_dir.store.close()  # the workers log in to an HSM themselves
    if issued is not None:
        write_aws_files(settings, issued)
    print(banner(settings), flush=True)
    # Worker processes rebuild everything from these variables (see kms/app.py app_from_env).
    os.environ["STRONGROOM_DATA_DIR"] = str(settings.data_dir.resolve())
    os.environ["STRONGROOM_REGION"] = settings.region
    if settings.database_url:
        os.environ["STRONGROOM_DATABASE_URL"] = settings.database_url
    os.environ["STRONGROOM_DEV_CREDENTIALS"] = "1" if settings.dev_credentials else "0"
    uvicorn.run(
        "strongroom.kms.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level=settings.log_level,
        timeout_graceful_shutdown=10,
    )
    return 0
