"""A quicker ``__init__`` for the frozen, slotted dataclasses built on every request.

A frozen dataclass's generated ``__init__`` stores each field with ``object.__setattr__``
(a global lookup, an attribute lookup and a call per field): an audit event of 13 fields took
1.7 µs to build, a third of it the fields. :func:`quick_init` gives the class an ``__init__``
with the same signature and defaults that stores each field through its slot's descriptor
instead (0.7 µs). The class stays frozen: assigning a field afterwards still raises
``FrozenInstanceError``, and ``__eq__``, ``__repr__``, ``replace`` are the dataclass's own.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, cast

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Replace ``cls.__init__`` (a frozen dataclass with ``slots=True``, whose fields all are
    ``init`` fields without a ``default_factory``, and no ``__post_init__``)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a frozen dataclass with slots")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__")
    namespace: dict[str, Any] = {}
    signature, body = ["self"], []
    for index, field in enumerate(dataclasses.fields(cast(Any, cls))):
        if not field.init or field.kw_only or field.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{field.name} is not a plain init field")
        namespace[f"_set{index}"] = cls.__dict__[field.name].__set__
        if field.default is dataclasses.MISSING:
            signature.append(field.name)
        else:
            namespace[f"_default{index}"] = field.default
            signature.append(f"{field.name}=_default{index}")
        body.append(f"    _set{index}(self, {field.name})")
    source = f"def __init__({', '.join(signature)}):\n" + "\n".join(body or ["    pass"])
    exec(source, namespace)  # noqa: S102 - our own field names, as dataclasses does
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
