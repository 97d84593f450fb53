"""Which request members an audit record may show: an allow-list derived from botocore's model.

A member is shown only if its shape, and everything inside it, is neither marked
``sensitive`` by the model (Plaintext, KeyStorePassword, XKS proxy credentials...) nor a blob
(ciphertexts, wrapped key material, import tokens, messages to sign, public keys: bytes an
auditor does not read and that may be secret). A shape that is new in a newer model is shown
only if it is neither, so ``SECRET_SHAPES`` lists shapes the model fails to mark (none today:
grant tokens are not secrets, see docs/adr/0005).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from botocore.loaders import Loader

# Shapes the model does not mark sensitive that must never be audited all the same.
SECRET_SHAPES: frozenset[str] = frozenset()
_SCALARS = frozenset({"string", "integer", "long", "boolean", "timestamp", "double", "float"})

# A plan: None keeps a scalar; a dict keeps the listed members of a structure; a list
# ("items", plan) or ("values", plan) keeps the elements of a list or the values of a map.
Plan = dict[str, Any] | tuple[str, Any] | None
_HIDDEN = object()


def _plan(shapes: Mapping[str, Any], name: str, depth: int = 0) -> Plan | object:
    shape = shapes[name]
    if shape.get("sensitive") or name in SECRET_SHAPES or depth > 8:
        return _HIDDEN
    kind = shape["type"]
    if kind in _SCALARS:
        return None
    if kind == "structure":
        members = {}
        for member, ref in shape.get("members", {}).items():
            sub = _plan(shapes, ref["shape"], depth + 1)
            if sub is not _HIDDEN:
                members[member] = sub
        return members or _HIDDEN
    if kind == "list":
        sub = _plan(shapes, shape["member"]["shape"], depth + 1)
        return _HIDDEN if sub is _HIDDEN else ("items", sub)
    if kind == "map":
        key = _plan(shapes, shape["key"]["shape"], depth + 1)
        value = _plan(shapes, shape["value"]["shape"], depth + 1)
        return _HIDDEN if _HIDDEN in (key, value) else ("values", value)
    return _HIDDEN  # blob, and anything unknown


@cache
def operation_plans() -> dict[str, dict[str, Any]]:
    """For each KMS operation, the plan of its request's readable members."""
    model = Loader().load_service_model("kms", "service-2")
    shapes = model["shapes"]
    plans: dict[str, dict[str, Any]] = {}
    for name, operation in model["operations"].items():
        input_ref = operation.get("input")
        plan = {} if input_ref is None else _plan(shapes, input_ref["shape"])
        plans[name] = plan if isinstance(plan, dict) else {}
    return plans


def extension_plans(extensions: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, Any]]:
    """Plans for Strongroom's extension operations, from the model shapes of their members
    (the same shapes that validate them), so their events show their parameters too."""
    shapes = Loader().load_service_model("kms", "service-2")["shapes"]
    plans: dict[str, dict[str, Any]] = {}
    for name, members in extensions.items():
        plan = {}
        for member, shape in members.items():
            sub = _plan(shapes, shape)
            if sub is not _HIDDEN:
                plan[member] = sub
        plans[name] = plan
    return plans


_FLAT_MAP = ("values", None)  # a map of scalars (EncryptionContext): kept as it is


def _apply(plan: Plan, value: Any) -> Any:
    if plan is None or (plan == _FLAT_MAP and isinstance(value, Mapping)):
        return value
    if isinstance(plan, dict):
        if not isinstance(value, Mapping):
            return None
        return {k: _apply(plan[k], v) for k, v in value.items() if k in plan}
    kind, sub = plan
    if kind == "items" and isinstance(value, list | tuple):
        return [_apply(sub, item) for item in value]
    if kind == "values" and isinstance(value, Mapping):
        return {k: _apply(sub, v) for k, v in value.items()}
    return None


class RequestParameters:
    """Picks the readable members of a validated request (cheap: runs on every request)."""

    def __init__(self, plans: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._plans = operation_plans() if plans is None else plans

    def select(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        plan = self._plans.get(operation)
        if not plan:
            return {}
        # Scalars (most members) are taken as they are, without a call per member; a loop,
        # not a comprehension (its own frame on every request).
        selected = {}
        for k, v in request.items():
            if k in plan:
                sub = plan[k]
                selected[k] = v if sub is None else _apply(sub, v)
        return selected
