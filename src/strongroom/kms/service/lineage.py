"""RecordKeyLineage: a Strongroom extension operation (not in AWS's model).

``strongroom byok from-hsm`` exports an AES key out of a PKCS#11 token (wrapped inside the
token) into an EXTERNAL key; this records where the material came from: token label and
serial, key label, export time. The exposure report then flags the key "protection lowered".

Authorized as ``kms:ImportKeyMaterial`` on the key (whoever may import may say what was
imported). Only for Origin EXTERNAL keys, and immutable: a second call is refused with
``AlreadyExistsException``, so the tenant cannot erase the record later. DescribeKey is not
changed. When the account's protection policy asks for approvals, the call records nothing
yet: it opens a pending change (returned with its ChangeId) that the approvers approve with
``ApproveProtectionChange``; until then ImportKeyMaterial into the key is refused
(service/importing.py).
"""

from __future__ import annotations

from datetime import UTC, timedelta

from strongroom.kms import messages
from strongroom.kms.domain.enums import Origin
from strongroom.kms.domain.lineage import HsmLineage
from strongroom.kms.domain.protection import ChangeKind
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import (
    AlreadyExistsException,
    ConflictException,
    UnsupportedOperationException,
    ValidationException,
)
from strongroom.kms.service.pipeline import Call, Operation, Response, managed_key
from strongroom.kms.service.protection import new_change, pending_response

NAME = "RecordKeyLineage"
INPUT_MEMBERS = {
    "KeyId": "KeyIdType",
    "TokenLabel": "CustomKeyStoreNameType",
    "TokenSerial": "CustomKeyStoreNameType",
    "KeyLabel": "CustomKeyStoreNameType",
    "ExportedAt": "DateType",
}
_CLOCK_SLACK = timedelta(minutes=5)


def already_recorded(arn: str, lineage: HsmLineage) -> AlreadyExistsException:
    """The refusal of a second record; it names the recorded source (the tenant's own data),
    so a client can tell a re-run for the same token key from an attempt with another."""
    return AlreadyExistsException(
        f"The HSM lineage of {arn} is already recorded ({lineage.source()}); it cannot be changed."
    )


def _lineage(call: Call) -> HsmLineage:
    request, now = call.request, call.ctx.clock.now()
    missing = [m for m in ("TokenLabel", "TokenSerial", "KeyLabel") if m not in request]
    if missing:
        raise ValidationException(f"{', '.join(missing)} is required.")
    exported_at = request.get("ExportedAt", now).astimezone(UTC)
    if exported_at > now + _CLOCK_SLACK:
        raise ValidationException("ExportedAt is in the future.")
    return HsmLineage(
        token_label=str(request["TokenLabel"]),
        token_serial=str(request["TokenSerial"]),
        key_label=str(request["KeyLabel"]),
        exported_at=exported_at,
    )


def record_key_lineage(call: Call) -> Response:
    key, ctx = call.key, call.ctx
    if key.origin is not Origin.EXTERNAL:
        raise UnsupportedOperationException(messages.origin_not_valid(key.arn, key.origin.value))
    lineage = _lineage(call)
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        recorded = tx.protection.lineage(key.record_id)
        if recorded is not None:
            raise already_recorded(key.arn, recorded)
        policy = tx.protection.policy(key.account_id)
        if policy is None:
            tx.protection.set_lineage(key.record_id, lineage, now)
            ctx.cache.forget_key(key.record_id)
            return {"KeyId": key.arn, "Status": "RECORDED"}
        pending = tx.protection.pending_for_key(key.record_id, now)
        if pending is not None:
            if pending.kind is not ChangeKind.RECORD_KEY_LINEAGE or not HsmLineage.from_dict(
                pending.parameters
            ).same_source(lineage):
                raise ConflictException(
                    f"Protection change {pending.change_id} for {key.arn} is pending approval."
                )
            approvals = tx.protection.approvals(pending.change_id)
            return {"KeyId": key.arn, **pending_response(pending, policy, approvals)}
        change = new_change(
            call.caller, ChangeKind.RECORD_KEY_LINEAGE, dict(lineage.to_dict()), now, key.record_id
        )
        tx.protection.add_change(change)
    return {"KeyId": key.arn, **pending_response(change, policy, [])}


EXTENSIONS = (
    Operation(NAME, record_key_lineage, managed_key("kms:ImportKeyMaterial", OpClass.IMPORT)),
)
