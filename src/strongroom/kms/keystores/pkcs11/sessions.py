"""Pooled PIN-less sessions and the resolution of key refs to python-pkcs11 objects in them."""

from __future__ import annotations

import contextlib
from typing import Any

from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11 import exceptions as p11x

from strongroom.kms.keystores.pkcs11.errors import KeyNotFound
from strongroom.kms.keystores.pkcs11.keys import KeyRef


class PooledSession:
    """A PIN-less session and the python-pkcs11 objects it resolved, by handle."""

    __slots__ = ("broken", "generation", "objects", "raw")

    def __init__(self, raw: Any, generation: int) -> None:
        self.raw = raw
        self.generation = generation
        self.objects: dict[int, Any] = {}
        self.broken = False


def find_keys(
    session: PooledSession, label: str, key_id: bytes | None, *, token_only: bool = False
) -> list[Any]:
    return find_keys_in(session.raw, label, key_id, token_only=token_only)


def find_keys_in(
    raw: Any, label: str, key_id: bytes | None, *, token_only: bool = False
) -> list[Any]:
    query: dict[Attribute, Any] = {
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: KeyType.AES,
        Attribute.LABEL: label,
    }
    if key_id is not None:
        query[Attribute.ID] = key_id
    if token_only:
        query[Attribute.TOKEN] = True
    return list(raw.get_objects(query))


def resolve(session: PooledSession, ref: KeyRef) -> Any:
    """This session's python-pkcs11 object for ``ref`` (found by label and id on first use)."""
    cached = session.objects.get(ref.handle)
    if cached is not None:
        return cached
    found = find_keys(session, ref.label, ref.key_id)
    # By handle; else (new sessions after a reconnect) the token object: a session copy of it
    # (see TokenConnection.session_copy) has the same label and id.
    match = (
        [key for key in found if key.handle == ref.handle]
        or [key for key in found if key[Attribute.TOKEN]]
        or found
    )
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
