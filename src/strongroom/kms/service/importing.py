"""Bring your own key: GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial.

Also what rotation, DescribeKey and the scheduler need of imported keys: on-demand rotation to
material imported for it, ListKeyRotations entries, KeyMetadata's expiry fields, and expiry.

The import token is stateless: the wrapping private key and the token's expiry, sealed by the
key store under the root key with the key's ARN bound (``domain/imports.py``), so nothing is
stored until material is imported, and a token opens only for its own key.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from strongroom.kms import messages
from strongroom.kms.domain import imports, states
from strongroom.kms.domain.enums import KeySpec, KeyState, Origin
from strongroom.kms.domain.imports import (
    TOKEN_PURPOSE,
    ImportedMaterial,
    ImportParameters,
    ImportRequest,
    ImportType,
)
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.rotation import ON_DEMAND_LIMIT
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import (
    InvalidImportTokenException,
    KMSInternalException,
    KMSInvalidStateException,
    NotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from strongroom.kms.keystores import wrapping
from strongroom.kms.service.context import ServiceContext
from strongroom.kms.service.paging import page
from strongroom.kms.service.pipeline import Call, Operation, Response, managed_key
from strongroom.kms.storage.imports import ImportRepository, MaterialChange

_TOKEN_VERSION = b"\x01"
# One per worker process: wrapping keys are made ahead, off the event loop.
_WRAPPING_KEYS = wrapping.WrappingKeyPool()


def _repository(ctx: ServiceContext) -> ImportRepository:
    return ImportRepository(ctx.db)


def _check_external(key: KeyRecord) -> None:
    if key.origin is not Origin.EXTERNAL:
        raise UnsupportedOperationException(messages.origin_not_valid(key.arn, key.origin.value))


def get_parameters_for_import(call: Call) -> Response:
    key, ctx = call.key, call.ctx
    _check_external(key)
    algorithm, spec = imports.wrapping_choice(
        key.key_spec, call.request["WrappingAlgorithm"], call.request["WrappingKeySpec"]
    )
    wrapping_key = _WRAPPING_KEYS.take(spec.bits)
    valid_to = ImportParameters.expiry(ctx.clock.now())
    parameters = ImportParameters(
        algorithm, spec, valid_to, Secret(wrapping.wrapping_private_der(wrapping_key))
    )
    token = _TOKEN_VERSION + ctx.store.seal_secret(TOKEN_PURPOSE, key.arn, parameters.encode())
    return {
        "KeyId": key.arn,
        "ImportToken": token,
        "PublicKey": wrapping.wrapping_public_key(wrapping_key),
        "ParametersValidTo": valid_to.timestamp(),
    }


def _open_token(ctx: ServiceContext, key: KeyRecord, token: bytes) -> ImportParameters:
    """The parameters a token carries; InvalidImportTokenException for a foreign or forged one.

    A token made for another key fails its AAD check in the key store, exactly as a tampered
    one does; the store reports that as KMSInternalException, which here means a bad token.
    """
    if not token.startswith(_TOKEN_VERSION):
        raise InvalidImportTokenException()
    try:
        payload = ctx.store.unseal_secret(TOKEN_PURPOSE, key.arn, token[len(_TOKEN_VERSION) :])
    except KMSInternalException:
        raise InvalidImportTokenException() from None
    return ImportParameters.decode(payload)


def _check_no_pending_approval(ctx: ServiceContext, key: KeyRecord, now: datetime) -> None:
    """A key whose HSM lineage waits for the tenant's approval takes no material before it
    is approved (docs/adr/0009): the import is the act that lowers protection."""
    with ctx.db.read() as tx:
        pending = tx.protection.pending_for_key(key.record_id, now)
    if pending is not None:
        raise KMSInvalidStateException(
            f"{key.arn} waits for approval of protection change {pending.change_id}; key "
            "material cannot be imported before it is approved."
        )


def _check_material(spec: KeySpec, material: bytes) -> None:
    if imports.is_private_key_spec(spec):
        wrapping.check_private_key(spec.value, material)
    else:
        imports.check_material_length(spec, material)


def import_key_material(call: Call) -> Response:
    key, ctx, request = call.key, call.ctx, call.request
    _check_external(key)
    now = ctx.clock.now()
    model, valid_to = imports.expiration(
        request.get("ExpirationModel"), request.get("ValidTo"), now
    )
    symmetric_only = [m for m in ("KeyMaterialId", "KeyMaterialDescription") if m in request]
    if symmetric_only and key.key_spec is not KeySpec.SYMMETRIC_DEFAULT:
        raise ValidationException(
            f"{symmetric_only[0]} is valid only for symmetric encryption keys."
        )
    _check_no_pending_approval(ctx, key, now)
    parameters = _open_token(ctx, key, request["ImportToken"])
    parameters.check_valid(now)
    material = wrapping.unwrap(
        parameters.private_key.reveal(), parameters.algorithm.value, request["EncryptedKeyMaterial"]
    )
    _check_material(key.key_spec, material)
    material_id = ctx.store.imported_material_id(key.material_binding, material)
    wrapped = ctx.store.import_material(key.material_binding, material_id, key.key_spec, material)
    import_type = request.get("ImportType")
    decided = ImportRequest(
        material_id=material_id,
        import_type=None if import_type is None else ImportType(import_type),
        requested_id=request.get("KeyMaterialId"),
        description=request.get("KeyMaterialDescription"),
        expiration_model=model,
        valid_to=valid_to,
        at=now,
    )

    def plan(current: KeyRecord, materials: list[ImportedMaterial]) -> MaterialChange:
        states.check(OpClass.IMPORT, current.state, current.arn)
        updated, record = imports.plan_import(current, materials, decided)
        return MaterialChange(updated, put=record, wrapped=wrapped)

    updated = _repository(ctx).change(key.record_id, now, ctx.store.store_id, plan)
    assert updated is not None
    ctx.cache.put_key(updated)
    return {"KeyId": key.arn, "KeyMaterialId": material_id}


def delete_imported_key_material(call: Call) -> Response:
    key, ctx = call.key, call.ctx
    _check_external(key)
    requested = call.request.get("KeyMaterialId")
    now = ctx.clock.now()
    deleted: list[str] = []

    def plan(current: KeyRecord, materials: list[ImportedMaterial]) -> MaterialChange | None:
        states.check(OpClass.DELETE_IMPORTED, current.state, current.arn)
        wanted = requested or current.current_material_id
        found = next((m for m in materials if m.material_id == wanted), None)
        if found is None:
            if requested is not None:
                raise NotFoundException(
                    f"Key material {requested} is not associated with {current.arn}."
                )
            return None  # nothing was ever imported: nothing to delete
        deleted.append(found.material_id)
        return remove_material(current, found)

    updated = _repository(ctx).change(key.record_id, now, ctx.store.store_id, plan)
    if updated is not None:
        ctx.cache.forget_key(updated.record_id)  # with its unwrapped materials
        ctx.cache.put_key(updated)
    response: Response = {"KeyId": key.arn}
    if deleted:
        response["KeyMaterialId"] = deleted[0]
    return response


def remove_material(key: KeyRecord, material: ImportedMaterial) -> MaterialChange | None:
    """Delete one material's wrapped copy (deletion or expiry); None if it is gone already.

    Material pending rotation is not yet part of the key and is forgotten entirely; material
    the key needs keeps its record (to recognize it when imported again) and the key, unless
    it is pending deletion, becomes PendingImport.
    """
    if not material.imported:
        return None
    pending = not material.associated(key)
    state = imports.state_after_removal(key, material)
    kept = None if pending else replace(material, imported=False)
    return MaterialChange(
        replace(key, state=state), put=kept, drop=material.material_id, forget=pending
    )


def expire_if_due(ctx: ServiceContext, key_id: str, material_id: str) -> bool:
    """The scheduler's expiry: decided again under the key's lock, so it happens once."""
    now = ctx.clock.now()

    def plan(current: KeyRecord, materials: list[ImportedMaterial]) -> MaterialChange | None:
        found = next((m for m in materials if m.material_id == material_id), None)
        if found is None or found.valid_to is None or found.valid_to > now:
            return None
        return remove_material(current, found)

    return _repository(ctx).change(key_id, now, ctx.store.store_id, plan) is not None


# --- what rotation and DescribeKey need of imported keys ---------------------------------


def rotate_imported(call: Call) -> Response:
    """RotateKeyOnDemand of a symmetric imported key: to the material pending rotation."""
    ctx = call.ctx
    now = ctx.clock.now()

    def plan(current: KeyRecord, materials: list[ImportedMaterial]) -> MaterialChange:
        states.check(OpClass.ROTATION, current.state, current.arn)
        updated, rotated = imports.plan_rotation(current, materials, now, ON_DEMAND_LIMIT)
        return MaterialChange(updated, put=rotated)

    updated = _repository(ctx).change(call.key.record_id, now, ctx.store.store_id, plan)
    assert updated is not None
    ctx.cache.put_key(updated)
    return {"KeyId": updated.arn}


def list_imported_rotations(call: Call) -> Response:
    key = call.key
    materials = _repository(call.ctx).materials(key.record_id)
    if call.request.get("IncludeKeyMaterial", "ROTATIONS_ONLY") == "ROTATIONS_ONLY":
        materials = [m for m in materials if m.rotated_at is not None]
    position = {m.material_id: n for n, m in enumerate(materials)}

    def fetch(after: str | None, limit: int) -> list[ImportedMaterial]:
        start = 0 if after is None else position.get(after, len(materials)) + 1
        return materials[start : start + limit]

    items, paging = page(
        fetch, lambda m: m.material_id, call.request.get("Limit", 100), call.request.get("Marker")
    )
    return {"Rotations": [m.listing(key) for m in items], **paging}


def key_metadata(ctx: ServiceContext, key: KeyRecord) -> dict[str, object]:
    """KeyMetadata with ExpirationModel and ValidTo for keys with imported material."""
    meta = key.metadata()
    if key.origin is Origin.EXTERNAL:
        meta.update(imports.metadata(_repository(ctx).materials(key.record_id), key))
    return meta


def restored_state(ctx: ServiceContext, key: KeyRecord) -> KeyState:
    """The state CancelKeyDeletion gives: Disabled, or PendingImport while material is missing."""
    if key.origin is not Origin.EXTERNAL:
        return KeyState.DISABLED
    materials = _repository(ctx).materials(key.record_id)
    needed = [m for m in materials if m.associated(key)]
    complete = bool(needed) and all(m.imported for m in needed)
    return KeyState.DISABLED if complete else KeyState.PENDING_IMPORT


OPERATIONS = (
    Operation(
        "GetParametersForImport",
        get_parameters_for_import,
        managed_key("kms:GetParametersForImport", OpClass.IMPORT),
        blocking=True,  # may generate an RSA-4096 wrapping key (up to ~1 s)
    ),
    Operation(
        "ImportKeyMaterial",
        import_key_material,
        managed_key("kms:ImportKeyMaterial", OpClass.IMPORT),
        blocking=True,  # an RSA private-key operation
    ),
    Operation(
        "DeleteImportedKeyMaterial",
        delete_imported_key_material,
        managed_key("kms:DeleteImportedKeyMaterial", OpClass.DELETE_IMPORTED),
    ),
)
