"""Key handles and attributes as the driver's callers see them."""

from __future__ import annotations

from dataclasses import dataclass


class KeyRef:
    """An opaque reference to a secret key on one token, usable from any thread.

    It remembers the object handle it was found with and the key's label and id: each pooled
    session resolves it to its own python-pkcs11 object once, and after a reconnect (new sessions,
    possibly new handles) it is found again by label and id.
    """

    __slots__ = ("handle", "key_id", "label")

    def __init__(self, handle: int, label: str, key_id: bytes) -> None:
        self.handle = handle
        self.label = label
        self.key_id = key_id

    def __repr__(self) -> str:
        return f"KeyRef(label={self.label!r})"


@dataclass(frozen=True)
class KeyAttributes:
    """The security-relevant attributes of a key, as the token reports them."""

    label: str
    local: bool
    never_extractable: bool
    extractable: bool
    sensitive: bool
    always_sensitive: bool
    token: bool
