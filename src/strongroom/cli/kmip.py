"""``strongroom admin kmip``: register KMIP client certificates to principals (docs/kmip.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strongroom.kms.app import DataDir
    from strongroom.kms.service.kmip_admin import KmipAdmin


def add_verbs(things: Any, run: Any) -> None:
    verbs = things.add_parser(
        "kmip", help="KMIP server: which client certificate acts as which principal"
    ).add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add-client", help="register a client certificate to a user or role")
    add.add_argument("--cert", required=True, help="the client's PEM certificate")
    add.add_argument(
        "--principal", required=True, help="arn:aws:iam::<account>:user/<name> (or role/)"
    )
    add.set_defaults(run=run(_add))
    listing = verbs.add_parser("list-clients", help="list registered client certificates")
    listing.add_argument("--account", default=None, help="only this account's")
    listing.set_defaults(
        run=run(lambda d, x: [c.listing() for c in _admin(d).list_clients(x.account)])
    )
    remove = verbs.add_parser("remove-client", help="unregister a certificate (within 1 s)")
    remove.add_argument("fingerprint", help="SHA-256 of the certificate (64 hex digits)")
    remove.set_defaults(run=run(_remove))


def _admin(data_dir: DataDir) -> KmipAdmin:
    from strongroom.kms.service.kmip_admin import KmipAdmin
    from strongroom.kms.storage.identity import IdentityRepository
    from strongroom.kms.storage.kmip import KmipRepository

    return KmipAdmin(KmipRepository(data_dir.db), IdentityRepository(data_dir.db), data_dir.clock)


def _add(data_dir: DataDir, args: argparse.Namespace) -> dict[str, object]:
    admin = _admin(data_dir)
    # The command's audit event (written when the change commits) goes to this account.
    args.account = admin.account_of(args.principal)
    return admin.add_client(Path(args.cert).read_bytes(), args.principal).listing()


def _remove(data_dir: DataDir, args: argparse.Namespace) -> dict[str, object]:
    admin = _admin(data_dir)
    args.account = admin.client(args.fingerprint).account_id
    return admin.remove_client(args.fingerprint).listing()
