"""``strongroom key``: create a key whose policy separates key administrators from key users.

``key create`` talks to a running server through the KMS API (botocore, with the caller's AWS
credentials: a profile, the environment or the shared files), so it works against any
Strongroom, and against AWS KMS too. ``key policy-template`` only prints the policy.

The creator of a key must be able to change its policy afterwards (the server's lockout
safety check refuses anything else). ``key create`` therefore asks ``GetCallerIdentity`` who
it runs as and makes that principal a key administrator if it is not one already (saying so
on stderr). It refuses to do that for a principal listed as a key user only: quietly making it
both would undo the separation the command is for.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from strongroom.kms.domain.policy_templates import separation_of_duties_policy

_CLIENT_CONFIG = Config(
    # CreateKey is not idempotent: a retry after a lost answer would create a second key.
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=5,
    read_timeout=30,
)


class KeyCommandError(Exception):
    """A failure reported as one line on stderr, with exit status 2."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "key", help="create a key whose policy separates key administrators from key users"
    )
    verbs = parser.add_subparsers(dest="verb", required=True)

    create = verbs.add_parser(
        "create",
        help="create a key (through the KMS API) with a separation-of-duties key policy",
        description=(
            "Create a symmetric encryption key whose key policy lets the --administrator "
            "principals manage it and the --user principals use it, optionally with an alias. "
            "Credentials come from --profile, the environment or the AWS shared files. The "
            "calling principal is made a key administrator if it is not one (the creator must "
            "be able to change the policy later)."
        ),
    )
    create.add_argument(
        "--endpoint-url", required=True, help="the server, e.g. http://127.0.0.1:8080"
    )
    create.add_argument("--profile", help="AWS profile (default: the environment / default)")
    create.add_argument("--region", help="AWS region (default: from the profile or environment)")
    _add_policy_arguments(create)
    create.add_argument("--description", default="", help="the key's description")
    create.add_argument("--alias", help="also create this alias (alias/NAME) for the key")
    create.set_defaults(run=_guarded(_create))

    template = verbs.add_parser(
        "policy-template",
        help="print the separation-of-duties key policy (for review or aws kms create-key)",
    )
    template.add_argument("--account", required=True, help="the key's 12-digit account id")
    _add_policy_arguments(template)
    template.set_defaults(run=_guarded(_template))


def _add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--administrator",
        dest="administrators",
        action="append",
        default=[],
        metavar="ARN",
        help="IAM user or role ARN that may manage (not use) the key; repeatable",
    )
    parser.add_argument(
        "--user",
        dest="users",
        action="append",
        default=[],
        metavar="ARN",
        help="IAM user or role ARN that may use (not manage) the key; repeatable",
    )
    parser.add_argument(
        "--no-strict",
        dest="strict",
        action="store_false",
        help=(
            "also let the account's IAM policies grant access to the key (the AWS console's "
            "'Enable IAM User Permissions' statement); by default the key policy alone decides"
        ),
    )


