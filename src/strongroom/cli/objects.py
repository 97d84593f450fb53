"""``strongroom objects``: the object store's inventory per key, and re-encryption campaigns.

Client commands, like ``byok``: each is a SigV4-signed call of a Strongroom extension
operation with the caller's own AWS credentials (profile or environment), so the server
authorizes it and the tenant's trail records it.

- ``objects inventory``: per KMS key, the objects, bytes and key versions (and per bucket).
- ``objects reencrypt --bucket B | --source-key K | --lowered-protection [--to-key D]``:
  starts a campaign and shows its progress until it completes (``--no-wait`` to return at
  once). Without ``--to-key``, each object moves to the newest material of its own key.
- ``objects campaigns [--campaign-id ID]``: the account's campaigns and their progress.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from strongroom.cli.extension_call import ExtensionCallError, call_extension


class ObjectsCommandError(Exception):
    """A message for the user; the command exits with status 2."""


def add_parser(commands: Any) -> None:
    objects = commands.add_parser(
        "objects", help="the object store's inventory per key; re-encryption campaigns"
    )
    verbs = objects.add_subparsers(dest="verb", required=True)
    inventory = verbs.add_parser("inventory", help="objects, bytes and key versions per key")
    _endpoint(inventory)
    inventory.add_argument("--format", choices=("table", "json"), default="table")
    inventory.set_defaults(run=_guarded(_inventory))
    reencrypt = verbs.add_parser(
        "reencrypt",
        help="move every object of a bucket, or under a key, to another key or newer material",
    )
    _endpoint(reencrypt)
    chosen = reencrypt.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--bucket", help="every object of this bucket")
    chosen.add_argument("--source-key", help="every object under this key (id, ARN or alias)")
    chosen.add_argument(
        "--lowered-protection",
        action="store_true",
        help="every object under a key whose material was exported from an HSM token",
    )
    reencrypt.add_argument(
        "--to-key", help="the destination key (default: the newest material of each key)"
    )
    reencrypt.add_argument("--no-wait", action="store_true", help="do not follow the progress")
    reencrypt.set_defaults(run=_guarded(_reencrypt))
    campaigns = verbs.add_parser("campaigns", help="campaigns of the account and their progress")
    _endpoint(campaigns)
    campaigns.add_argument("--campaign-id")
    campaigns.set_defaults(run=_guarded(_campaigns))


def _endpoint(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint-url", required=True, help="the server")
    parser.add_argument("--profile", help="AWS profile (default: the environment / default)")
    parser.add_argument("--region", help="AWS region (default: from the profile or environment)")


def _guarded(run: Any) -> Any:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return int(run(args))
        except (ObjectsCommandError, ExtensionCallError) as error:
            print(f"strongroom objects: {error}", file=sys.stderr)
            return 2

    return guarded


def _send(args: argparse.Namespace, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    import botocore.session

    session = botocore.session.Session(profile=args.profile)
    region = args.region or session.get_config_variable("region")
    if not region:
        raise ObjectsCommandError("no AWS region: pass --region or set AWS_DEFAULT_REGION")
    return call_extension(session, args.endpoint_url, region, operation, payload)


def _inventory(args: argparse.Namespace) -> int:
    answer = _send(args, "GetObjectInventory", {})
    if args.format == "json":
        print(json.dumps(answer, indent=2))
        return 0
    for key in answer["Keys"]:
        print(f"{key['KeyArn']}: {key['Objects']} objects, {key['Bytes']} bytes")
        for version in key["Versions"]:
            print(f"  version {version['KeyMaterialId'] or '?'}: {version['Objects']} objects")
        print(f"  buckets: {', '.join(key['Buckets'])}")
    for bucket in answer["Buckets"]:
        customer = sum(p["Objects"] for p in bucket["Protections"] if p["KeyArn"] is None)
        print(
            f"bucket {bucket['Bucket']}: {bucket['Objects']} objects, {bucket['Bytes']} bytes, "
            f"default {bucket['DefaultEncryption']}, {customer} under customer keys (SSE-C)"
        )
    return 0


def _reencrypt(args: argparse.Namespace) -> int:
    request: dict[str, Any] = {}
    if args.bucket:
        request["Bucket"] = args.bucket
    elif args.source_key:
        request["SourceKeyId"] = args.source_key
    else:
        request["LoweredProtection"] = True
    if args.to_key:
        request["DestinationKeyId"] = args.to_key
    campaign = _send(args, "StartReEncryptionCampaign", request)["Campaign"]
    print(f"campaign {campaign['CampaignId']} started")
    while not args.no_wait and campaign["State"] != "COMPLETED":
        time.sleep(0.5)
        (campaign,) = _send(
            args, "DescribeReEncryptionCampaigns", {"CampaignId": campaign["CampaignId"]}
        )["Campaigns"]
        print(_progress(campaign), flush=True)
    return 1 if campaign.get("Failed") else 0


def _progress(campaign: dict[str, Any]) -> str:
    line = (
        f"{campaign['State']}: {campaign['Moved']} moved, {campaign['Skipped']} skipped, "
        f"{campaign['Failed']} failed"
    )
    if campaign.get("Position"):
        line += f" (at {campaign['Position']})"
    if campaign.get("LastError"):
        line += f"; last error: {campaign['LastError']}"
    return line


def _campaigns(args: argparse.Namespace) -> int:
    payload = {"CampaignId": args.campaign_id} if args.campaign_id else {}
    for campaign in _send(args, "DescribeReEncryptionCampaigns", payload)["Campaigns"]:
        print(f"{campaign['CampaignId']} {_progress(campaign)}")
    return 0
