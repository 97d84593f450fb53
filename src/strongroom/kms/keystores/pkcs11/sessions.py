"""Sessions of the driver and the small functions that work in one (see connection.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11 import exceptions as p11x
from pkcs11.mechanisms import GCMParams

from strongroom.kms.keystores.pkcs11.errors import KeyNotFound, TokenUnavailable
from strongroom.kms.keystores.pkcs11.keys import KeyRef

T = TypeVar("T")

GCM_IV_MAX = 12
TAG_BITS = 128


class Session:
    """A PIN-less session and the python-pkcs11 objects it resolved, by handle."""

    __slots__ = ("generation", "objects", "raw")

    def __init__(self, raw: Any, generation: int) -> None:
        self.raw = raw
        self.generation = generation
        self.objects: dict[int, Any] = {}


def in_session(raw_session: Any, operation: Callable[[Session], T]) -> T:
    """Run ``operation`` in a given python-pkcs11 session (the login session)."""
    try:
        return operation(Session(raw_session, -1))
    except p11x.PKCS11Error as exc:
        raise TokenUnavailable(f"the login session failed ({type(exc).__name__})") from None


def gcm_params(iv: bytes, aad: bytes) -> Any:
    if not 0 < len(iv) <= GCM_IV_MAX:
        raise ValueError(f"the GCM IV must be 1..{GCM_IV_MAX} bytes")
    return GCMParams(iv, aad, TAG_BITS)


def find_keys(session: Session, label: str, key_id: bytes | None) -> list[Any]:
    query = {
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: KeyType.AES,
        Attribute.LABEL: label,
    }
    if key_id is not None:
        query[Attribute.ID] = key_id
    return list(session.raw.get_objects(query))


def resolve(session: Session, ref: KeyRef) -> Any:
    """This session's python-pkcs11 object for ``ref`` (found by label and id on first use)."""
    cached = session.objects.get(ref.handle)
    if cached is not None:
        return cached
    found = find_keys(session, ref.label, ref.key_id)
    match = [key for key in found if key.handle == ref.handle] or found
    if len(match) != 1:
        raise KeyNotFound(
            f"key {ref.label!r} is not on the token"
            if not match
            else f"{len(match)} keys match {ref.label!r}"
        )
    key = match[0]
    ref.handle = key.handle
    session.objects[key.handle] = key
    return key


def close_quietly(session: Any) -> None:
    with contextlib.suppress(p11x.PKCS11Error):  # already gone with its token
        session.close()
