"""``strongroom admin``: accounts, users, roles, their inline policies, access keys and due
work, against a data directory."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strongroom.cli import migrate_db, root_key, sweep_blobs
from strongroom.kms.config import load_settings
from strongroom.kms.domain.principals import ROLE, USER
from strongroom.kms.service.admin_error import AdminError

if TYPE_CHECKING:
    from strongroom.kms.app import DataDir

FILE_PREFIX = "file://"


def add_parser(commands: Any) -> None:
    from strongroom.cli.options import add_data_dir

    parser = commands.add_parser(
        "admin",
        help="manage accounts, users, roles, policies and access keys; list due lifecycle work",
    )
    add_data_dir(parser)
    things = parser.add_subparsers(dest="thing", required=True)

    accounts = things.add_parser("accounts").add_subparsers(dest="verb", required=True)
    create = accounts.add_parser("create", help="create an account (tenant)")
    create.add_argument("--name", required=True)
    create.add_argument("--id", dest="account_id", help="12-digit account id (default: random)")
    create.set_defaults(
        run=_run(lambda d, x: _account(d.admin.create_account(x.name, x.account_id)))
    )
    accounts.add_parser("list").set_defaults(
        run=_run(lambda d, x: [_account(acc) for acc in d.admin.list_accounts()])
    )

    users = things.add_parser("users").add_subparsers(dest="verb", required=True)
    create = users.add_parser("create", help="create a user in an account")
    create.add_argument("--account", required=True)
    create.add_argument("name")
    create.set_defaults(run=_run(lambda d, x: _user(d.admin.create_user(x.account, x.name))))
    listing = users.add_parser("list")
    listing.add_argument("--account", required=True)
    listing.set_defaults(run=_run(lambda d, x: [_user(u) for u in d.admin.list_users(x.account)]))
    _add_policy_verbs(users, USER)

    roles = things.add_parser("roles").add_subparsers(dest="verb", required=True)
    create = roles.add_parser("create", help="create a role in an account")
    create.add_argument("--account", required=True)
    create.add_argument("name")
    create.set_defaults(run=_run(lambda d, x: _role(d.admin.create_role(x.account, x.name))))
    listing = roles.add_parser("list")
    listing.add_argument("--account", required=True)
    listing.set_defaults(run=_run(lambda d, x: [_role(r) for r in d.admin.list_roles(x.account)]))
    _add_policy_verbs(roles, ROLE)

    keys = things.add_parser("access-keys").add_subparsers(dest="verb", required=True)
    create = keys.add_parser("create", help="create an access key for a user or a role")
    create.add_argument("--account", required=True)
    owner = create.add_mutually_exclusive_group(required=True)
    owner.add_argument("--user")
    owner.add_argument("--role")
    create.add_argument("--access-key-id", help="use this id (development set-ups)")
    create.add_argument("--secret-access-key", help="use this secret (development set-ups)")
    create.add_argument(
        "--well-known",
        action="store_true",
        help="allow short development ids and secrets such as test/test",
    )
    create.set_defaults(run=_run(_create_access_key))
    listing = keys.add_parser("list")
    listing.add_argument("--account")
    listing.set_defaults(
        run=_run(
            lambda d, x: [
                {
                    "AccessKeyId": k.access_key_id,
                    "AccountId": k.account_id,
                    _NAME_FIELD[k.principal_kind]: k.principal_name,
                    "Status": k.status,
                    "CreateDate": k.created_at.isoformat(),
                }
                for k in d.admin.list_access_keys(x.account)
            ]
        )
    )
    delete = keys.add_parser("delete")
    delete.add_argument("access_key_id")
    delete.set_defaults(run=_run(lambda d, x: d.admin.delete_access_key(x.access_key_id)))
    _add_due(things)
    _add_database_verbs(things)
    _add_store_verbs(things)


def _add_store_verbs(things: Any) -> None:
    """HSM clusters, the XKS proxy's and the KMIP server's own records."""
    from strongroom.cli.hsm_clusters import add_verbs as add_hsm_cluster_verbs
    from strongroom.cli.kmip import add_verbs as add_kmip_verbs
    from strongroom.cli.xks import add_verbs as add_xks_verbs

    add_hsm_cluster_verbs(things, _run)
    add_xks_verbs(things, _run)
    add_kmip_verbs(things, _run)


def _add_database_verbs(things: Any) -> None:
    """Commands on the database as a whole: root key migration, schema migration."""
    root_key.add_parser(things)
    migrate_db.add_parser(things)
    sweep_blobs.add_parser(things)


def _add_policy_verbs(verbs: Any, kind: str) -> None:
    """put-policy, get-policy, list-policies, delete-policy for users (or roles)."""
    option = f"--{kind}"

    def parser(verb: str, help_text: str, *, named: bool = True) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = verbs.add_parser(verb, help=help_text)
        sub.add_argument("--account", required=True)
        sub.add_argument(option, dest="principal", required=True)
        if named:
            sub.add_argument("--name", required=True, help="the policy's name")
        return sub

    put = parser("put-policy", f"create or replace an inline policy of a {kind}")
    put.add_argument(
        "--document", required=True, help="the policy as JSON, or file://PATH to read it from"
    )
    put.set_defaults(
        run=_run(
            lambda d, x: d.admin.put_policy(
                x.account, kind, x.principal, x.name, _document(x.document)
            )
        )
    )
    parser("get-policy", f"print an inline policy of a {kind}").set_defaults(
        run=_run(lambda d, x: json.loads(d.admin.get_policy(x.account, kind, x.principal, x.name)))
    )
    parser("list-policies", f"list the inline policies of a {kind}", named=False).set_defaults(
        run=_run(lambda d, x: d.admin.list_policies(x.account, kind, x.principal))
    )
    parser("delete-policy", f"delete an inline policy of a {kind}").set_defaults(
        run=_run(lambda d, x: d.admin.delete_policy(x.account, kind, x.principal, x.name))
    )


def _document(argument: str) -> str:
    """The policy text: the argument itself, or the file a ``file://`` argument names."""
    if not argument.startswith(FILE_PREFIX):
        return argument
    path = Path(argument[len(FILE_PREFIX) :]).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise AdminError(f"cannot read the policy document {path}: {reason}") from None


