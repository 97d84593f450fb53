"""The KMS API contract, taken from botocore's service model rather than written by hand.

:class:`ServiceModel` loads ``kms/2014-11-01/service-2.json`` once; for each operation it
compiles the input shape once into a :class:`RequestDecoder`, a tree of small closures that
check JSON types, convert blobs and timestamps, and validate constraints with the messages
AWS uses (see :mod:`strongroom.kms.api.validation` for the conventions).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from typing import Any, cast

from botocore.loaders import Loader

from strongroom.kms import messages
from strongroom.kms.api.validation import (
    NOT_NULL,
    SCALARS,
    Bounds,
    Decoder,
    Render,
    Scalar,
    Shape,
    camel,
    render_scalar,
    report,
    shape_error,
    violation,
)
from strongroom.kms.errors import (
    UnknownOperationException,
    ValidationException,
)


class RequestDecoder:
    """Decodes and validates the request body of one operation."""

    __slots__ = ("_root", "operation")

    def __init__(self, operation: str, root: Decoder) -> None:
        self.operation = operation
        self._root = root

    def decode(self, body: dict[str, object]) -> dict[str, object]:
        """Validate a parsed JSON request against the operation's input shape and return it with
        blob members base64-decoded to bytes and timestamp members converted to datetime (UTC).

        The result is a new dict holding only the members of the model that are present and
        not null; unknown members are dropped. Raises ValidationException (every constraint
        violation, up to ten) or SerializationException (the first JSON type error).
        """
        if type(body) is not dict:
            raise shape_error(body, "Expected null")
        errors: list[str] = []
        out = self._root(body, "", errors)
        if errors:
            raise ValidationException(messages.validation_errors(errors))
        return cast("dict[str, object]", out)  # the root shape is a structure


class ServiceModel:
    """The KMS service model, loaded once.

    ``botocore.loaders.Loader`` reads the JSON directly: a botocore Session would cost far
    more and bring in credentials and endpoint machinery that a server does not need.
    """

    def __init__(self, description: Mapping[str, Any]) -> None:
        self._operations: Mapping[str, Any] = description["operations"]
        shapes: Mapping[str, Shape] = description["shapes"]
        self._compiler = _ShapeCompiler(shapes)
        self._decoders: dict[str, RequestDecoder] = {}
        self._lock = threading.Lock()  # the compiler is not thread-safe; compiling is rare
        self._operation_names = tuple(self._operations)
        self._error_codes = frozenset(
            name for name, shape in shapes.items() if shape.get("exception")
        )

    @classmethod
    def load(cls) -> ServiceModel:
        """The model; loaded on the first call, the same object afterwards."""
        return _load()

    @property
    def operation_names(self) -> tuple[str, ...]:
        """Every operation of the model, in the model's order."""
        return self._operation_names

    @property
    def error_codes(self) -> frozenset[str]:
        """The names of the exception shapes: KMS error codes are exactly these names."""
        return self._error_codes

    def request_decoder(self, operation: str) -> RequestDecoder:
        """The decoder of ``operation``'s input, compiled on first use."""
        decoder = self._decoders.get(operation)
        if decoder is not None:
            return decoder
        spec = self._operations.get(operation)
        if spec is None:
            raise UnknownOperationException()
        with self._lock:
            # Every KMS operation has an input; an operation without one would accept {}.
            root = (
                self._compiler.decoder(spec["input"]["shape"])
                if "input" in spec
                else self._compiler.structure({"members": {}})
            )
            decoder = self._decoders[operation] = RequestDecoder(operation, root)
        return decoder

    def extension_decoder(self, operation: str, members: Mapping[str, str]) -> RequestDecoder:
        """The decoder of a Strongroom extension operation (not in the model) whose input
        members are validated by the model's shapes, named in ``members``."""
        with self._lock:
            root = self._compiler.structure(
                {"members": {name: {"shape": shape} for name, shape in members.items()}}
            )
        return RequestDecoder(operation, root)


@functools.cache
def _load() -> ServiceModel:
    # AWS's model only: never the extension operations that AWS_DATA_PATH may add for clients.
    loader = Loader(include_default_extras=False)
    return ServiceModel(loader.load_service_model("kms", "service-2"))


def _satisfy(prefix: str, scalar: Scalar | None) -> tuple[str, str]:
    """A container's message for bad scalar elements, without and with a null element."""
    constraints = scalar.constraints if scalar is not None else ()
    return (
        f"{prefix} must satisfy constraint: [{', '.join(constraints)}]",
        f"{prefix} must satisfy constraint: [{', '.join((*constraints, NOT_NULL))}]",
    )


