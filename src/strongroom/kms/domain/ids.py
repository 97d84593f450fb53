"""Identifiers: key ids, ARNs, alias names, and the four ways a caller may name a key.

The one place that builds and parses them, including the storage identity of a key in a region
(:func:`record_id`): keys are regional, and a multi-Region key's id (``mrk-...``) is shared by
its primary and replicas, one record per region.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import uuid
from enum import Enum
from functools import lru_cache
from typing import NamedTuple

from strongroom.kms import messages
from strongroom.kms.errors import (
    InvalidArnException,
    NotFoundException,
    ValidationException,
)

_KEY_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}"
)
_ALIAS_NAME = re.compile(r"alias/[a-zA-Z0-9/_-]{1,250}")
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
RESERVED_ALIAS_PREFIX = "alias/aws/"
ALIAS_PREFIX = "alias/"


MULTI_REGION_PREFIX = "mrk-"


def new_key_id(multi_region: bool = False) -> str:
    """A single-Region key's id is a UUID; a multi-Region key's is ``mrk-`` + 32 hex digits."""
    if multi_region:
        return MULTI_REGION_PREFIX + secrets.token_hex(16)
    return str(uuid.uuid4())


def is_multi_region_id(key_id: str) -> bool:
    return key_id.startswith(MULTI_REGION_PREFIX)


def record_id(region: str, key_id: str) -> str:
    """The storage identity of ``key_id`` in ``region``.

    A single-Region key's id is unique in every region, so it is its own record id (data
    directories from before regions keep theirs). A multi-Region key has one record per region
    (primary and replicas share the id), so its record id is qualified by the region.
    """
    return f"{region}/{key_id}" if is_multi_region_id(key_id) else key_id


def key_id_of_record(record: str) -> str:
    """The public key id of a record id (the inverse of :func:`record_id`)."""
    return record.rpartition("/")[2]


def material_binding(region: str, account_id: str, key_id: str) -> str:
    """The name wrapped material is bound to (the AAD of its wrapping): the key ARN, but
    without the region for a multi-Region key, whose replicas share the material."""
    return key_arn("" if is_multi_region_id(key_id) else region, account_id, key_id)


def new_material_id() -> str:
    """64 hex characters, the length of an AWS KeyMaterialId."""
    return secrets.token_hex(32)


def new_account_id() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def is_account_id(value: str) -> bool:
    return _ACCOUNT_ID.fullmatch(value) is not None


# Memoized by value (bounded): requests and ciphertexts name the same few keys over and over.
@lru_cache(maxsize=4096)
def is_key_id(value: str) -> bool:
    return _KEY_ID.fullmatch(value) is not None


def key_arn(region: str, account_id: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:key/{key_id}"


def alias_arn(region: str, account_id: str, alias_name: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:{alias_name}"


class RefKind(Enum):
    KEY_ID = "key id"
    KEY_ARN = "key ARN"
    ALIAS_NAME = "alias name"
    ALIAS_ARN = "alias ARN"


class KeyRef(NamedTuple):
    """A parsed KeyId request value. ``account_id``/``region`` are set only for ARNs.

    A named tuple: with many keys in use every request parses a KeyId the bounded cache of
    :func:`parse_key_ref` has not kept, and a tuple costs a third of a frozen dataclass. Built
    only here, by the parsers below, which set ``is_alias`` from the kind.
    """

    kind: RefKind
    value: str  # the key id or the alias name
    account_id: str | None
    region: str | None
    is_alias: bool


# A hit costs ~0.03 µs against ~0.8 for the work; a miss (every request when requests name more
# keys than it keeps) adds ~0.2 µs. A KeyRef is immutable; failures (raised) are not kept.
@lru_cache(maxsize=4096)
def parse_key_ref(raw: str) -> KeyRef:
    """Parse a KeyId as AWS accepts it: key id, key ARN, alias name or alias ARN."""
    if raw.startswith("arn:"):
        return _parse_arn(raw)
    if raw.startswith(ALIAS_PREFIX):
        return KeyRef(RefKind.ALIAS_NAME, raw, None, None, True)
    # is_key_id without its own cache: when this call is not cached, neither is that one.
    if _KEY_ID.fullmatch(raw) is None:
        raise NotFoundException(messages.invalid_key_id(raw))
    return KeyRef(RefKind.KEY_ID, raw, None, None, False)


def _parse_arn(raw: str) -> KeyRef:
    parts = raw.split(":", 5)
    if len(parts) != 6 or parts[1] not in ("aws", "aws-cn", "aws-us-gov") or parts[2] != "kms":
        raise InvalidArnException(f"ARN {raw} is not a valid KMS ARN.")
    region, account, resource = parts[3], parts[4], parts[5]
    if not _ACCOUNT_ID.fullmatch(account) or not region:
        raise InvalidArnException(f"ARN {raw} is not a valid KMS ARN.")
    if resource.startswith("key/") and is_key_id(resource[4:]):
        return KeyRef(RefKind.KEY_ARN, resource[4:], account, region, False)
    if resource.startswith(ALIAS_PREFIX):
        return KeyRef(RefKind.ALIAS_ARN, resource, account, region, True)
    raise InvalidArnException(f"ARN {raw} is not a valid KMS key or alias ARN.")


def check_alias_name(name: str) -> None:
    """Alias name rules for names a customer creates (the pipeline refuses ``alias/aws/``
    names before this runs: see domain/managed.py)."""
    if not name.startswith(ALIAS_PREFIX):
        raise ValidationException(messages.ALIAS_PREFIX_REQUIRED)
    if _ALIAS_NAME.fullmatch(name) is None:
        raise ValidationException(messages.alias_invalid_characters(name))


_COUNTER_MASK = (1 << 48) - 1


class UuidShapedIds:
    """Unique ids in the UUID shape AWS uses for request and event ids, without a system call.

    ``uuid.uuid4()`` asks the kernel for randomness on every call (several microseconds on the
    hot path). These ids must be unique, not unpredictable: a random per-process prefix and a
    counter are enough, and no two processes share a prefix.
    """

    def __init__(self) -> None:
        prefix = os.urandom(10).hex()
        # The first four groups are the prefix's 20 digits: only the last group varies.
        self._head = f"{prefix[:8]}-{prefix[8:12]}-{prefix[12:16]}-{prefix[16:20]}-"
        # Counted from 2**48, whose hex() is "0x1" and 12 digits: [3:] is the counter's low 48
        # bits, zero-padded, without a format call (up to 2**52 ids, for ever in practice).
        self._counter = itertools.count(_COUNTER_MASK + 1)

    def next(self) -> str:
        return self._head + hex(next(self._counter))[3:]
