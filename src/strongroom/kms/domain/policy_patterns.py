"""Wildcard patterns and policy variables of the IAM policy language, compiled once.

A policy is parsed once and evaluated on every request, so everything that can be decided
at parse time is: a pattern list becomes a set of literals, a tuple of prefixes for
``str.startswith`` and linear-time :class:`Glob` matchers for the rest. Evaluation then
costs a set lookup or a ``startswith`` in the common cases (``"*"``, ``"kms:*"``, an exact
ARN).

Policy variables (``${aws:username}``, ``${key, 'default'}``, the escapes ``${*}``, ``${?}``
and ``${$}``) exist only in ``"Version": "2012-10-17"`` documents; in older ones the text is
literal. A value is tokenized into policy literals (``str``), wildcards (``STAR``,
``QMARK``), literals that came from a variable or an escape (:class:`Lit`, never
wildcards, never ARN separators) and unresolved :class:`Variable`. Values without variables
are compiled at parse time; values with variables are resolved against the request and
compiled per distinct resolution (cached).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol


class ConditionValues(Protocol):
    """The request context: condition key (lower-cased) -> the request's values, as strings.

    ``None`` (or an empty tuple) when the key is absent from the request. A plain
    ``dict[str, tuple[str, ...]]`` satisfies this protocol.
    """

    def get(self, key: str, /) -> tuple[str, ...] | None: ...


class UnresolvedVariableError(Exception):
    """A policy variable had no single value in the request and no default.

    AWS: "If AWS cannot resolve a variable, this might cause the entire statement to be
    invalid." Evaluation treats such a statement as not applying (neither Allow nor Deny).
    """


STAR = 1
QMARK = 2


@dataclass(frozen=True, slots=True)
class Lit:
    """Literal text from a variable's value or an escape: never a wildcard or separator."""

    text: str


@dataclass(frozen=True, slots=True)
class Variable:
    key: str  # lower-cased: condition keys are case-insensitive
    default: str | None


Token = str | int | Lit | Variable
Resolved = tuple[str | int | Lit, ...]

