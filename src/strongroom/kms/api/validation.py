"""Request validation the way AWS does it: messages, and the decoders of scalar shapes.

:mod:`strongroom.kms.api.model` compiles each shape once into a tree of closures with the
signature of :data:`Decoder`: ``(value, path, errors) -> converted value``; the scalar ones are
built here. A value of the wrong JSON type raises
:class:`SerializationException` at once (AWS rejects such a body before validating it);
constraint violations are appended to ``errors`` so that they can be reported together.

Messages follow the AWS (Coral) conventions:

* ``Value 'v' at 'path' failed to satisfy constraint: <constraint>``; ``Value null at`` for a
  missing required member; ``Value at`` (nothing echoed) for blobs, ``sensitive`` shapes and
  structures. Echoed values are cut at :data:`MAX_RENDERED_CHARS` characters.
* Paths are member names with the first letter lowercased, joined by dots. An element of a
  list of structures is ``tags.1.member`` (1-based), a structure value of a map is
  ``map.<key>.member``.
* Lists and maps of scalars are reported once, at the container, listing every constraint of
  the element shape: ``Member must satisfy constraint: [...]`` for lists, ``Map keys must
  satisfy constraint: [...]`` then ``Map value must satisfy constraint: [...]`` for maps. A
  null element adds ``Member must not be null`` to that list.
* The constraints of one value are reported in the order length (or value), enum, pattern;
  a container's own size before its elements.
"""

from __future__ import annotations

import binascii
import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pybase64 import b64decode

from strongroom.kms import messages
from strongroom.kms.errors import SerializationException

Decoder = Callable[[object, str, list[str]], object]
Render = Callable[[Any], str]
Shape = Mapping[str, Any]

MAX_REPORTED_ERRORS: Final = 10
"""AWS stops collecting violations at ten ("10 validation errors detected: ...")."""
MAX_RENDERED_CHARS: Final = 256
NOT_NULL: Final = messages.NOT_NULL


# pybase64's decoder (SIMD, ADR 39) in its validating mode: see _blob.
fast_b64decode: Final[Callable[[str], bytes]] = functools.partial(b64decode, validate=True)


def camel(name: str) -> str:
    """The path segment AWS uses for a member: its name with the first letter lowercased."""
    return name[:1].lower() + name[1:]


def violation(errors: list[str], shown: str, path: str, constraint: str) -> None:
    """Record one violation; ``shown`` is ``" 'value'"``, ``" null"`` or ``""`` (not echoed)."""
    if len(errors) < MAX_REPORTED_ERRORS:
        errors.append(messages.violation(shown, path, constraint))


def _shown(value: object, render: Render | None) -> str:
    if render is None:
        return ""
    text = render(value)
    if len(text) > MAX_RENDERED_CHARS:
        text = text[:MAX_RENDERED_CHARS] + "..."
    return f" '{text}'"


def render_scalar(value: object) -> str:
    """Java's ``toString``, which AWS uses: strings bare, booleans in lower case."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def shape_error(value: object, otherwise: str) -> SerializationException:
    """AWS's message for a JSON object or array where they do not belong, else ``otherwise``."""
    if isinstance(value, dict):
        return SerializationException("Start of structure or map found where not expected.")
    if isinstance(value, list):
        return SerializationException("Start of list found where not expected")
    return SerializationException(otherwise)


def _type_error(value: object, target: str) -> SerializationException:
    """A scalar of the wrong JSON type; ``target`` is AWS's Java type with its article (sic)."""
    if isinstance(value, bool):
        source = "class java.lang.Boolean"
    elif isinstance(value, int | float):
        source = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
    else:
        source = "class java.lang.String"
    return shape_error(value, f"{source} can not be converted to {target}")


# --- scalars -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scalar:
    """A compiled scalar shape.

    ``decoder`` checks the JSON type, converts, and reports violated constraints at the path it
    is given; ``constraints`` lists every constraint of the shape, for container messages;
    ``render`` is ``None`` for values that must never be echoed.
    """

    decoder: Decoder
    constraints: tuple[str, ...]
    render: Render | None


@dataclass(frozen=True, slots=True)
class Bounds:
    """The min/max of a shape, on its length or its value (the ``unit`` given to :meth:`of`)."""

    low: float
    high: float
    constraints: list[str]
    too_low: str
    too_high: str

    @classmethod
    def of(cls, shape: Shape, unit: str) -> Bounds:
        low: float = shape.get("min", -math.inf)
        high: float = shape.get("max", math.inf)
        too_low = messages.bound_constraint(unit, "greater", low)
        too_high = messages.bound_constraint(unit, "less", high)
        constraints = ([too_high] if "max" in shape else []) + ([too_low] if "min" in shape else [])
        return cls(low, high, constraints, too_low, too_high)

    def problems(self, size: float) -> list[str]:
        return [self.too_low] if size < self.low else [self.too_high] if size > self.high else []


# Each decoder below checks the common, valid case inline and leaves the slow path (building
# messages) to helpers: decode() is on the hot path of every request.


