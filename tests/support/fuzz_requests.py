"""Hypothesis strategies for KMS request bodies, derived from botocore's service model.

Every shape of the model becomes a strategy that mostly draws values a client could send
(within the shape's length and range bounds, enum members, key ids and ciphertexts that exist
on the server under test) and sometimes values no client should send (the wrong JSON type,
out-of-range numbers and lengths, null, broken base64, nested garbage). Bodies are JSON
objects as a rule, and now and then not JSON at all.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.loaders import Loader
from hypothesis import strategies as st

Shape = Mapping[str, Any]

MAX_TEXT = 300  # long enough to break every length bound below 300, cheap to send
MAX_ITEMS = 4


ALGORITHM_SHAPES = frozenset(
    {
        "EncryptionAlgorithmSpec",
        "SigningAlgorithmSpec",
        "MacAlgorithmSpec",
        "KeyAgreementAlgorithmSpec",
        "EncapsulationAlgorithmSpec",
    }
)


@dataclass(frozen=True)
class Kind:
    """One key of the pool: how a request names it, what it made, the algorithms it takes."""

    refs: tuple[str, ...]  # id, ARN, alias
    ciphertexts: tuple[bytes, ...]
    algorithms: tuple[str, ...]


@dataclass(frozen=True)
class Pool:
    """Real things on the server under test, so that some requests get past resolution."""

    kinds: tuple[Kind, ...]  # keys of every kind
    principals: tuple[str, ...]
    grant_ids: tuple[str, ...]
    policies: tuple[str, ...]  # valid key policies

    @property
    def key_refs(self) -> tuple[str, ...]:
        return tuple(ref for kind in self.kinds for ref in kind.refs)

    @property
    def ciphertexts(self) -> tuple[bytes, ...]:
        return tuple(blob for kind in self.kinds for blob in kind.ciphertexts)


@cache
def model() -> Mapping[str, Any]:
    loaded: Mapping[str, Any] = Loader().load_service_model("kms", "service-2")
    return loaded


def input_shape(operation: str, extension_members: Mapping[str, str] | None) -> Shape:
    """The input structure of a model operation, or the one an extension declares."""
    if extension_members is not None:
        return {
            "type": "structure",
            "members": {m: {"shape": s} for m, s in extension_members.items()},
        }
    name = model()["operations"][operation]["input"]["shape"]
    shape: Shape = model()["shapes"][name]
    return shape


def _json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    )


def garbage() -> st.SearchStrategy[Any]:
    """Any JSON value, nested a little: what a confused or hostile client might send."""
    return st.recursive(
        _json_scalars(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=6,
    )


class Strategies:
    """Strategies for the shapes of the model, given the server's pool of real things.

    ``wild=False`` draws only values that satisfy their shape (so requests reach the
    operations); ``wild=True`` mixes in values of the wrong type and size at every level.

    Each body is drawn around one key of the pool (``focus``): its ids, its ciphertexts and
    the algorithms it takes come up most, so that members that only make sense together (an
    RSA key and an RSA algorithm) meet often; and with one chance (``presence``) that each
    optional member is there, from sparse to full requests.
    """

    def __init__(self, pool: Pool, *, wild: bool, focus: Kind, presence: float) -> None:
        self._pool = pool
        self._wild = wild
        self._focus = focus
        self._presence = presence
        self._shapes: Mapping[str, Shape] = model()["shapes"]

    @staticmethod
    def body(pool: Pool, shape: Shape) -> st.SearchStrategy[bytes]:
        """A request body: mostly a JSON object for ``shape``, sometimes not."""

        def encoded(wild: bool) -> st.SearchStrategy[bytes]:
            def around(focus: Kind, presence: float) -> st.SearchStrategy[dict[str, Any]]:
                chosen = Strategies(pool, wild=wild, focus=focus, presence=presence)
                return chosen.structure(shape, 0.9 if wild else 1.0)

            members = st.tuples(
                st.sampled_from(pool.kinds), st.sampled_from((0.15, 0.5, 0.85))
            ).flatmap(lambda drawn: around(*drawn))
            return members.map(lambda v: json.dumps(v).encode())

        broken = st.one_of(
            garbage().map(lambda v: json.dumps(v).encode()),
            st.binary(max_size=64),
            st.just(b""),
            st.just(b"{" * 50 + b"}" * 50),
        )
        tame = encoded(False)
        return st.one_of(tame, tame, tame, tame, tame, tame, encoded(True), encoded(True), broken)

    def named(self, name: str) -> st.SearchStrategy[Any]:
        shape = self._shapes[name]
        known = self._known(name)
        own = self._by_type(shape)
        valid = own if known is None else st.one_of(known, known, known, own)
        if not self._wild:
            return valid
        return st.one_of(valid, valid, valid, valid, garbage())

    def _known(self, name: str) -> st.SearchStrategy[Any] | None:
        pool, focus = self._pool, self._focus
        if name == "KeyIdType":
            return st.sampled_from(focus.refs) | st.sampled_from(pool.key_refs)
        if name == "CiphertextType":
            blobs = st.sampled_from(focus.ciphertexts or pool.ciphertexts)
            return (blobs | st.sampled_from(pool.ciphertexts)).map(
                lambda b: base64.b64encode(b).decode()
            )
        if name in ALGORITHM_SHAPES and focus.algorithms:
            allowed = [a for a in focus.algorithms if a in self._shapes[name]["enum"]]
            return st.sampled_from(allowed) if allowed else None
        if name in {"PrincipalIdType", "ArnType"}:
            return st.sampled_from(pool.principals)
        if name == "GrantIdType" and pool.grant_ids:
            return st.sampled_from(pool.grant_ids)
        if name == "PolicyType":
            return st.sampled_from(pool.policies)
        if name == "AliasNameType":
            return st.sampled_from([r for r in pool.key_refs if r.startswith("alias/")]) | st.text(
                "abcdefghijklmnopqrstuvwxyz-_/", min_size=1, max_size=20
            ).map(lambda t: "alias/fuzz-" + t)
        return None

    def _by_type(self, shape: Shape) -> st.SearchStrategy[Any]:
        kind, wild = shape["type"], self._wild
        if kind == "structure":
            return self.structure(shape, 0.9 if wild else 1.0)
        if kind == "list":
            element = self.named(shape["member"]["shape"])
            low, high = shape.get("min", 0), min(shape.get("max", MAX_ITEMS), MAX_ITEMS)
            if wild:
                return st.lists(element | st.none(), max_size=MAX_ITEMS)
            return st.lists(element, min_size=low, max_size=max(low, high))
        if kind == "map":
            keys = self.named(shape["key"]["shape"]).filter(lambda k: isinstance(k, str))
            return st.dictionaries(keys, self.named(shape["value"]["shape"]), max_size=MAX_ITEMS)
        if kind == "string":
            return _string(shape, wild)
        if kind == "blob":
            return _blob(shape, wild)
        if kind in {"integer", "long"}:
            low, high = shape.get("min", 0), shape.get("max", 2**31 - 1)
            fitting = st.integers(min_value=low, max_value=high)
            return fitting | st.integers(min_value=-(2**64), max_value=2**64) if wild else fitting
        if kind == "boolean":
            return st.booleans()
        if kind == "timestamp":
            when = st.floats(min_value=0, max_value=4e9)
            return when | st.integers(min_value=-(2**63), max_value=2**63) if wild else when
        raise ValueError(f"no strategy for shape type {kind}")

    def structure(self, shape: Shape, required_odds: float) -> st.SearchStrategy[dict[str, Any]]:
        required = set(shape.get("required", ()))
        members = shape["members"]
        wild = self._wild

        @st.composite
        def draw(data: st.DrawFn) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, member in members.items():
                odds = required_odds if name in required else self._presence
                if data(st.floats(min_value=0, max_value=1)) < odds:
                    out[name] = data(self.named(member["shape"]))
            if wild and data(st.integers(min_value=0, max_value=9)) == 0:
                out[data(st.text(max_size=12))] = data(garbage())  # a member not in the model
            return out

        return draw()


def _string(shape: Shape, wild: bool) -> st.SearchStrategy[str]:
    if "enum" in shape:
        members = st.sampled_from(shape["enum"])
        return members | st.text(max_size=12) if wild else members
    low = shape.get("min", 0)
    high = min(shape.get("max", MAX_TEXT), MAX_TEXT)
    fitting = _matching(shape, low, high)
    if not wild:
        return fitting
    too_long = st.text(min_size=high + 1, max_size=high + 3) if high < MAX_TEXT else fitting
    return st.one_of(fitting, fitting, st.text(max_size=high), too_long, st.just(""))


def _matching(shape: Shape, low: int, high: int) -> st.SearchStrategy[str]:
    """Text within the shape's length bounds and, where Python can read it, its pattern."""
    sized = st.text(min_size=low, max_size=max(low, high))
    pattern = shape.get("pattern")
    if pattern is None:
        return sized
    try:
        regex = re.compile(pattern, re.ASCII)
    except re.error:
        return sized
    return st.from_regex(regex, fullmatch=True).filter(lambda t: low <= len(t) <= high) | sized


def _blob(shape: Shape, wild: bool) -> st.SearchStrategy[str]:
    low = shape.get("min", 0)
    high = min(shape.get("max", 512), 512)
    encoded = st.binary(min_size=low, max_size=max(low, high)).map(
        lambda b: base64.b64encode(b).decode()
    )
    if not wild:
        return encoded
    broken = st.one_of(
        st.text(max_size=20),  # mostly not base64
        st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode().rstrip("=")),
        st.binary(min_size=high + 1, max_size=high + 8).map(lambda b: base64.b64encode(b).decode()),
    )
    return st.one_of(encoded, encoded, broken)