def _create_access_key(data_dir: DataDir, args: argparse.Namespace) -> dict[str, str]:
    kind, name = (USER, args.user) if args.user is not None else (ROLE, args.role)
    return _issued(
        data_dir.admin.create_access_key(
            args.account,
            name,
            args.access_key_id,
            args.secret_access_key,
            kind=kind,
            well_known=args.well_known,
        )
    )


def _add_due(things: Any) -> None:
    due = things.add_parser(
        "due", help="list key rotations and deletions due now or within some days"
    )
    due.add_argument(
        "--days",
        type=float,
        default=0.0,
        help="also list work due within this many days (default: due now)",
    )
    due.set_defaults(run=_run(_due))


def _due(data_dir: DataDir, args: argparse.Namespace) -> list[dict[str, str]]:
    until = data_dir.clock.now() + timedelta(days=args.days)
    return [
        {
            "Due": work.due.isoformat(),
            "Action": work.action,
            "KeyId": work.key_id,
            "AccountId": work.account_id,
        }
        for work in _key_repository(data_dir).upcoming(until)
    ]


Action = Callable[["DataDir", argparse.Namespace], object]


def _run(action: Action) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        # Imported here: the server's modules are not needed to parse the command line.
        from strongroom.cli.admin_audit import audited
        from strongroom.kms.app import open_data_dir

        data_dir = open_data_dir(load_settings(args.data_dir))
        try:
            with audited(data_dir, args):
                result = action(data_dir, args)
        finally:
            data_dir.db.engine.dispose()
        if result is not None:
            print(json.dumps(result, indent=2))
        return 0

    return run


def _account(account: Any) -> dict[str, str]:
    return {
        "AccountId": account.account_id,
        "Name": account.name,
        "CreateDate": account.created_at.isoformat(),
    }


def _user(user: Any) -> dict[str, str]:
    return {"UserName": user.name, "Arn": user.arn, "CreateDate": user.created_at.isoformat()}


def _role(role: Any) -> dict[str, str]:
    return {"RoleName": role.name, "Arn": role.arn, "CreateDate": role.created_at.isoformat()}


_NAME_FIELD = {USER: "UserName", ROLE: "RoleName"}


def _issued(issued: Any) -> dict[str, str]:
    return {
        "AccessKeyId": issued.access_key_id,
        "SecretAccessKey": issued.secret_access_key,
        "AccountId": issued.account_id,
        _NAME_FIELD[issued.principal_kind]: issued.user_name,
    }


def _key_repository(data_dir: DataDir) -> Any:
    from strongroom.kms.storage.keys import KeyRepository

    return KeyRepository(data_dir.db)
