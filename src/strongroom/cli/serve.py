"""``strongroom serve``: start the KMS on the embedded default, ready for the AWS CLI."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strongroom.kms.config import Settings, is_loopback, load_settings

if TYPE_CHECKING:
    from strongroom.kms.api.tls import TlsFiles


def add_parser(commands: Any) -> None:
    from strongroom.cli.options import add_data_dir

    parser = commands.add_parser("serve", help="run the KMS server")
    add_data_dir(parser)
    parser.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8080)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default 2)")
    parser.add_argument(
        "--region", default=None, help="the default region (default us-east-1; see --regions)"
    )
    parser.add_argument(
        "--regions",
        default=None,
        help="regions served, comma-separated (default: every region of botocore's aws "
        "partition; also the setting regions, STRONGROOM_REGIONS)",
    )
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
    tls = parser.add_argument_group("TLS (docs/security.md)")
    tls.add_argument(
        "--tls",
        choices=("self-signed",),
        default=None,
        help="generate a certificate and its CA in <data-dir>/tls (reused while valid)",
    )
    tls.add_argument("--tls-cert", default=None, help="PEM certificate (chain) to serve")
    tls.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    tls.add_argument(
        "--tls-name",
        action="append",
        default=None,
        help="another DNS name or address for the generated certificate (repeatable)",
    )
    tls.add_argument(
        "--allow-plain-http",
        action="store_const",
        const=True,
        default=None,
        help="serve plain HTTP on a non-loopback address (credentials and keys in clear)",
    )
    kmip = parser.add_argument_group("KMIP server (docs/kmip.md), off unless --kmip-port")
    kmip.add_argument("--kmip-port", type=int, default=None, help="KMIP port (usually 5696)")
    kmip.add_argument(
        "--kmip-client-ca", default=None, help="PEM CA(s) that issue KMIP client certificates"
    )
    kmip.add_argument(
        "--kmip-cert", default=None, help="PEM certificate of the KMIP server (default: generated)"
    )
    kmip.add_argument("--kmip-key", default=None, help="PEM private key of --kmip-cert")
    parser.set_defaults(run=run)


DEV_WARNING = (
    "WARNING: development credentials are ON: any access key and secret are accepted and "
    "signatures are not checked.\n"
    "  The access key id picks the account (12 digits: that account; else 000000000000).\n"
    "  Never use this mode for data that matters.\n"
)


def banner(settings: Settings, tls: TlsFiles | None = None) -> str:
    from strongroom.kms.storage.engine import redacted

    scheme = "https" if tls is not None else "http"
    endpoint = f"{scheme}://{settings.host}:{settings.port}"
    aws_dir = settings.data_dir.resolve() / "aws"
    database = f", database {redacted(settings.database_url)}" if settings.database_url else ""
    lines = [
        f"Strongroom KMS on {endpoint} ({_regions(settings)}, "
        f"{settings.workers} workers, data in {settings.data_dir.resolve()}{database})",
        f"  credentials: {aws_dir / 'credentials'} (profile default)",
        f"  config:      {aws_dir / 'config'}",
    ]
    ca_option = ""
    if tls is not None and tls.ca_bundle is not None:
        ca = tls.ca_bundle.resolve()
        lines.append(f"  TLS CA:      {ca} (trust it: AWS_CA_BUNDLE={ca} or --ca-bundle {ca})")
        ca_option = f" --ca-bundle {ca}"
    elif tls is not None:
        lines.append(f"  TLS:         {tls.certificate} (clients must trust its issuer)")
    lines += [
        "Try it:",
        f"  export AWS_SHARED_CREDENTIALS_FILE={aws_dir / 'credentials'}",
        f"  export AWS_CONFIG_FILE={aws_dir / 'config'}",
        f"  aws kms create-key --endpoint-url {endpoint}{ca_option}",
    ]
    return (DEV_WARNING if settings.dev_credentials else "") + "\n".join(lines) + "\n"


def kmip_banner(settings: Settings) -> str:
    """The KMIP listener's line; its generated server pair is made here, before the workers."""
    if not settings.kmip_port:
        return ""
    from strongroom.kmip.wiring import kmip_tls_files

    files = kmip_tls_files(settings)
    host = settings.kmip_host or settings.host
    return (
        f"  KMIP:        {host}:{settings.kmip_port} (server certificate {files.certificate}, "
        f"client CA {files.client_ca})\n"
    )


