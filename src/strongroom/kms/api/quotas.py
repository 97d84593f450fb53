"""Request quotas per account and operation class, shared by the workers of a node.

AWS KMS counts requests per account in fixed one-second intervals: the cryptographic
operations share one quota per key type (symmetric, RSA, ECC), and each management operation
has its own. Over a quota the request is refused with ``ThrottlingException``.

Operations that take keys of several types (Encrypt, Decrypt, ReEncrypt, Sign, Verify,
DeriveSharedSecret: ``BY_KEY``) are counted once the pipeline has resolved the key
(``admit_by_key``): an RSA Encrypt spends the RSA quota, an AES one the symmetric quota, as on
AWS. The others are counted at the door (``admit``), before the request is decoded.

How the workers share a quota without a database round trip: a small table in a memory-mapped
file of the data directory (``quotas``) holds, per (account, class) slot, the current window
and how many requests the node has admitted in it. A worker *leases* tokens from it in blocks
(an ``flock`` and a few bytes, about 1/16 of the quota split over the workers at a time) and
spends them from a local counter, so a request costs a dictionary lookup and a decrement.

Bound on the error: within a node, requests admitted in one window never exceed the quota
(leases are granted under the lock, and tokens leased in one window expire with it). Tokens a
worker leased but did not use are lost for that window, so a node may admit up to
``workers x (lease - 1)`` fewer than the quota (about 1/16 of it) when its load is uneven.
With ``quota_nodes`` = N nodes each node admits 1/N of the quota: a client that reaches only
one node gets only that share.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from strongroom.kms.errors import ThrottlingException

if TYPE_CHECKING:
    from strongroom.kms.config import Settings

SLOTS = 4096
PROBES = 8
# key hash, window index, admitted in that window, when the window ends (epoch seconds)
_SLOT = struct.Struct("<QqQd")
LEASES_PER_WINDOW = 16

# Symmetric-only cryptographic operations: the symmetric quota, at the door.
SYMMETRIC = (
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "VerifyMac",
)
# Operations whose quota is the one of their key's type (counted after the key is resolved).
BY_KEY = frozenset(("Decrypt", "DeriveSharedSecret", "Encrypt", "ReEncrypt", "Sign", "Verify"))
# The quota table's entries for key types (not operation names).
SYMMETRIC_KEYS, RSA_KEYS, ECC_KEYS = "@symmetric", "@rsa", "@ecc"
# AWS's published per-operation defaults (requests per second; below 1: one per 1/rate s).
OPERATION_DEFAULTS: Mapping[str, float] = {
    "CancelKeyDeletion": 5,
    "ConnectCustomKeyStore": 5,
    "CreateAlias": 5,
    "CreateCustomKeyStore": 5,
    "CreateGrant": 50,
    "CreateKey": 5,
    "DeleteAlias": 15,
    "DeleteCustomKeyStore": 5,
    "DeleteImportedKeyMaterial": 5,
    "DescribeCustomKeyStores": 5,
    "DescribeKey": 2000,
    "DisableKey": 5,
    "DisableKeyRotation": 5,
    "DisconnectCustomKeyStore": 5,
    "EnableKey": 5,
    "EnableKeyRotation": 15,
    "GenerateDataKeyPair": 1,
    "GenerateDataKeyPairWithoutPlaintext": 1,
    "GetKeyPolicy": 1000,
    "GetKeyRotationStatus": 1000,
    "GetParametersForImport": 0.25,
    "GetPublicKey": 2000,
    "ImportKeyMaterial": 5,
    "ListAliases": 500,
    "ListGrants": 100,
    "ListKeyPolicies": 100,
    "ListKeyRotations": 100,
    "ListKeys": 500,
    "ListResourceTags": 2000,
    "ListRetirableGrants": 100,
    "PutKeyPolicy": 15,
    "RetireGrant": 30,
    "RevokeGrant": 30,
    "RotateKeyOnDemand": 5,
    "ScheduleKeyDeletion": 15,
    "TagResource": 10,
    "UntagResource": 5,
    "UpdateAlias": 5,
    "UpdateCustomKeyStore": 5,
    "UpdateKeyDescription": 5,
}


@dataclass(frozen=True, slots=True)
class Quota:
    """``tokens`` requests per window of ``seconds`` (1 s, or 1/rate s for rates below 1)."""

    name: str
    tokens: int
    seconds: float
    lease: int

    @classmethod
    def per_second(cls, name: str, rate: float, share: float, workers: int) -> Quota:
        seconds = 1.0 if rate * share >= 1 else 1.0 / (rate * share)
        tokens = max(int(rate * share * seconds), 1)
        return cls(name, tokens, seconds, max(tokens // (LEASES_PER_WINDOW * workers), 1))


def parse_overrides(text: str) -> dict[str, float]:
    """``"CreateKey=50, ListKeys=1000"`` -> {"CreateKey": 50.0, "ListKeys": 1000.0}."""
    found: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        rate = float(value) if sep else -1.0
        if not name.strip() or rate <= 0:
            raise ValueError(f"quota {item.strip()!r} is not Operation=requests-per-second")
        found[name.strip()] = rate
    return found


def quota_table(
    *,
    cryptographic: float,
    asymmetric: float,
    ecc: float,
    overrides: str,
    nodes: int,
    workers: int,
) -> dict[str, Quota]:
    """Operation name (or key type, ``@rsa``) -> its quota; a shared quota is one object."""
    share = 1.0 / nodes
    table: dict[str, Quota] = {}
    symmetric = Quota.per_second("cryptographic", cryptographic, share, workers)
    table.update(dict.fromkeys((*SYMMETRIC, SYMMETRIC_KEYS), symmetric))
    table[RSA_KEYS] = Quota.per_second("rsa", asymmetric, share, workers)
    table[ECC_KEYS] = Quota.per_second("ecc", ecc, share, workers)
    given = parse_overrides(overrides)
    shared = [name for name in given if name in table or name in BY_KEY]
    if shared:
        raise ValueError(
            f"{', '.join(shared)} share a quota: set quota_cryptographic/_asymmetric/_ecc"
        )
    for name, rate in {**OPERATION_DEFAULTS, **given}.items():
        table[name] = Quota.per_second(name, rate, share, workers)
    return table


class LeaseTable:
    """The node-wide admitted counts, in a memory-mapped file shared by the workers."""

    def __init__(self, path: Path) -> None:
        size = SLOTS * _SLOT.size
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        with _Locked(self._fd):
            if os.fstat(self._fd).st_size < size:
                os.ftruncate(self._fd, size)
        self._map = mmap.mmap(self._fd, size)

    def lease(self, key: bytes, quota: Quota, window: int, now: float) -> int:
        """Take up to a lease of ``quota``'s tokens for ``key`` in ``window``; 0: none left."""
        digest = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") or 1
        with _Locked(self._fd):
            offset = self._slot(digest, now)
            _, _, admitted, ends = _SLOT.unpack_from(self._map, offset)
            if ends <= now:  # free, or its window is over
                admitted = 0
            granted: int = min(quota.lease, quota.tokens - int(admitted))
            if granted <= 0:
                return 0
            ends = (window + 1) * quota.seconds
            _SLOT.pack_into(self._map, offset, digest, window, admitted + granted, ends)
            return granted

    def _slot(self, digest: int, now: float) -> int:
        """This key's slot, else a free or expired one near its home (else the home itself:
        a table full of live keys then shares counts, which only throttles earlier)."""
        home = digest % SLOTS
        for step in range(PROBES):
            offset = ((home + step) % SLOTS) * _SLOT.size
            slot_key, _, _, ends = _SLOT.unpack_from(self._map, offset)
            if slot_key in (digest, 0) or ends < now:
                return offset
        return home * _SLOT.size

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)