class _ShapeCompiler:
    """Compiles the shapes of one model; each shape once, shared between operations.

    Elements of lists and maps that are scalars report once, at the container; their own
    reports go to a scratch list that only tells whether there were any.
    """

    def __init__(self, shapes: Mapping[str, Shape]) -> None:
        self._shapes = shapes
        self._decoders: dict[str, Decoder] = {}
        self._compiling: set[str] = set()

    def decoder(self, name: str) -> Decoder:
        found = self._decoders.get(name)
        if found is not None:
            return found
        if name in self._compiling:  # none in KMS; supporting them would cost a level of calls
            raise ValueError(f"recursive shape {name!r} is not supported")
        self._compiling.add(name)
        try:
            shape = self._shapes[name]
            kind = shape["type"]
            if kind in SCALARS:
                decoder = SCALARS[kind](shape).decoder
            elif kind == "structure":
                decoder = self.structure(shape)
            elif kind == "list":
                decoder = self._list(name, shape)
            elif kind == "map":
                decoder = self._map(name, shape)
            else:
                raise ValueError(f"shape {name!r} has unsupported type {kind!r}")
        finally:
            self._compiling.discard(name)
        self._decoders[name] = decoder
        return decoder

    def _scalar(self, name: str) -> Scalar | None:
        shape = self._shapes[name]
        factory = SCALARS.get(shape["type"])
        return factory(shape) if factory is not None else None

    def _render(self, name: str) -> Render | None:
        """How AWS prints a value of the shape (Java's toString); ``None``: it must not."""
        shape = self._shapes[name]
        if shape["type"] == "list":
            item = self._render(shape["member"]["shape"])
            if item is None:
                return None
            return lambda v: (
                "[" + ", ".join(render_scalar(x) if x is None else item(x) for x in v) + "]"
            )
        if shape["type"] == "map":
            key = self._render(shape["key"]["shape"])
            value = self._render(shape["value"]["shape"])
            if key is None or value is None:
                return None
            return lambda v: (
                "{"
                + ", ".join(
                    f"{key(k)}={render_scalar(x) if x is None else value(x)}" for k, x in v.items()
                )
                + "}"
            )
        scalar = self._scalar(name)
        return scalar.render if scalar is not None else None

    def structure(self, shape: Shape) -> Decoder:
        required = set(shape.get("required", ()))
        members = tuple(
            (name, camel(name), self.decoder(member["shape"]), name in required)
            for name, member in shape["members"].items()
        )

        def decode(value: object, path: str, errors: list[str]) -> object:
            if type(value) is not dict:
                raise shape_error(value, "Expected null")
            out: dict[str, object] = {}
            # Members not in the model are ignored, as AWS does; null means absent.
            for name, segment, member, is_required in members:
                item = value.get(name)
                if item is not None:
                    out[name] = member(item, f"{path}.{segment}" if path else segment, errors)
                elif is_required:
                    violation(errors, " null", f"{path}.{segment}" if path else segment, NOT_NULL)
            return out

        return decode

    def _list(self, name: str, shape: Shape) -> Decoder:
        sized = Bounds.of(shape, "length")
        low, high = sized.low, sized.high
        render = self._render(name)
        element_name = shape["member"]["shape"]
        element = self.decoder(element_name)
        scalar = self._scalar(element_name)
        bad, bad_or_null = _satisfy("Member", scalar)

        def decode_scalars(value: object, path: str, errors: list[str]) -> object:
            if type(value) is not list:
                raise shape_error(value, "Expected list or null")
            scratch: list[str] = []  # the elements' own reports: only whether there are any
            out = [element(item, path, scratch) for item in value if item is not None]
            has_null = len(out) != len(value)
            if scratch or has_null or not low <= len(value) <= high:
                found = sized.problems(len(value))
                if scratch or has_null:
                    found.append(bad_or_null if has_null else bad)
                report(errors, found, value, render, path)
            return out

        def decode(value: object, path: str, errors: list[str]) -> object:
            if type(value) is not list:
                raise shape_error(value, "Expected list or null")
            if not low <= len(value) <= high:
                report(errors, sized.problems(len(value)), value, render, path)
            out = []
            for index, item in enumerate(value, 1):
                if item is None:
                    violation(errors, " null", f"{path}.{index}.member", NOT_NULL)
                else:
                    out.append(element(item, f"{path}.{index}.member", errors))
            return out

        return decode_scalars if scalar is not None else decode

    def _map(self, name: str, shape: Shape) -> Decoder:
        sized = Bounds.of(shape, "length")
        low, high = sized.low, sized.high
        render = self._render(name)
        key_name, value_name = shape["key"]["shape"], shape["value"]["shape"]
        key_scalar = self._scalar(key_name)
        if key_scalar is None:
            raise ValueError(f"map {name!r} has a key that is not a scalar")
        key = self.decoder(key_name)
        bad_key = _satisfy("Map keys", key_scalar)[0]
        element = self.decoder(value_name)
        scalar = self._scalar(value_name)
        bad, bad_or_null = _satisfy("Map value", scalar)

        def decode(value: object, path: str, errors: list[str]) -> object:
            if type(value) is not dict:
                raise shape_error(value, "Expected map or null")
            out: dict[object, object] = {}
            key_scratch: list[str] = []
            scratch: list[str] = []
            has_null = False
            for raw_key, item in value.items():
                map_key = key(raw_key, path, key_scratch)
                if item is None:
                    if scalar is not None:
                        has_null = True
                    else:
                        violation(errors, " null", f"{path}.{raw_key}.member", NOT_NULL)
                elif scalar is not None:
                    out[map_key] = element(item, path, scratch)
                else:
                    out[map_key] = element(item, f"{path}.{raw_key}.member", errors)
            if key_scratch or scratch or has_null or not low <= len(value) <= high:
                found = sized.problems(len(value))
                if key_scratch:
                    found.append(bad_key)
                if scratch or has_null:
                    found.append(bad_or_null if has_null else bad)
                report(errors, found, value, render, path)
            return out

        if not (
            _is_plain_string(self._shapes[key_name]) and _is_plain_string(self._shapes[value_name])
        ):
            return decode

        def decode_strings(value: object, path: str, errors: list[str]) -> object:
            """Fast path for string-to-string maps such as EncryptionContext."""
            if type(value) is dict and low <= len(value) <= high:
                for map_key, item in value.items():
                    if type(map_key) is not str or type(item) is not str:
                        break
                else:
                    return dict(value)
            return decode(value, path, errors)  # raises or reports

        return decode_strings


def _is_plain_string(shape: Shape) -> bool:
    """A string shape without constraints: any JSON string is valid as it is."""
    return shape["type"] == "string" and not shape.keys() & {"min", "max", "enum", "pattern"}
