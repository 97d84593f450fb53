"""``strongroom serve``: start the KMS on the embedded default, ready for the AWS CLI."""

from __future__ import annotations

import argparse
import os
from typing import Any

from strongroom.kms.config import Settings, load_settings


def add_parser(commands: Any) -> None:
    from strongroom.cli.options import add_data_dir

    parser = commands.add_parser("serve", help="run the KMS server")
    add_data_dir(parser)
    parser.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8080)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default 2)")
    parser.add_argument("--region", default=None, help="AWS region name (default us-east-1)")
    parser.add_argument(
        "--dev",
        action="store_const",
        const=True,
        default=None,
        help="development credentials: accept any access key and secret (loopback only)",
    )
    parser.set_defaults(run=run)


DEV_WARNING = (
    "WARNING: development credentials are ON: any access key and secret are accepted and "
    "signatures are not checked.\n"
    "  The access key id picks the account (12 digits: that account; else 000000000000).\n"
    "  Never use this mode for data that matters.\n"
)


def banner(settings: Settings) -> str:
    endpoint = f"http://{settings.host}:{settings.port}"
    aws_dir = settings.data_dir.resolve() / "aws"
    return (DEV_WARNING if settings.dev_credentials else "") + (
        f"Strongroom KMS on {endpoint} (region {settings.region}, "
        f"{settings.workers} workers, data in {settings.data_dir.resolve()})\n"
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
        dev_credentials=args.dev,
    )
    # Imported here: parsing any strongroom command line should not load the server.
    import uvicorn

    from strongroom.kms.app import initialize
    from strongroom.kms.root_key_files import hold_serve_lock

    # Held (shared) until this process exits, so root key rotation and migration can tell
    # that a server runs on this data directory and refuse (docs/keystores.md).
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    hold_serve_lock(settings.data_dir)
    # A first start writes aws/credentials itself, and finishes one that was interrupted.
    data_dir, _ = initialize(settings)
    data_dir.db.engine.dispose()
    data_dir.store.close()  # the workers log in to an HSM themselves
    print(banner(settings), flush=True)
    # Worker processes rebuild everything from these variables (see kms/app.py app_from_env).
    os.environ["STRONGROOM_DATA_DIR"] = str(settings.data_dir.resolve())
    os.environ["STRONGROOM_REGION"] = settings.region
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