def _string(shape: Shape) -> Scalar:
    sized = Bounds.of(shape, "length")
    low, high = sized.low, sized.high
    constraints = list(sized.constraints)
    allowed: frozenset[str] | None = None
    regex: re.Pattern[str] | None = None
    enum_message = pattern_message = ""
    if "enum" in shape:
        allowed = frozenset(shape["enum"])
        enum_message = messages.enum_constraint(shape["enum"])
        constraints.append(enum_message)
    if "pattern" in shape:
        # AWS matches the whole value (Java's Pattern.matches) whether or not the model anchors
        # the pattern, and \w, \d, \s are ASCII classes in Java: hence fullmatch and re.ASCII.
        regex = re.compile(shape["pattern"], re.ASCII)
        pattern_message = messages.pattern_constraint(shape["pattern"])
        constraints.append(pattern_message)
    render = None if shape.get("sensitive") else render_scalar

    def problems(value: str) -> list[str]:
        found = sized.problems(len(value))
        if allowed is not None and value not in allowed:
            found.append(enum_message)
        if regex is not None and regex.fullmatch(value) is None:
            found.append(pattern_message)
        return found

    def decode(value: object, path: str, errors: list[str]) -> object:
        if type(value) is not str:
            raise _type_error(value, "an String")
        if (
            not low <= len(value) <= high
            or (allowed is not None and value not in allowed)
            or (regex is not None and regex.fullmatch(value) is None)
        ):
            report(errors, problems(value), value, render, path)
        return value

    def decode_unconstrained(value: object, path: str, errors: list[str]) -> object:
        if type(value) is not str:
            raise _type_error(value, "an String")
        return value

    return Scalar(decode if constraints else decode_unconstrained, tuple(constraints), render)


def _blob(shape: Shape) -> Scalar:
    """Base64 text to bytes; min/max apply to the bytes. Blob values are never echoed: the
    text may be plaintext that a client forgot to encode.

    pybase64 (SIMD: 0.5 µs for 1 KiB, where ``binascii`` takes 3) decodes first. It accepts a
    subset of what ``binascii``'s strict mode accepts, with the same bytes
    (``tests/unit/kms/api/test_validation.py``); what it refuses, strict mode decides on, and
    words the error as before."""
    sized = Bounds.of(shape, "length")
    low, high = sized.low, sized.high

    def decode(value: object, path: str, errors: list[str]) -> object:
        if type(value) is not str:
            raise _type_error(value, "a Blob")
        try:
            out = fast_b64decode(value)
        except ValueError:  # binascii.Error, or a non-ASCII character
            out = strict_b64decode(value, path)
        if not low <= len(out) <= high:
            report(errors, sized.problems(len(out)), value, None, path)
        return out

    return Scalar(decode, tuple(sized.constraints), None)


def strict_b64decode(value: str, path: str) -> bytes:
    """``binascii``'s strict Base64, or the SerializationException AWS answers."""
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise _base64_error(value, path) from None


def _base64_error(value: str, path: str) -> SerializationException:
    if len(value) % 4:
        reason = f"Base64 encoded length is expected a multiple of 4 bytes but found: {len(value)}"
    else:
        reason = "Invalid Base64 character"
    return SerializationException(f"Value at '{path}' can not be converted to a Blob: {reason}")


def _number(shape: Shape) -> Scalar:
    integral = shape["type"] in ("integer", "long")
    target = "an " + shape["type"].capitalize()
    sized = Bounds.of(shape, "value")
    low, high = sized.low, sized.high

    def decode(value: object, path: str, errors: list[str]) -> object:
        kind = type(value)
        if kind is not int and (kind is not float or integral):
            if kind is float:  # AWS would truncate it; botocore never sends one
                raise SerializationException(f"Fractional number can not be converted to {target}")
            raise _type_error(value, target)
        if not low <= value <= high:  # type: ignore[operator]  # int or float, checked above
            report(errors, sized.problems(value), value, render_scalar, path)  # type: ignore[arg-type]
        return value

    return Scalar(decode, tuple(sized.constraints), render_scalar)


def _boolean(shape: Shape) -> Scalar:
    def decode(value: object, path: str, errors: list[str]) -> object:
        if type(value) is bool:
            return value
        if type(value) is str:  # AWS upper-cases the value it echoes here
            text = value[:MAX_RENDERED_CHARS].upper()
            raise SerializationException(f"'{text}' can not be converted to an Boolean")
        raise _type_error(value, "an Boolean")

    return Scalar(decode, (), render_scalar)


def _timestamp(shape: Shape) -> Scalar:
    """JSON 1.1 timestamps are epoch seconds, possibly fractional; they become aware UTC."""

    def decode(value: object, path: str, errors: list[str]) -> object:
        if type(value) is not int and type(value) is not float:
            raise _type_error(value, "a Timestamp")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise SerializationException(
                f"Value at '{path}' can not be converted to a Timestamp: out of range"
            ) from None

    return Scalar(decode, (), render_scalar)


SCALARS: Final[dict[str, Callable[[Shape], Scalar]]] = {
    "string": _string,
    "blob": _blob,
    "integer": _number,
    "long": _number,
    "float": _number,
    "double": _number,
    "boolean": _boolean,
    "timestamp": _timestamp,
}


def report(
    errors: list[str], found: list[str], value: object, render: Render | None, path: str
) -> None:
    """Record the violated ``constraints`` of one value at ``path``."""
    shown = _shown(value, render)
    for constraint in found:
        violation(errors, shown, path, constraint)
