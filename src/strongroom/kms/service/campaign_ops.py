"""The object store's inventory and re-encryption campaigns, as Strongroom extension operations
of the KMS API (not in AWS's model), signed by the tenant like any KMS call.

- ``GetObjectInventory {}``: per bucket and per KMS key, the objects, bytes and key versions
  the object store holds for the caller's account (``kms:GetObjectInventory``).
- ``StartReEncryptionCampaign {Bucket | SourceKeyId | LoweredProtection, DestinationKeyId?}``:
  moves every object of one bucket, or under one key, or under any of the account's keys whose
  protection was lowered (material exported from an HSM token), to ``DestinationKeyId`` or,
  without one, to the newest material of each object's key
  (``kms:StartReEncryptionCampaign``). The server's runner moves the objects as the calling
  principal, each with a ReEncrypt through the object store (objectstore/campaigns.py).
- ``DescribeReEncryptionCampaigns {CampaignId?}``: progress (``kms:DescribeReEncryptionCampaigns``).

All three are decided by identity policies (they name no key); every ReEncrypt a campaign
makes is authorized by the keys' policies and grants when it runs.
"""

from __future__ import annotations

from strongroom.client.campaigns import CampaignStore, Destination, Selection
from strongroom.client.inventory import BucketInventory, by_key
from strongroom.client.principal import Principal
from strongroom.kms.domain.enums import KeyManager, KeySpec, KeyUsage
from strongroom.kms.errors import (
    InvalidKeyUsageException,
    NotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from strongroom.kms.service.pipeline import Call, Operation, Response

INVENTORY, START, DESCRIBE = (
    "GetObjectInventory",
    "StartReEncryptionCampaign",
    "DescribeReEncryptionCampaigns",
)
INPUT_MEMBERS: dict[str, dict[str, str]] = {
    INVENTORY: {},
    START: {
        "Bucket": "KeyIdType",
        "SourceKeyId": "KeyIdType",
        "LoweredProtection": "BooleanType",
        "DestinationKeyId": "KeyIdType",
    },
    DESCRIBE: {"CampaignId": "KeyIdType"},
}


def _store(call: Call) -> CampaignStore:
    store = call.ctx.objects
    if store is None:
        raise UnsupportedOperationException("This server has no object store.")
    return store


def get_object_inventory(call: Call) -> Response:
    buckets = _store(call).buckets(call.caller.account_id)
    return {
        "Buckets": [_bucket(b) for b in buckets],
        "Keys": [
            {
                "KeyArn": k.kms_key_arn,
                "Objects": k.objects,
                "Bytes": k.bytes,
                "Versions": [{"KeyMaterialId": v, "Objects": n} for v, n in k.versions],
                "Buckets": list(k.buckets),
            }
            for k in by_key(buckets)
        ],
    }


def _bucket(bucket: BucketInventory) -> dict[str, object]:
    return {
        "Bucket": bucket.bucket,
        "DefaultEncryption": bucket.default_sse,
        "Objects": bucket.objects,
        "Bytes": bucket.bytes,
        "Protections": [
            {
                "SSE": p.sse,
                "KeyArn": p.kms_key_arn,
                "KeyMaterialId": p.key_material_id,
                "BucketKey": p.bucket_key,
                "Objects": p.objects,
                "Bytes": p.bytes,
            }
            for p in bucket.protections
        ],
    }


def start_campaign(call: Call) -> Response:
    store, request, caller = _store(call), call.request, call.caller
    chosen = [m for m in ("Bucket", "SourceKeyId", "LoweredProtection") if request.get(m)]
    if len(chosen) != 1:
        raise ValidationException(
            "Specify exactly one of Bucket, SourceKeyId and LoweredProtection."
        )
    if request.get("Bucket"):
        bucket = request["Bucket"]
        if store.bucket_owner(bucket) != caller.account_id:
            raise NotFoundException(f"Bucket {bucket} is not found.")
        selection = Selection(bucket=bucket)
    elif request.get("SourceKeyId"):
        source = call.pipeline.resolve(request["SourceKeyId"], caller, request_id=call.request_id)
        call.extra_resources.append(source.arn)
        selection = Selection(source_key_arns=(source.arn,))
    else:
        selection = Selection(source_key_arns=_lowered_keys(call))
    destination = Destination()
    if request.get("DestinationKeyId"):
        key = call.pipeline.resolve(request["DestinationKeyId"], caller, request_id=call.request_id)
        if key.key_spec is not KeySpec.SYMMETRIC_DEFAULT or key.key_usage is not (
            KeyUsage.ENCRYPT_DECRYPT
        ):
            raise InvalidKeyUsageException(
                f"{key.arn} is not a symmetric encryption key; objects need one."
            )
        call.extra_resources.append(key.arn)
        destination = Destination(key.arn, key.key_manager is KeyManager.AWS)
    principal = Principal(
        caller.account_id,
        caller.principal_arn,
        caller.access_key_id,
        caller.source_ip,
        caller.region,
    )
    campaign = store.start(principal, selection, destination)
    return {"Campaign": campaign.listing()}


def _lowered_keys(call: Call) -> tuple[str, ...]:
    """The account's keys whose material was exported from an HSM token (their lineage)."""
    found: list[str] = []
    after = None
    while page := call.ctx.keys.list_keys(call.caller.account_id, None, after, 1000):
        found += [k.arn for k in page if k.hsm_lineage is not None]
        after = page[-1].record_id
    return tuple(found)


def describe_campaigns(call: Call) -> Response:
    wanted = call.request.get("CampaignId")
    found = _store(call).campaigns(call.caller.account_id, wanted)
    if wanted is not None and not found:
        raise NotFoundException(f"Campaign {wanted} is not found.")
    return {"Campaigns": [c.listing() for c in found]}


EXTENSIONS = (
    Operation(INVENTORY, get_object_inventory, action=f"kms:{INVENTORY}"),
    Operation(START, start_campaign, action=f"kms:{START}"),
    Operation(DESCRIBE, describe_campaigns, action=f"kms:{DESCRIBE}"),
)