PLAIN_HTTP_REFUSED = (
    "strongroom serve: refusing plain HTTP on {host}, which other machines can reach: "
    "SigV4 protects requests from changes, not from being read, and plaintexts and data keys "
    "travel in the bodies. Use --tls self-signed, or --tls-cert and --tls-key, or say "
    "--allow-plain-http if a TLS proxy on this machine is the only client."
)
PLAIN_HTTP_WARNING = (
    "WARNING: serving PLAIN HTTP on {host}: anyone on the network path can read plaintexts, "
    "data keys and responses (--allow-plain-http)."
)


def tls_files(settings: Settings) -> TlsFiles | None:
    """The certificate to serve, generating the self-signed pair when asked to."""
    from strongroom.kms.api.tls import TlsFiles, self_signed

    if settings.tls == "self-signed":
        return self_signed(settings.data_dir / "tls", settings.host, settings.tls_names)
    if settings.tls_cert_file:
        return TlsFiles(Path(settings.tls_cert_file), Path(settings.tls_key_file), None)
    return None


def _regions(settings: Settings) -> str:
    served = len(settings.served_regions)
    return f"{served} regions, default {settings.region}" if served > 1 else settings.region


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.data_dir).with_overrides(
        host=args.host,
        port=args.port,
        workers=args.workers,
        region=args.region,
        regions=args.regions,
        database_url=args.database_url,
        dev_credentials=args.dev,
        tls=args.tls,
        tls_cert_file=args.tls_cert,
        tls_key_file=args.tls_key,
        tls_names=",".join(args.tls_name) if args.tls_name else None,
        allow_plain_http=args.allow_plain_http,
        kmip_port=args.kmip_port,
        kmip_client_ca_file=args.kmip_client_ca,
        kmip_cert_file=args.kmip_cert,
        kmip_key_file=args.kmip_key,
    )
    if not (settings.tls or settings.tls_cert_file or is_loopback(settings.host)):
        if not settings.allow_plain_http:
            print(PLAIN_HTTP_REFUSED.format(host=settings.host), file=sys.stderr)
            return 2
        print(PLAIN_HTTP_WARNING.format(host=settings.host), file=sys.stderr, flush=True)
    # Imported here: parsing any strongroom command line should not load the server.
    from strongroom.kms.api import http_server
    from strongroom.kms.api.node_metrics import NodeDirectory
    from strongroom.kms.app import initialize
    from strongroom.kms.rootkey.fence import ServingLease

    # A first start writes aws/credentials itself, and finishes one that was interrupted.
    data_dir, _ = initialize(settings)
    # Refused while a root key change runs; each worker then holds its own lease.
    ServingLease(data_dir.db).claim_and_release()
    data_dir.db.engine.dispose()
    data_dir.store.close()  # the workers log in to an HSM themselves
    # The node's counters start again with it (workers of a previous run are forgotten).
    NodeDirectory(settings.data_dir / "metrics").clear()
    tls = tls_files(settings)
    descriptors = http_server.raise_descriptor_limit()
    print(banner(settings, tls) + kmip_banner(settings), flush=True)
    # Worker processes rebuild everything from these variables (see kms/app.py app_from_env).
    os.environ["STRONGROOM_DATA_DIR"] = str(settings.data_dir.resolve())
    os.environ["STRONGROOM_REGION"] = settings.region
    os.environ["STRONGROOM_REGIONS"] = settings.regions
    if settings.database_url:
        os.environ["STRONGROOM_DATABASE_URL"] = settings.database_url
    os.environ["STRONGROOM_DEV_CREDENTIALS"] = "1" if settings.dev_credentials else "0"
    os.environ["STRONGROOM_WORKERS"] = str(settings.workers)  # quota leases are per worker
    for name in ("kmip_port", "kmip_client_ca_file", "kmip_cert_file", "kmip_key_file"):
        if getattr(settings, name):
            os.environ[f"STRONGROOM_{name.upper()}"] = str(getattr(settings, name))
    limits = http_server.http_limits(settings, descriptors)
    certificate = (
        {}
        if tls is None
        else {
            "ssl_certfile": str(tls.certificate),
            "ssl_keyfile": str(tls.private_key),
        }
    )
    http_server.run(
        http_server.uvicorn_config(
            "strongroom.kms.app:app_from_env", settings, limits, factory=True, **certificate
        )
    )
    return 0
