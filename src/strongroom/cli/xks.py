"""``strongroom admin xks``: the XKS proxy's credentials and external keys (docs/xks.md)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strongroom.kms.app import DataDir
    from strongroom.kms.service.xks_admin import XksAdmin


def add_verbs(things: Any, run: Any) -> None:
    verbs = things.add_parser(
        "xks", help="XKS proxy: credentials and external keys of a custom key store"
    ).add_subparsers(dest="verb", required=True)

    def verb(name: str, help_text: str, *, key: bool = False) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = verbs.add_parser(name, help=help_text)
        parser.add_argument("--custom-key-store", required=True, help="cks-...")
        if key:
            parser.add_argument("xks_key_id", help="the external key id")
        return parser

    create = verb("create-key", "generate an external key in the store's HSM cluster")
    create.add_argument("--xks-key-id", help="its id (default: a random UUID)")
    create.set_defaults(run=run(_create_key))
    verb("list-keys", "list the store's external keys").set_defaults(
        run=run(lambda d, x: [k.listing() for k in _admin(d, x).list_keys(x.custom_key_store)])
    )
    verb("disable-key", "stop AWS KMS using an external key (within 1 s)", key=True).set_defaults(
        run=run(lambda d, x: _admin(d, x).set_enabled(x.custom_key_store, x.xks_key_id, False))
    )
    verb("enable-key", "let AWS KMS use an external key again", key=True).set_defaults(
        run=run(lambda d, x: _admin(d, x).set_enabled(x.custom_key_store, x.xks_key_id, True))
    )
    verb("delete-key", "destroy a disabled external key in every HSM", key=True).set_defaults(
        run=run(
            lambda d, x: {"FailedTokens": _admin(d, x).delete_key(x.custom_key_store, x.xks_key_id)}
        )
    )
    verb(
        "create-credential",
        "make proxy credentials; prints the XKS proxy configuration file (once)",
    ).set_defaults(
        run=run(lambda d, x: _admin(d, x).create_credential(x.custom_key_store).configuration())
    )
    verb("list-credentials", "list the store's proxy credentials (ids only)").set_defaults(
        run=run(lambda d, x: _admin(d, x).list_credentials(x.custom_key_store))
    )
    delete = verbs.add_parser("delete-credential", help="revoke proxy credentials (within 1 s)")
    delete.add_argument("access_key_id")
    delete.set_defaults(run=run(_delete_credential))


def _admin(data_dir: DataDir, args: argparse.Namespace) -> XksAdmin:
    """The service, with the store's account named in the command's audit event."""
    from strongroom.kms.service.xks_admin import XksAdmin
    from strongroom.kms.storage.custom_key_stores import CustomKeyStoreRepository
    from strongroom.kms.storage.xks import XksRepository

    admin = XksAdmin(
        XksRepository(data_dir.db),
        CustomKeyStoreRepository(data_dir.db),
        data_dir.store,
        data_dir.clock,
    )
    if getattr(args, "custom_key_store", None) is not None:
        args.account = admin.store(args.custom_key_store).account_id
    return admin


def _create_key(data_dir: DataDir, args: argparse.Namespace) -> dict[str, object]:
    return _admin(data_dir, args).create_key(args.custom_key_store, args.xks_key_id).listing()


def _delete_credential(data_dir: DataDir, args: argparse.Namespace) -> dict[str, str]:
    store_id = _admin(data_dir, args).delete_credential(args.access_key_id)
    return {"AccessKeyId": args.access_key_id, "CustomKeyStoreId": store_id}
