"""KMIP clients and objects as values, and the KMIP lifecycle over the one key-state table.

A KMIP client is a TLS client certificate (named by the SHA-256 of its DER encoding) registered
to one IAM principal of one account. A KMIP object is a KMS key of that account that was made
through KMIP (docs/adr/0023): it is *exportable* (KMIP Get returns its material, authorized by
``kms:ExportKeyMaterial``). The KMS state stays the one truth for what may run
(domain/states.py); the KMIP state only tells Pre-Active, Deactivated and Compromised apart
among disabled keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from strongroom.kms.domain.enums import KeyState

FINGERPRINT_PATTERN = re.compile(r"[0-9a-f]{64}")
PRINCIPAL_PATTERN = re.compile(r"arn:aws:iam::(\d{12}):(user|role)/[\w+=,.@/-]{1,512}")
# The action a KMIP Get of key material needs (Strongroom's own, never granted by AWS's
# managed policies: only kms:* or the action by name allows it).
EXPORT_ACTION = "kms:ExportKeyMaterial"
PUBLIC_SUFFIX = "/public"


class KmipState(IntEnum):
    """KMIP's State enumeration (KMIP 1.4 section 9.1.3.2.17)."""

    PRE_ACTIVE = 1
    ACTIVE = 2
    DEACTIVATED = 3
    COMPROMISED = 4


class ObjectKind(IntEnum):
    """KMIP's Object Type values of the objects this server keeps."""

    SYMMETRIC_KEY = 2
    PUBLIC_KEY = 3
    PRIVATE_KEY = 4


@dataclass(frozen=True, slots=True)
class KmipClient:
    fingerprint: str  # SHA-256 of the certificate's DER, 64 lowercase hex digits
    account_id: str
    principal_arn: str
    subject: str  # the certificate's subject, for people reading listings
    created_at: datetime

    def listing(self) -> dict[str, object]:
        return {
            "Fingerprint": self.fingerprint,
            "AccountId": self.account_id,
            "Principal": self.principal_arn,
            "Subject": self.subject,
            "CreationDate": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class KmipObject:
    """A KMIP-made key: its KMIP state and attributes. ``attributes`` holds (name, TTLV bytes
    of the value) pairs in order; the server-kept ones (state, dates, type) are not among them."""

    key_id: str
    account_id: str
    kind: ObjectKind  # of the key itself: SYMMETRIC_KEY, or PRIVATE_KEY for a pair
    state: KmipState
    attributes: tuple[tuple[str, bytes], ...] = ()
    created_at: datetime | None = None
    activated_at: datetime | None = None
    deactivated_at: datetime | None = None
    changed_at: datetime | None = None
    names: tuple[str, ...] = field(default=())


def unique_id(key_id: str, public: bool = False) -> str:
    """The KMIP Unique Identifier: the KMS key id; a pair's public key adds ``/public``."""
    return key_id + PUBLIC_SUFFIX if public else key_id


def split_unique_id(uid: str) -> tuple[str, bool]:
    """(key id, whether it names the public key of a pair)."""
    if uid.endswith(PUBLIC_SUFFIX):
        return uid[: -len(PUBLIC_SUFFIX)], True
    return uid, False


def reported_state(kms_state: KeyState, kmip_state: KmipState) -> KmipState:
    """The State a client sees: Active exactly when the KMS key is enabled (EnableKey through
    the KMS API activates too); a disabled key keeps its KMIP reason, an Active one disabled
    through the KMS API is Deactivated."""
    if kms_state is KeyState.ENABLED:
        return KmipState.ACTIVE
    if kmip_state is KmipState.ACTIVE:
        return KmipState.DEACTIVATED
    return kmip_state


class LifecycleError(Exception):
    """A KMIP state change that KMIP's lifecycle does not allow (Permission Denied)."""


def activate(current: KmipState) -> tuple[KmipState, KeyState]:
    if current is not KmipState.PRE_ACTIVE:
        raise LifecycleError(f"only a Pre-Active object can be activated (it is {current.name})")
    return KmipState.ACTIVE, KeyState.ENABLED


def revoke(current: KmipState, compromised: bool) -> tuple[KmipState, KeyState]:
    if compromised:
        return KmipState.COMPROMISED, KeyState.DISABLED
    if current is KmipState.COMPROMISED:
        raise LifecycleError("a Compromised object stays Compromised")
    return KmipState.DEACTIVATED, KeyState.DISABLED


def check_destroy(current: KmipState) -> None:
    if current is KmipState.ACTIVE:
        raise LifecycleError("an Active object cannot be destroyed: revoke it first")