def _guarded(action: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return action(args)
        except KeyCommandError as error:
            _error(str(error))
            return 2

    return run


def _error(message: str) -> None:
    print(f"strongroom: {' '.join(message.split())}", file=sys.stderr)


def _policy(account: str, args: argparse.Namespace, administrators: list[str]) -> str:
    try:
        return separation_of_duties_policy(account, administrators, args.users, strict=args.strict)
    except ValueError as error:
        raise KeyCommandError(str(error)) from None


def _template(args: argparse.Namespace) -> int:
    print(_policy(args.account, args, args.administrators))
    return 0


# --- key create ----------------------------------------------------------------------------


def _create(args: argparse.Namespace) -> int:
    if args.alias is not None and (
        not args.alias.startswith("alias/") or args.alias.startswith("alias/aws/")
    ):
        raise KeyCommandError(
            f"alias {args.alias!r} must start with 'alias/' and not with 'alias/aws/'"
        )
    kms, sts = _clients(args)
    identity = _call("GetCallerIdentity", sts.get_caller_identity)
    caller, account = identity["Arn"], identity["Account"]
    administrators = _with_creator(caller, args)
    policy = _policy(account, args, administrators)
    if args.alias is not None:
        _check_alias_free(kms, args.alias)
    created = _call(
        "CreateKey",
        lambda: kms.create_key(
            Policy=policy,
            Description=args.description,
            KeySpec="SYMMETRIC_DEFAULT",
            KeyUsage="ENCRYPT_DECRYPT",
        ),
    )
    metadata = created["KeyMetadata"]
    if caller not in args.administrators:
        _error(
            f"note: {caller} (you) is added to the key administrators: the creator of a key "
            "must be able to change its policy"
        )
    for arn in dict.fromkeys(args.users):
        if arn in administrators:
            _error(f"note: {arn} is both a key administrator and a key user: it can manage and use")
    result: dict[str, object] = {"KeyMetadata": metadata}
    failure = None
    if args.alias is not None:
        try:
            _call(
                "CreateAlias",
                lambda: kms.create_alias(AliasName=args.alias, TargetKeyId=metadata["KeyId"]),
            )
            result["AliasName"] = args.alias
        except KeyCommandError as error:
            failure = f"key {metadata['KeyId']} was created, but {error}"
    result["Policy"] = json.loads(policy)
    print(json.dumps(result, indent=2, default=_json_default))
    if failure is not None:
        raise KeyCommandError(failure)
    return 0


def _clients(args: argparse.Namespace) -> tuple[Any, Any]:
    try:
        session = botocore.session.Session(profile=args.profile)
        region = args.region or session.get_config_variable("region")
        if not region:
            raise KeyCommandError(
                "no AWS region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or use a "
                "profile with a region (the server's region, us-east-1 unless it was changed)"
            )
        if session.get_credentials() is None:
            raise KeyCommandError(
                "no AWS credentials: pass --profile, set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE (the server writes one in "
                "<data-dir>/aws/credentials)"
            )
        clients = [
            session.create_client(
                service, endpoint_url=args.endpoint_url, region_name=region, config=_CLIENT_CONFIG
            )
            for service in ("kms", "sts")
        ]
    except (BotoCoreError, ValueError) as error:
        raise KeyCommandError(str(error)) from None
    return clients[0], clients[1]


def _call(operation: str, request: Callable[[], Any]) -> Any:
    """One API call; AWS errors and connection failures become a :class:`KeyCommandError`."""
    try:
        return request()
    except ClientError as error:
        details = error.response.get("Error", {})
        code = details.get("Code", "Unknown")
        message = details.get("Message", "")
        raise KeyCommandError(f"{operation} failed: {code}: {message}") from None
    except BotoCoreError as error:
        raise KeyCommandError(f"{operation} failed: {error}") from None


def _with_creator(caller: str, args: argparse.Namespace) -> list[str]:
    """The administrators, with the calling principal added if it is not one of them."""
    administrators = list(args.administrators)
    if caller in administrators:
        return administrators
    if caller in args.users:
        raise KeyCommandError(
            f"you ({caller}) are listed as a key user but not as a key administrator; the "
            "creator of a key must be able to change its policy, so run this as a key "
            "administrator, or also pass --administrator with your own ARN"
        )
    return [*administrators, caller]


def _check_alias_free(kms: Any, alias: str) -> None:
    """Refuse a taken alias before creating the key, so a typo leaves no orphan key."""
    try:
        kms.describe_key(KeyId=alias)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code == "NotFoundException":
            return
        if code != "AccessDeniedException":  # denied: the alias names a key, so it is taken
            raise KeyCommandError(
                f"DescribeKey failed: {code}: {error.response['Error'].get('Message', '')}"
            ) from None
    except BotoCoreError as error:
        raise KeyCommandError(f"DescribeKey failed: {error}") from None
    raise KeyCommandError(f"alias {alias} exists already; no key was created")


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
