"""ListProviderAccesses: a Strongroom extension of the KMS API (not in AWS's model).

A tenant lists the provider accesses to its keys (all, or one key's): each executed or refused
``provider-decrypt`` with its proposer, approvers, reason code, reference and justification
(docs/security.md "Governance"). Authorized like ListAliases: the action
``kms:ListProviderAccesses`` by the key policy when a key is named, by identity policies
otherwise. Reads the audit trail: not a hot-path operation.
"""

from __future__ import annotations

from strongroom.kms.domain.states import OpClass
from strongroom.kms.governance.transparency import provider_access_records, summary
from strongroom.kms.service.paging import SEQUENCE, page
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response

NAME = "ListProviderAccesses"
ACTION = "kms:ListProviderAccesses"
# The input members, by the model shapes that validate them.
INPUT_MEMBERS = {"KeyId": "KeyIdType", "Limit": "LimitType", "Marker": "MarkerType"}


def list_provider_accesses(call: Call) -> Response:
    key = call.keys[0] if call.keys else None
    ctx, account = call.ctx, call.caller.account_id
    items, paging = page(
        lambda after, limit: provider_access_records(
            ctx.db,
            account,
            key_arn=None if key is None else key.arn,
            after_seq=after or 0,
            limit=limit,
        ),
        lambda found: found[0],
        int(call.request.get("Limit", 100)),
        call.request.get("Marker"),
        SEQUENCE,
    )
    return {"ProviderAccesses": [summary(r) for _, r in items], **paging}


EXTENSIONS = (
    Operation(
        NAME,
        list_provider_accesses,
        keys=(KeyAccess("KeyId", ACTION, OpClass.READ, required=False),),
    ),
)
