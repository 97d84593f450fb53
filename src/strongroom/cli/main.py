"""The ``strongroom`` command.

Only the module of the subcommand being run is imported: ``strongroom encrypt`` loads the
envelope library and botocore, not the server (start-up time is part of a file tool's cost).
``strongroom --help`` lists every command from :data:`COMMANDS` without importing any.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Command name -> (the module whose ``add_parser(commands)`` defines it, one-line help).
# A module may define several commands (the envelope module: encrypt, decrypt, inspect).
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("strongroom.cli.serve", "run the KMS server"),
    "admin": (
        "strongroom.cli.admin",
        "manage accounts, users, roles, policies and access keys; list due lifecycle work",
    ),
    "key": (
        "strongroom.cli.keys",
        "create a key whose policy separates key administrators from key users",
    ),
    "encrypt": ("strongroom.cli.envelope", "encrypt files or stdin (Encryption SDK format)"),
    "decrypt": ("strongroom.cli.envelope", "decrypt Encryption SDK messages"),
    "inspect": ("strongroom.cli.envelope", "print the header of a message as JSON"),
    "audit": (
        "strongroom.cli.audit",
        "verify the tamper-evident audit trail; export a tenant's events",
    ),
    "byok": ("strongroom.cli.byok", "wrap and import your own key material"),
    "operator": (
        "strongroom.cli.operator",
        "provider operators: key pairs, enrolment and M-of-N approvals",
    ),
    "report": ("strongroom.cli.report", "governance reports"),
    "objects": (
        "strongroom.cli.objects",
        "the object store's inventory per key; re-encryption campaigns",
    ),
    "backup": (
        "strongroom.cli.backup",
        "write an encrypted backup of a data directory (safe while the server runs)",
    ),
    "restore": ("strongroom.cli.backup", "restore a backup into a new, empty data directory"),
    "aws-data-path": (
        "strongroom.cli.aws_data",
        "print the AWS_DATA_PATH that gives boto3 and the AWS CLI our extensions",
    ),
}


# Commands that only call the KMS's JSON API through botocore: they never need awscrt.
KMS_CLIENT_COMMANDS = frozenset({"encrypt", "decrypt", "inspect", "key"})


def without_crt() -> None:
    """Keep awscrt out of this process.

    botocore imports awscrt whenever it is installed (Strongroom installs it: the object
    store's CRC32C and CRC64NVME checksums need it in the server), only to offer CRT-based S3
    transfers, checksums and SigV4a. A KMS client uses none of them, and loading the native
    library costs ~0.12-0.2 s per process. ``None`` in ``sys.modules`` makes ``import awscrt``
    raise ImportError, which botocore handles as "not installed" (``HAS_CRT = False``).
    """
    if "awscrt" not in sys.modules:
        sys.modules["awscrt"] = None  # type: ignore[assignment]


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (its first word that is not an option)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser: the full definition of the command ``argv`` names, one-line stubs for the rest.

    The stubs are what ``strongroom --help`` lists; the named command's module defines its
    own options and verbs (and any sibling commands it holds).
    """
    parser = argparse.ArgumentParser(
        prog="strongroom", description="A self-hosted key management service (AWS KMS API)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    chosen = _command_in(argv)
    if chosen is not None:
        if chosen in KMS_CLIENT_COMMANDS:
            without_crt()
        importlib.import_module(COMMANDS[chosen][0]).add_parser(commands)
    for name, (_, help_text) in COMMANDS.items():
        if name not in commands.choices:
            commands.add_parser(name, help=help_text, add_help=False)
    return parser


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors that are the user's to fix: one line on stderr, exit status 2, no traceback.

    Imported only when something failed, so that no command pays for them at start.
    """
    from strongroom.kms.config import ConfigError
    from strongroom.kms.rootkey.key_file import RootKeyFileError
    from strongroom.kms.service.admin_error import AdminError

    return (AdminError, ConfigError, RootKeyFileError)


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(words).parse_args(words)
    # Everything Strongroom writes (database, root key, credentials, audit) is for its owner.
    os.umask(0o077)
    try:
        return int(args.run(args))
    except Exception as error:
        if not isinstance(error, _user_errors()):
            raise
        print(f"strongroom: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
