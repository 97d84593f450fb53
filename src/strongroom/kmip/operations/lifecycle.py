"""Create (symmetric keys), Activate, Revoke and Destroy.

Create is ``kms:CreateKey``; Activate ``kms:EnableKey``, Revoke ``kms:DisableKey`` (both on
the key-state table's EnableKey/DisableKey row); Destroy ``kms:ScheduleKeyDeletion``, at once
and for good (docs/adr/0023). KMIP's own lifecycle rules are in ``kms/domain/kmip.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from strongroom.kmip import attributes as a
from strongroom.kmip.creation import check_template, create_object, spec_of
from strongroom.kmip.enums import ObjectType, RevocationReason
from strongroom.kmip.enums import Operation as Code
from strongroom.kmip.errors import KmipInvalidField, KmipMissingData, KmipPermissionDenied
from strongroom.kmip.object_view import symmetric_usage
from strongroom.kmip.objects import KmipObjects
from strongroom.kmip.operation import KEY_ID, KmipOperation, answer, payload_of
from strongroom.kmip.tags import Tag
from strongroom.kmip.ttlv import Item, ItemType
from strongroom.kms.domain import kmip as lifecycle
from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.kmip import KmipObject, ObjectKind, reported_state, unique_id
from strongroom.kms.domain.states import OpClass
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response, managed_key
from strongroom.kms.storage.kmip import KmipObjectGone


def enum_child(payload: Item | None, tag: Tag, what: str) -> int:
    found = None if payload is None else payload.find(tag)
    if found is None:
        raise KmipMissingData(f"{what} is missing.")
    if found.type is not ItemType.ENUMERATION:
        raise KmipInvalidField(f"{what} must be an enumeration.")
    return found.number


def uid_answer(call: Call, public: bool = False) -> Response:
    return answer([Item.text(Tag.UNIQUE_IDENTIFIER, unique_id(call.key.key_id, public))])


class Lifecycle:
    def __init__(self, objects: KmipObjects) -> None:
        self._objects = objects

    def create(self, call: Call) -> Response:
        payload = payload_of(call)
        if enum_child(payload, Tag.OBJECT_TYPE, "Object Type") != ObjectType.SYMMETRIC_KEY:
            raise KmipInvalidField("Create makes symmetric keys; use CreateKeyPair for RSA.")
        attributes = a.parse_template(payload, Tag.TEMPLATE_ATTRIBUTE, Tag.ATTRIBUTES)
        spec = spec_of(attributes)
        if spec.value.startswith("RSA"):
            raise KmipInvalidField("RSA keys are made with CreateKeyPair.")
        template = check_template(call, attributes)
        usage = symmetric_usage(spec)
        record = create_object(
            call,
            self._objects,
            spec=spec,
            usage=usage,
            kind=ObjectKind.SYMMETRIC_KEY,
            template=template,
        )
        return answer(
            [
                Item.enum(Tag.OBJECT_TYPE, ObjectType.SYMMETRIC_KEY),
                Item.text(Tag.UNIQUE_IDENTIFIER, record.key_id),
            ]
        )

    def _change(
        self,
        call: Call,
        decide: Callable[[KmipObject, KeyRecord], tuple[KmipObject, KeyState | None]],
    ) -> None:
        def mutate(obj: KmipObject, key: KeyRecord) -> tuple[KmipObject, KeyState | None]:
            try:
                return decide(obj, key)
            except lifecycle.LifecycleError as error:
                raise KmipPermissionDenied(str(error)) from None

        try:
            obj, key = self._objects.repository.update(
                call.key.key_id, call.ctx.clock.now(), mutate
            )
        except KmipObjectGone:
            raise KmipPermissionDenied("The object was destroyed meanwhile.") from None
        call.ctx.cache.put_key(key)
        self._objects.put(obj)

    def activate(self, call: Call) -> Response:
        self._objects.of(call.key)
        now = call.ctx.clock.now()

        def decide(obj: KmipObject, key: KeyRecord) -> tuple[KmipObject, KeyState | None]:
            state, kms_state = lifecycle.activate(reported_state(key.state, obj.state))
            return replace(obj, state=state, activated_at=now, changed_at=now), kms_state

        self._change(call, decide)
        return uid_answer(call)

    def revoke(self, call: Call) -> Response:
        self._objects.of(call.key)
        payload = payload_of(call)
        reason = None if payload is None else payload.find(Tag.REVOCATION_REASON)
        if reason is None or reason.type is not ItemType.STRUCTURE:
            raise KmipMissingData("Revocation Reason is missing.")
        code = enum_child(reason, Tag.REVOCATION_REASON_CODE, "Revocation Reason Code")
        compromised = code in (RevocationReason.KEY_COMPROMISE, RevocationReason.CA_COMPROMISE)
        now = call.ctx.clock.now()

        def decide(obj: KmipObject, key: KeyRecord) -> tuple[KmipObject, KeyState | None]:
            state, kms_state = lifecycle.revoke(reported_state(key.state, obj.state), compromised)
            return replace(obj, state=state, deactivated_at=now, changed_at=now), kms_state

        self._change(call, decide)
        return uid_answer(call)

    def destroy(self, call: Call) -> Response:
        self._objects.of(call.key)
        key = call.key

        def check(obj: KmipObject) -> None:
            try:
                lifecycle.check_destroy(reported_state(key.state, obj.state))
            except lifecycle.LifecycleError as error:
                raise KmipPermissionDenied(str(error)) from None

        try:
            self._objects.repository.destroy(key.key_id, call.ctx.clock.now(), check)
        except KmipObjectGone:
            raise KmipPermissionDenied("The object was destroyed meanwhile.") from None
        call.ctx.cache.forget_key(key.key_id)
        return uid_answer(call, bool(call.request.get("Public")))

    def operations(self) -> tuple[KmipOperation, ...]:
        return (
            KmipOperation(
                Code.CREATE,
                Operation("KmipCreate", self.create, action="kms:CreateKey"),
                names_object=False,
            ),
            KmipOperation(
                Code.ACTIVATE,
                Operation(
                    "KmipActivate",
                    self.activate,
                    managed_key("kms:EnableKey", OpClass.ENABLE_DISABLE),
                ),
            ),
            KmipOperation(
                Code.REVOKE,
                Operation(
                    "KmipRevoke", self.revoke, managed_key("kms:DisableKey", OpClass.ENABLE_DISABLE)
                ),
            ),
            KmipOperation(
                Code.DESTROY,
                Operation(
                    "KmipDestroy",
                    self.destroy,
                    (
                        KeyAccess(
                            KEY_ID,
                            "kms:ScheduleKeyDeletion",
                            OpClass.SCHEDULE_DELETION,
                            aliases=False,
                            fresh=True,
                        ),
                    ),
                ),
            ),
        )