_VARIABLE = re.compile(r"\$\{\s*([^\s,'{}]+)\s*(?:,\s*'((?:[^']|'')*)'\s*)?\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def tokenize(value: str, *, variables: bool) -> tuple[Token, ...]:
    """Split a policy value into literals, wildcards and (if enabled) variables."""
    tokens: list[Token] = []
    pos = 0
    if variables:
        for found in _VARIABLE.finditer(value):
            _literal_tokens(value[pos : found.start()], tokens)
            key, default = found.group(1), found.group(2)
            if key in _ESCAPES and default is None:
                tokens.append(Lit(_ESCAPES[key]))
            else:
                dflt = None if default is None else default.replace("''", "'")
                tokens.append(Variable(key.lower(), dflt))
            pos = found.end()
    _literal_tokens(value[pos:], tokens)
    return tuple(tokens)


def _literal_tokens(text: str, out: list[Token]) -> None:
    start = 0
    for i, char in enumerate(text):
        if char in "*?":
            if i > start:
                out.append(text[start:i])
            out.append(STAR if char == "*" else QMARK)
            start = i + 1
    if start < len(text):
        out.append(text[start:])


def has_variables(tokens: tuple[Token, ...]) -> bool:
    return any(isinstance(t, Variable) for t in tokens)


def resolve(tokens: tuple[Token, ...], context: ConditionValues) -> Resolved:
    """Replace every variable by its single request value; raise if one cannot be."""
    out: list[str | int | Lit] = []
    for token in tokens:
        if isinstance(token, Variable):
            found = context.get(token.key)
            if found is not None and len(found) == 1:
                out.append(Lit(found[0]))
            elif token.default is not None:
                out.append(Lit(token.default))
            else:
                raise UnresolvedVariableError(token.key)
        else:
            out.append(token)
    return tuple(out)


def static(tokens: tuple[Token, ...]) -> Resolved:
    """The tokens of a value known to hold no variable, typed as such."""
    out: list[str | int | Lit] = []
    for token in tokens:
        if isinstance(token, Variable):
            raise ValueError("value has variables")
        out.append(token)
    return tuple(out)


def text_of(tokens: Iterable[Token]) -> str:
    """The literal text a value stands for, wildcards taken as the characters ``*``/``?``."""
    parts: list[str] = []
    for token in tokens:
        if isinstance(token, str):
            parts.append(token)
        elif isinstance(token, Lit):
            parts.append(token.text)
        elif isinstance(token, int):
            parts.append("*" if token == STAR else "?")
        else:
            parts.append(f"${{{token.key}}}")
    return "".join(parts)


def is_literal(tokens: Iterable[Token]) -> bool:
    return all(isinstance(t, str | Lit) for t in tokens)


class Glob:
    """A glob (``*`` any run of characters, ``?`` exactly one) matched in linear time.

    Not a regex on purpose: ``a*a*a*b`` as a backtracking regex takes polynomial time on
    long inputs, and policy authors should not be able to slow down every request on a key.
    The pattern is split at each ``*`` into fixed-length parts; the first must match at the
    start, the last at the end, and each middle part is found leftmost, in order (for
    fixed-length parts the leftmost choice is always a right one).
    """

    __slots__ = ("_head", "_middles", "_min_length", "_simple", "_tail", "_texts", "_whole")

    def __init__(self, tokens: Resolved) -> None:
        parts: list[list[str | int | Lit]] = [[]]
        for token in tokens:
            if token == STAR:
                parts.append([])
            else:
                parts[-1].append(token)
        compiled = [_Part(p) for p in parts]
        self._whole = compiled[0] if len(compiled) == 1 else None
        self._head, self._tail = compiled[0], compiled[-1]
        self._middles = tuple(compiled[1:-1])
        self._min_length = sum(p.length for p in compiled)
        # Without '?', plain str methods do it all (the common case, and the fast one).
        self._simple = all(p.regex is None for p in compiled)
        self._texts = tuple(p.text for p in compiled)

    def matches(self, value: str) -> bool:
        if self._simple:
            return self._matches_text(value)
        if self._whole is not None:
            return len(value) == self._whole.length and self._whole.at(value, 0)
        end = len(value) - self._tail.length
        if len(value) < self._min_length or not (
            self._head.at(value, 0) and self._tail.at(value, end)
        ):
            return False
        position = self._head.length
        for part in self._middles:
            position = part.find(value, position, end)
            if position < 0:
                return False
        return True

    def _matches_text(self, value: str) -> bool:
        texts = self._texts
        if len(texts) == 1:
            return value == texts[0]
        head, tail = texts[0], texts[-1]
        if len(value) < self._min_length or not (value.startswith(head) and value.endswith(tail)):
            return False
        position, end = len(head), len(value) - len(tail)
        for text in texts[1:-1]:
            found = value.find(text, position, end)
            if found < 0:
                return False
            position = found + len(text)
        return True


class _Part:
    """A fixed-length piece of a glob: literal text, or a regex when it holds ``?``."""

    __slots__ = ("length", "regex", "text")

    def __init__(self, tokens: list[str | int | Lit]) -> None:
        self.text = "".join("?" if t == QMARK else _literal(t) for t in tokens)
        self.length = len(self.text)
        self.regex: re.Pattern[str] | None = None
        if QMARK in tokens:
            source = "".join("." if t == QMARK else re.escape(_literal(t)) for t in tokens)
            self.regex = re.compile(source, re.DOTALL)

    def at(self, value: str, index: int) -> bool:
        if self.regex is None:
            return value.startswith(self.text, index)
        return self.regex.match(value, index) is not None

    def find(self, value: str, start: int, end: int) -> int:
        """Where this part ends at its leftmost place in ``value[start:end]``, or -1."""
        if self.regex is None:
            found = value.find(self.text, start, end)
            return -1 if found < 0 else found + self.length
        match = self.regex.search(value, start, end)
        return -1 if match is None else match.end()


def _literal(token: str | int | Lit) -> str:
    if isinstance(token, Lit):
        return token.text
    if isinstance(token, str):
        return token
    raise ValueError("a wildcard is not literal text")


@lru_cache(maxsize=4096)
def compile_glob(tokens: Resolved) -> Glob:
    return Glob(tokens)


def _fold(tokens: Resolved, ignore_case: bool) -> Resolved:
    if not ignore_case:
        return tokens
    return tuple(
        t.lower() if isinstance(t, str) else Lit(t.text.lower()) if isinstance(t, Lit) else t
        for t in tokens
    )


@dataclass(frozen=True, slots=True)
class Patterns:
    """An Action/NotAction or Resource/NotResource list, compiled for fast matching.

    ``patterns`` keeps the values as written. With ``ignore_case`` (actions) both patterns and
    the tested value are lower-cased. A ``*`` matches any run of characters, ``:`` included
    (IAM matches Resource as one glob, unlike the segment-wise ``ArnLike``).
    """

    patterns: tuple[str, ...]
    ignore_case: bool = False
    variables: bool = False
    _any: bool = field(init=False, repr=False, compare=False)
    _exact: frozenset[str] = field(init=False, repr=False, compare=False)
    _prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _globs: tuple[Glob, ...] = field(init=False, repr=False, compare=False)
    _templates: tuple[tuple[Token, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        match_any = False
        exact: set[str] = set()
        prefixes: list[str] = []
        globs: list[Glob] = []
        templates: list[tuple[Token, ...]] = []
        for pattern in self.patterns:
            tokens = tokenize(pattern, variables=self.variables)
            if has_variables(tokens):
                templates.append(tokens)
                continue
            folded = _fold(static(tokens), self.ignore_case)
            if folded == (STAR,):
                match_any = True
            elif is_literal(folded):
                exact.add(text_of(folded))
            elif folded[-1] == STAR and is_literal(folded[:-1]):
                prefixes.append(text_of(folded[:-1]))
            else:
                globs.append(compile_glob(folded))
        object.__setattr__(self, "_any", match_any)
        object.__setattr__(self, "_exact", frozenset(exact))
        object.__setattr__(self, "_prefixes", tuple(prefixes))
        object.__setattr__(self, "_globs", tuple(globs))
        object.__setattr__(self, "_templates", tuple(templates))

    def matches(self, value: str, context: ConditionValues | None = None) -> bool:
        """Whether ``value`` matches any pattern.

        Raises :class:`UnresolvedVariableError` when only a pattern with an unresolvable
        variable could decide (the statement is then invalid for this request).
        """
        if self._any:
            return True
        if self.ignore_case and not value.islower():
            value = value.lower()
        if value in self._exact or (self._prefixes and value.startswith(self._prefixes)):
            return True
        for glob in self._globs:
            if glob.matches(value):
                return True
        if self._templates:
            return self._match_templates(value, context)
        return False

    def _match_templates(self, value: str, context: ConditionValues | None) -> bool:
        if context is None:
            raise UnresolvedVariableError("no request context")
        for tokens in self._templates:
            resolved = _fold(resolve(tokens, context), self.ignore_case)
            if compile_glob(resolved).matches(value):
                return True
        return False
