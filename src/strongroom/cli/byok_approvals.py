"""``strongroom byok pending`` and ``byok approve``: the tenant's second look (docs/adr/0009).

With a protection policy in force, ``byok from-hsm`` opens a pending change instead of
exporting; each approver looks at it (``pending``: the policy and every change waiting, with
its parameters and approvals) and approves it with their own credentials (``approve``: one
SigV4-signed ApproveProtectionChange call).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from strongroom.cli import byok
from strongroom.cli.extension_call import ExtensionCallError, call_extension


def add_parsers(verbs: Any) -> None:
    pending = verbs.add_parser(
        "pending",
        help="show the account's protection policy and the changes waiting for approval",
    )
    _add_endpoint(pending)
    pending.set_defaults(run=byok._guarded(_pending))
    approve = verbs.add_parser(
        "approve",
        help="approve a pending protection change with your own credentials",
        description=(
            "Approve a pending protection change (see `byok pending`). The approval is this "
            "SigV4-signed call: use the credentials of an approver named in the policy."
        ),
    )
    _add_endpoint(approve)
    approve.add_argument("--change-id", required=True, help="the change to approve (pc-...)")
    approve.set_defaults(run=byok._guarded(_approve))


def _add_endpoint(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint-url", required=True, help="the server")
    parser.add_argument("--profile", help="AWS profile (default: the environment / default)")
    parser.add_argument("--region", help="AWS region (default: from the profile or environment)")


def _send(args: argparse.Namespace, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    import botocore.session

    region = byok._client(args).meta.region_name
    try:
        return call_extension(
            botocore.session.Session(profile=args.profile),
            args.endpoint_url,
            region,
            operation,
            payload,
        )
    except ExtensionCallError as error:
        raise byok.ByokCommandError(str(error)) from None


def _pending(args: argparse.Namespace) -> int:
    print(json.dumps(_send(args, "GetProtectionPolicy", {}), indent=2))
    return 0


def _approve(args: argparse.Namespace) -> int:
    answer = _send(args, "ApproveProtectionChange", {"ChangeId": args.change_id})
    print(json.dumps(answer, indent=2))
    return 0
