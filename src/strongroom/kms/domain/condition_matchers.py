"""Condition values by operator family: parsing them, and matching a request value.

A *matcher* answers "does this one request value match any of the policy values"; the
set logic (ForAnyValue, ForAllValues, negation, IfExists, absent keys) is ``conditions.py``.
Matchers are built once per condition at parse time; for values with policy variables,
once per distinct resolution (cached).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from strongroom.kms.domain.policy_patterns import (
    Lit,
    Resolved,
    Token,
    compile_glob,
    is_literal,
    text_of,
)

Matcher = Callable[[str], bool]

STRING, STRING_CI, LIKE, ARN = "string", "string-ci", "like", "arn"
NUMERIC, DATE, BOOL, BINARY, IP, NULL = "numeric", "date", "bool", "binary", "ip", "null"
TEXT_FAMILIES = frozenset({STRING, STRING_CI, LIKE, ARN})


# --- value parsing ----------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EPOCH = re.compile(r"-?\d+(?:\.\d+)?")


def parse_number(text: str) -> Decimal | None:
    if _NUMBER.fullmatch(text) is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return None


def parse_date(text: str) -> float | None:
    """ISO 8601 (naive means UTC) or epoch seconds -> POSIX timestamp."""
    if _EPOCH.fullmatch(text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _parse_binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_address(text: str) -> _Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _parse_network(text: str) -> _Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


# --- matchers: "does this request value match any of the policy values" ------------------


def _ordered_matcher(
    parse: Callable[[str], Any], compare: Callable[[Any, Any], bool], bounds: list[Any]
) -> Matcher:
    def match(value: str) -> bool:
        parsed = parse(value)
        return parsed is not None and any(compare(parsed, bound) for bound in bounds)

    return match


def typed_matcher(
    family: str, compare: Callable[[Any, Any], bool], values: tuple[str, ...]
) -> Matcher:
    """A matcher for the families that do not support policy variables."""
    if family == NUMERIC:
        return _ordered_matcher(parse_number, compare, [parse_number(v) for v in values])
    if family == DATE:
        return _ordered_matcher(parse_date, compare, [parse_date(v) for v in values])
    if family == BOOL:
        accepted = frozenset(v.lower() for v in values)
        return lambda value: value.lower() in accepted
    if family == BINARY:
        blobs = frozenset(_parse_binary(v) for v in values)
        return lambda value: _parse_binary(value) in blobs
    networks = [_parse_network(v) for v in values]

    def in_networks(value: str) -> bool:
        address = _parse_address(value)
        return address is not None and any(
            net is not None and net.version == address.version and address in net
            for net in networks
        )

    return in_networks


VALIDATORS: dict[str, tuple[Callable[[str], object], str]] = {
    NUMERIC: (parse_number, "a number"),
    DATE: (parse_date, "a date (ISO 8601 or epoch seconds)"),
    BOOL: (lambda v: v.lower() in ("true", "false") or None, "'true' or 'false'"),
    NULL: (lambda v: v.lower() in ("true", "false") or None, "'true' or 'false'"),
    BINARY: (_parse_binary, "base64"),
    IP: (_parse_network, "an IP address or CIDR block"),
}


def _arn_parts(tokens: Resolved) -> list[Resolved]:
    """Split at the first five ``:`` written in the policy (not those in variable values)."""
    parts: list[list[str | int | Lit]] = [[]]
    for token in tokens:
        if not isinstance(token, str):
            parts[-1].append(token)
            continue
        pieces = token.split(":", 6 - len(parts)) if len(parts) < 6 else [token]
        parts[-1].append(pieces[0])
        parts.extend([piece] for piece in pieces[1:])
    return [tuple(part) for part in parts]


def _arn_matcher(pattern: Resolved) -> Matcher:
    """ARN globs are matched segment by segment: a wildcard in one of the five first
    segments never crosses a ``:``; in the sixth (the resource) it may."""
    globs = [compile_glob(part) for part in _arn_parts(pattern)]

    def match(value: str) -> bool:
        segments = value.split(":", 5)
        return len(segments) == 6 and all(
            glob.matches(segment) for glob, segment in zip(globs, segments, strict=True)
        )

    return match


def arn_segments(tokens: tuple[Token, ...]) -> int:
    return 1 + sum(t.count(":") for t in tokens if isinstance(t, str))


def _glob_matcher(values: tuple[Resolved, ...], arn: bool) -> Matcher:
    exact = frozenset(text_of(v) for v in values if is_literal(v))
    matchers = [
        _arn_matcher(v) if arn else compile_glob(v).matches for v in values if not is_literal(v)
    ]
    if not matchers:
        return exact.__contains__
    if len(matchers) == 1:
        (single,) = matchers
        return lambda value: value in exact or single(value)
    return lambda value: value in exact or any(match(value) for match in matchers)


@lru_cache(maxsize=2048)
def text_matcher(family: str, values: tuple[Resolved, ...]) -> Matcher:
    if family == STRING:
        return frozenset(text_of(v) for v in values).__contains__
    if family == STRING_CI:
        folded = frozenset(text_of(v).casefold() for v in values)
        return lambda value: value.casefold() in folded
    if family == LIKE:
        return _glob_matcher(values, arn=False)
    return _glob_matcher(values, arn=True)
