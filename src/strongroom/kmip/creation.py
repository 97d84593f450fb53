"""Making a KMIP object: checking the client's attributes, then the KMS key, its material and
the KMIP object written in one transaction (with the call's audit event, ADR 6)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from strongroom.kmip import attributes as a
from strongroom.kmip.attributes import Attribute
from strongroom.kmip.errors import KmipInvalidField, KmipMissingData, KmipPermissionDenied
from strongroom.kmip.object_view import PUBLIC_PREFIX, spec_for
from strongroom.kmip.objects import KmipObjects
from strongroom.kms.domain import key_specs
from strongroom.kms.domain.enums import KeySpec, KeyState, KeyUsage, Origin
from strongroom.kms.domain.ids import new_key_id, new_material_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.kmip import KmipObject, KmipState, ObjectKind
from strongroom.kms.service.keys import default_key_policy
from strongroom.kms.service.pipeline import Call

# Attributes only the server sets; a request that names one is refused.
SERVER_ONLY = frozenset(
    {
        a.UNIQUE_IDENTIFIER,
        a.OBJECT_TYPE,
        a.STATE,
        a.INITIAL_DATE,
        a.DEACTIVATION_DATE,
        a.LAST_CHANGE_DATE,
        a.SENSITIVE,
        a.EXTRACTABLE,
    }
)
# Attributes taken at creation (besides the client-modifiable and custom ones).
_AT_CREATION = frozenset({a.ALGORITHM, a.LENGTH, a.USAGE_MASK, a.ACTIVATION_DATE})


@dataclass(frozen=True, slots=True)
class Template:
    """The checked attributes of a creation request."""

    stored: tuple[Attribute, ...]  # kept with the object (names, groups, mask, custom)
    activate: bool


def check_template(call: Call, attributes: list[Attribute]) -> Template:
    stored: list[Attribute] = []
    activate = False
    for attribute in attributes:
        name = attribute.name
        if name in SERVER_ONLY:
            raise KmipPermissionDenied(f"{name} is set by the server.")
        if name == a.NAME:
            a.name_text(attribute)
        if name == a.ACTIVATION_DATE:
            when = attribute.value.value
            activate = when <= call.ctx.clock.now()  # type: ignore[operator]
            continue
        if name in (a.ALGORITHM, a.LENGTH):
            continue
        if name in a.CLIENT_MODIFIABLE or name == a.USAGE_MASK or a.is_custom(name):
            stored.append(Attribute(name, attribute.value))
            continue
        if name not in _AT_CREATION:
            raise KmipInvalidField(f"Attribute {name} is not supported.")
    return Template(tuple(stored), activate)


def spec_of(attributes: list[Attribute], default_length: int | None = None) -> KeySpec:
    algorithm = a.integer(a.single(attributes, a.ALGORITHM))
    length = a.integer(a.single(attributes, a.LENGTH)) or default_length
    if algorithm is None or length is None:
        raise KmipMissingData("Cryptographic Algorithm and Cryptographic Length are required.")
    return spec_for(algorithm, length)


def names_of(stored: tuple[Attribute, ...]) -> tuple[str, ...]:
    return tuple(a.name_text(x) for x in stored if x.name == a.NAME)


def create_object(
    call: Call,
    objects: KmipObjects,
    *,
    spec: KeySpec,
    usage: KeyUsage,
    kind: ObjectKind,
    template: Template,
    public_template: Template | None = None,
    material: Callable[[KeyRecord], bytes] | None = None,
) -> KeyRecord:
    """The key (Enabled when activated, else Disabled: Pre-Active), its material (new, or
    ``material(record)``, the client's material wrapped, for Register) and its KMIP object,
    written together. The KMS holds the material either way: origin AWS_KMS."""
    ctx = call.ctx
    now = ctx.clock.now()
    spec, usage = key_specs.spec_and_usage(spec.value, usage.value)
    stored = list(template.stored)
    if public_template is not None:
        stored += [a.Attribute(PUBLIC_PREFIX + x.name, x.value) for x in public_template.stored]
    names = names_of(template.stored) + (
        names_of(public_template.stored) if public_template is not None else ()
    )
    record = KeyRecord(
        key_id=new_key_id(),
        account_id=call.caller.account_id,
        region=call.region,
        created_at=now,
        state=KeyState.ENABLED if template.activate else KeyState.DISABLED,
        description=("KMIP " + names[0]) if names else "KMIP object",
        key_spec=spec,
        key_usage=usage,
        origin=Origin.AWS_KMS,
        current_material_id=new_material_id(),
        policy=default_key_policy(call.caller.account_id),
    )
    assert record.current_material_id is not None
    if material is None:
        wrapped = ctx.store.new_material(record.arn, record.current_material_id, spec)
    else:
        wrapped = material(record)
    obj = KmipObject(
        key_id=record.key_id,
        account_id=record.account_id,
        kind=kind,
        state=KmipState.ACTIVE if template.activate else KmipState.PRE_ACTIVE,
        attributes=tuple(x.stored() for x in stored),
        created_at=now,
        activated_at=now if template.activate else None,
        changed_at=now,
        names=names,
    )
    call.extra_resources.append(record.arn)  # before the write: its audit event names the key
    objects.repository.create(record, ctx.store.store_id, wrapped, obj)
    ctx.cache.put_key(record)
    objects.put(obj)
    return record