class _Locked:
    def __init__(self, fd: int) -> None:
        self._fd = fd

    def __enter__(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)


class RequestQuotas:
    """One worker's admission: local tokens, refilled by leases from the node's table."""

    def __init__(
        self,
        table: Mapping[str, Quota],
        leases: LeaseTable,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table
        self._leases = leases
        self._clock = clock
        # (account, region, quota) -> [window, tokens left]
        self._local: dict[tuple[str, str, str], list[int]] = {}

    def admit(self, account_id: str, region: str, operation: str) -> None:
        """Count one request, or raise ThrottlingException. As in AWS, quotas are per
        account and region."""
        quota = self._table.get(operation)
        if quota is None:
            return
        now = self._clock()
        window = int(now / quota.seconds)
        key = (account_id, region, quota.name)
        local = self._local.get(key)
        if local is not None and local[0] == window and local[1] > 0:
            local[1] -= 1
            return
        name = f"{account_id}/{region}/{quota.name}".encode()
        granted = self._leases.lease(name, quota, window, now)
        if granted == 0:
            raise ThrottlingException()
        self._local[key] = [window, granted - 1]

    def admit_by_key(self, account_id: str, region: str, operation: str, key_spec: str) -> None:
        """Count one ``BY_KEY`` operation against its key type's quota (other operations were
        counted at the door: nothing to do)."""
        if operation in BY_KEY:
            self.admit(account_id, region, key_type_quota(key_spec))


def key_type_quota(key_spec: str) -> str:
    """The quota a key's requests spend: RSA, ECC (and SM2), or symmetric (AES, HMAC)."""
    if key_spec.startswith("RSA_"):
        return RSA_KEYS
    if key_spec.startswith(("ECC_", "SM2")):
        return ECC_KEYS
    return SYMMETRIC_KEYS


def from_settings(settings: Settings) -> RequestQuotas | None:
    """The worker's quotas (``request_quotas = "aws"``), or None when they are off."""
    if settings.request_quotas == "off":
        return None
    table = quota_table(
        cryptographic=settings.quota_cryptographic,
        asymmetric=settings.quota_asymmetric,
        ecc=settings.quota_ecc,
        overrides=settings.quota_overrides,
        nodes=settings.quota_nodes,
        workers=settings.workers,
    )
    return RequestQuotas(table, LeaseTable(settings.data_dir / "quotas"))
