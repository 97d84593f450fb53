"""The default store's root key inside a PKCS#11 token (an HSM).

The key is an AES-256 token object generated in the token (``C_GenerateKey``): SENSITIVE,
not EXTRACTABLE, PRIVATE. Its value never exists outside the token; wrap and unwrap are
``CKM_AES_GCM`` operations in the token with a random 12-byte IV from this process
(``os.urandom``; SoftHSM, unlike CloudHSM, takes the caller's IV). The blob layout is the
file provider's: ``iv || ciphertext || tag``.

At start the key must report LOCAL (generated in the token, not imported) and
NEVER_EXTRACTABLE: a key that was ever exportable is refused, because a copy of it may exist.
"""

from __future__ import annotations

import contextlib
import os

from strongroom.kms.keystores.pkcs11 import (
    AttributeCheckFailed,
    GcmAuthenticationFailed,
    KeyAttributes,
    KeyRef,
    Pkcs11Error,
    TokenConnection,
    TokenUnavailable,
)
from strongroom.kms.rootkey.providers import (
    NONCE_BYTES,
    RootKeyUnavailable,
    RootKeyUnwrapFailed,
)

KEY_ID = b"strongroom-root"
_TAG_BYTES = 16


def check_root_key_attributes(attrs: KeyAttributes) -> None:
    """Refuse a root key that is or ever was extractable, or was not generated in the token."""
    problems = [
        name
        for name, ok in (
            ("LOCAL", attrs.local),
            ("NEVER_EXTRACTABLE", attrs.never_extractable),
            ("SENSITIVE", attrs.sensitive),
            ("not EXTRACTABLE", not attrs.extractable),
            ("TOKEN", attrs.token),
        )
        if not ok
    ]
    if problems:
        raise AttributeCheckFailed(
            f"root key {attrs.label!r} is not {', '.join(problems)}: refusing to use it"
        )


class HsmRootKey:
    """A RootKeyProvider whose key stays in a PKCS#11 token."""

    __slots__ = ("_connection", "_copy", "_key", "_key_label")

    def __init__(
        self, connection: TokenConnection, key: KeyRef, key_label: str, *, session_copy: bool
    ) -> None:
        self._connection = connection
        self._key_label = key_label
        # Work with an in-memory session copy where the token allows copying (about twice as
        # fast on SoftHSM); the token key itself otherwise.
        self._copy: KeyRef | None = None
        if session_copy:
            with contextlib.suppress(Pkcs11Error):
                self._copy = connection.session_copy(key)
        self._key = self._copy or key

    @classmethod
    def open(
        cls,
        module: str,
        token_label: str,
        pin: str,
        key_label: str,
        *,
        create: bool = False,
        session_copy: bool = True,
    ) -> HsmRootKey:
        """Log in, find the key by label (or generate it if ``create``) and check it.

        ``session_copy`` uses a session-object copy of the key (see
        ``TokenConnection.session_copy``) when the token allows it.
        """
        connection = TokenConnection.open(module, token_label, pin)
        try:
            key = connection.find_aes_key(key_label)
            if key is None:
                if not create:
                    raise Pkcs11Error(f"no key labelled {key_label!r} on token {token_label!r}")
                key = connection.generate_aes_key(key_label, key_id=KEY_ID)
            check_root_key_attributes(connection.attributes(key))
        except BaseException:
            connection.close()
            raise
        return cls(connection, key, key_label, session_copy=session_copy)

    @property
    def descriptor(self) -> str:
        return f"pkcs11:{self._key_label}"

    @property
    def connection(self) -> TokenConnection:
        return self._connection

    @property
    def uses_session_copy(self) -> bool:
        return self._copy is not None

    def wrap(self, data: bytes, aad: bytes) -> bytes:
        iv = os.urandom(NONCE_BYTES)
        try:
            return iv + self._connection.gcm_encrypt(self._key, iv, data, aad)
        except Pkcs11Error as exc:
            raise RootKeyUnavailable(str(exc)) from None

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        if len(blob) < NONCE_BYTES + _TAG_BYTES:
            raise RootKeyUnwrapFailed()
        try:
            return self._connection.gcm_decrypt(
                self._key, blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad
            )
        except GcmAuthenticationFailed:
            raise RootKeyUnwrapFailed() from None
        except (TokenUnavailable, Pkcs11Error) as exc:
            raise RootKeyUnavailable(str(exc)) from None

    def close(self) -> None:
        if self._copy is not None:
            with contextlib.suppress(Pkcs11Error):
                self._connection.destroy(self._copy)
        self._connection.close()

    def __repr__(self) -> str:
        return f"HsmRootKey(token={self._connection.token_label!r}, key={self._key_label!r})"
