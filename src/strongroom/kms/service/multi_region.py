"""ReplicateKey and UpdatePrimaryRegion: multi-Region key sets (domain/multi_region.py).

Both run on the primary key in the request's region (its key policy authorizes
``kms:ReplicateKey`` / ``kms:UpdatePrimaryRegion``). A replica gets copies of every material
version of the primary and the shared properties; later rotations reach every member in the
primary's own transaction (storage/multi_region.py).
"""

from __future__ import annotations

from strongroom.kms import messages
from strongroom.kms.domain import multi_region, states
from strongroom.kms.domain.ids import key_arn
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import (
    AlreadyExistsException,
    NotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from strongroom.kms.service.key_policies import check_key_policy, check_lockout
from strongroom.kms.service.keys import default_key_policy
from strongroom.kms.service.metadata import key_metadata, multi_region_members
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response
from strongroom.kms.service.tags import tags_from_request
from strongroom.kms.storage.database import DuplicateRecord
from strongroom.kms.storage.multi_region import MultiRegionKeys


def replicate_key(call: Call) -> Response:
    primary, request, ctx = call.key, call.request, call.ctx
    multi_region.require_primary(primary, "ReplicateKey")
    region = request["ReplicaRegion"]
    _check_served(call, region, "ReplicaRegion")
    # The replica is a new key in its region: the caller needs kms:CreateKey there too.
    call.pipeline.authorizer.authorize(call, "kms:CreateKey", None, None)
    arn = key_arn(region, primary.account_id, primary.key_id)
    if region == primary.region or any(
        m.region == region for m in multi_region_members(ctx, primary)
    ):
        raise AlreadyExistsException(f"Multi-Region key {arn} already exists in {region}.")
    policy = request.get("Policy")
    if policy is not None:
        check_key_policy(call, policy)
    tags = tags_from_request(request.get("Tags"))
    replica = multi_region.replica(
        primary,
        region,
        policy or default_key_policy(primary.account_id),
        request.get("Description", ""),
        ctx.clock.now(),
    )
    if policy is not None:
        check_lockout(call, replica)
    call.extra_resources.append(replica.arn)
    try:
        MultiRegionKeys(ctx.db).add_replica(primary, replica, tags)
    except DuplicateRecord:  # another request made it first
        raise AlreadyExistsException(
            f"Multi-Region key {arn} already exists in {region}."
        ) from None
    ctx.cache.forget_key(replica.record_id)
    # AWS answers while the replica is still being made: KeyState Creating, Enabled false
    # (recorded: LocalStack's KMS snapshot of ReplicateKey). Here it is made in the request's
    # transaction, so it is Enabled by the time the answer arrives.
    shown = {**key_metadata(ctx, replica), "KeyState": "Creating", "Enabled": False}
    return {
        "ReplicaKeyMetadata": shown,
        "ReplicaPolicy": replica.policy,
        "ReplicaTags": [{"TagKey": k, "TagValue": v} for k, v in tags.items()],
    }


def update_primary_region(call: Call) -> Response:
    primary, ctx = call.key, call.ctx
    multi_region.require_primary(primary, "UpdatePrimaryRegion")
    region = call.request["PrimaryRegion"]
    _check_served(call, region, "PrimaryRegion")
    if region == primary.region:
        raise ValidationException(f"{primary.arn} is already the primary key in {region}.")
    members = multi_region_members(ctx, primary)
    replica = next((m for m in members if m.region == region), None)
    if replica is None:
        raise NotFoundException(
            messages.key_not_found(key_arn(region, primary.account_id, primary.key_id))
        )
    # The new primary's policy must allow it as well, and it must be usable.
    access = call.operation.keys[0]
    call.pipeline.authorizer.authorize(call, "kms:UpdatePrimaryRegion", replica, access)
    states.check(OpClass.REPLICATE, replica.state, replica.arn)
    call.extra_resources.append(replica.arn)
    MultiRegionKeys(ctx.db).move_primary(
        primary.account_id, primary.key_id, region, ctx.clock.now()
    )
    for member in members:
        ctx.cache.forget_key(member.record_id)
    return {}


def _check_served(call: Call, region: str, member: str) -> None:
    if region not in call.ctx.regions:
        raise UnsupportedOperationException(f"{member} {region} is not a Region this KMS serves.")


_PRIMARY = KeyAccess("KeyId", "kms:ReplicateKey", OpClass.REPLICATE, aliases=False, fresh=True)

OPERATIONS = (
    Operation("ReplicateKey", replicate_key, (_PRIMARY,)),
    Operation(
        "UpdatePrimaryRegion",
        update_primary_region,
        (
            KeyAccess(
                "KeyId", "kms:UpdatePrimaryRegion", OpClass.REPLICATE, aliases=False, fresh=True
            ),
        ),
    ),
)
