"""One logged-in connection to one token, shared by all threads of a process.

Sessions: the process-wide login session (see :mod:`.login`) is never used for operations and
never closed while the connection is open; operations run on PIN-less sessions from a small pool
(a session serves one operation at a time, python-pkcs11 serialises each session with its own
lock). Under SoftHSM a pool and a single locked session measure the same (SoftHSM serialises
internally); the pool is what lets a real HSM run operations in parallel. See bench/hsm_bench.py.

Failures: an error that means the session, token or device is gone makes the connection throw
away its sessions, find the token again by label, log in again and retry the operation once;
if that fails too the caller gets :class:`TokenUnavailable`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11x

from strongroom.kms.keystores.pkcs11 import login as logins
from strongroom.kms.keystores.pkcs11.errors import (
    AttributeCheckFailed,
    GcmAuthenticationFailed,
    Pkcs11Error,
    TokenKeyNotFound,
    TokenNotFound,
    TokenUnavailable,
)
from strongroom.kms.keystores.pkcs11.keys import KeyAttributes, KeyRef
from strongroom.kms.keystores.pkcs11.library import load_module
from strongroom.kms.keystores.pkcs11.rsa import rsa_public_der, rsa_public_template
from strongroom.kms.keystores.pkcs11.sessions import (
    PooledSession,
    SessionPool,
    find_keys,
    find_keys_in,
    resolve,
)

T = TypeVar("T")

_GCM_IV_MAX = 12
DEFAULT_MAX_SESSIONS = 8
_CHECKOUT_TIMEOUT = 30.0
_MGF1_SHA1 = 0x1  # CKG_MGF1_SHA1
# Errors after which the session (or the whole token) cannot be used again.
_SESSION_ERRORS: tuple[type[Exception], ...] = (
    p11x.SessionClosed,
    p11x.SessionHandleInvalid,
    p11x.DeviceRemoved,
    p11x.DeviceError,
    p11x.TokenNotPresent,
    p11x.TokenNotRecognised,
    p11x.SlotIDInvalid,
    p11x.UserNotLoggedIn,
    p11x.GeneralError,
)
# Errors after which this session's objects are stale: the key was destroyed, or the token's
# files are gone (SoftHSM). Re-resolving by label tells the two apart.
_STALE_OBJECT_ERRORS: tuple[type[Exception], ...] = (
    p11x.ObjectHandleInvalid,
    p11x.KeyHandleInvalid,
)
_NOT_FOUND_ERRORS: tuple[type[Exception], ...] = (*_STALE_OBJECT_ERRORS, TokenKeyNotFound)


class TokenConnection:
    """A logged-in connection to one token; every method is safe to call from any thread."""

    def __init__(
        self, module_path: str, token: Any, label: str, pin: str, *, max_sessions: int
    ) -> None:
        self._module_path = module_path
        self._module = load_module(module_path)
        self._token = token
        self._label = label
        self._serial = bytes(token.serial).decode(errors="replace").strip()
        self.__pin = pin
        self._pool = SessionPool(self._open_session, max_sessions, label)
        self._reconnecting = threading.Lock()
        self._login = logins.acquire(module_path, token, label, pin)

    @classmethod
    def open(
        cls,
        module_path: str,
        token_label: str,
        pin: str,
        *,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
    ) -> TokenConnection:
        """Find the token by label and log in (or join this process's login to it).

        ``max_sessions`` bounds the operations in flight; 1 means one session behind a lock.
        """
        module = load_module(module_path)
        token = module.find_token(token_label)
        return cls(module.path, token, token_label, pin, max_sessions=max_sessions)

    @property
    def token_label(self) -> str:
        return self._label

    @property
    def token_serial(self) -> str:
        return self._serial

    def __repr__(self) -> str:
        state = "closed" if self._pool.closed else "open"
        return f"TokenConnection(token={self._label!r}, {state})"

    # -- keys ---------------------------------------------------------------------------------

    def generate_aes_key(
        self,
        label: str,
        *,
        key_id: bytes,
        extractable: bool = False,
        token_object: bool = True,
        wrap_with_trusted: bool = False,
        wrapping: bool = False,
    ) -> KeyRef:
        """Generate an AES-256 key inside the token (SENSITIVE, PRIVATE, ENCRYPT/DECRYPT).

        ``wrapping`` also gives it WRAP/UNWRAP, for a key that wraps other keys (KWP).
        """
        capabilities = MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT
        if wrapping:
            capabilities |= MechanismFlag.WRAP | MechanismFlag.UNWRAP
        template = {
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: extractable,
            Attribute.WRAP_WITH_TRUSTED: wrap_with_trusted,
        }

        def run(session: PooledSession) -> KeyRef:
            key = session.raw.generate_key(
                KeyType.AES,
                256,
                id=key_id,
                label=label,
                store=token_object,
                capabilities=capabilities,
                template=template,
            )
            session.objects[key.handle] = key
            return KeyRef(key.handle, label, key_id)

        return self._run(run)

    def find_aes_key(self, label: str) -> KeyRef | None:
        """The AES token-object key with this label, or None; two such keys are an error.

        Session objects (``token_object=False`` keys, session copies) are not found by label:
        keep the ``KeyRef`` that made them.
        """

        def run(session: PooledSession) -> KeyRef | None:
            found = find_keys(session, label, None, token_only=True)
            if not found:
                return None
            if len(found) > 1:
                raise Pkcs11Error(f"{len(found)} keys are labelled {label!r} on {self._label!r}")
            key = found[0]
            session.objects[key.handle] = key
            return KeyRef(key.handle, label, bytes(key[Attribute.ID]))

        return self._run(run)

    def attributes(self, key: KeyRef) -> KeyAttributes:
        def run(session: PooledSession) -> KeyAttributes:
            values = resolve(session, key).get_attributes(
                [
                    Attribute.LOCAL,
                    Attribute.NEVER_EXTRACTABLE,
                    Attribute.EXTRACTABLE,
                    Attribute.SENSITIVE,
                    Attribute.ALWAYS_SENSITIVE,
                    Attribute.TOKEN,
                    Attribute.LABEL,
                ]
            )
            return KeyAttributes(
                label=str(values[Attribute.LABEL]),
                local=bool(values[Attribute.LOCAL]),
                never_extractable=bool(values[Attribute.NEVER_EXTRACTABLE]),
                extractable=bool(values[Attribute.EXTRACTABLE]),
                sensitive=bool(values[Attribute.SENSITIVE]),
                always_sensitive=bool(values[Attribute.ALWAYS_SENSITIVE]),
                token=bool(values[Attribute.TOKEN]),
            )

        return self._run(run)

    def destroy(self, key: KeyRef) -> None:
        def run(session: PooledSession) -> None:
            resolve(session, key).destroy()

        self._run(run)
        self._pool.forget_key(key.handle)

    def session_copy(self, key: KeyRef, label: str | None = None) -> KeyRef:
        """A session-object copy of a token key (``C_CopyObject``): twice as fast on SoftHSM.

        SoftHSM re-reads a token object's file on every use; a session object lives in memory.
        The copy is made in the process's login session, which stays open while any connection
        to the token is open, so the copy lives as long; it keeps the original's SENSITIVE and
        non-EXTRACTABLE. It has the same label and id: after a reconnect (which ends the login
        session and the copy) the ref resolves to the token key again. Tokens that forbid
        copying (``CKA_COPYABLE`` false) raise :class:`Pkcs11Error`. With ``label`` the copy is
        labelled apart, and then never resolves to the token key (it can be destroyed safely).
        """
        if self._pool.closed:
            raise TokenUnavailable(f"the connection to token {self._label!r} is closed")
        try:
            with logins.using(self._login) as raw:
                found = find_keys_in(raw, key.label, key.key_id, token_only=True)
                match = [obj for obj in found if obj.handle == key.handle] or found
                if len(match) != 1:
                    raise TokenKeyNotFound(f"key {key.label!r} is not on token {self._label!r}")
                attributes: dict[Attribute, object] = {Attribute.TOKEN: False}
                if label is not None:
                    attributes[Attribute.LABEL] = label
                copy = match[0].copy(attributes)
        except p11x.PKCS11Error as exc:
            raise self._translate(exc) from None
        return KeyRef(copy.handle, label or key.label, key.key_id)

    def make_unextractable(self, key: KeyRef) -> None:
        """Set CKA_EXTRACTABLE to false (one way: PKCS#11 forbids setting it back)."""

        def run(session: PooledSession) -> None:
            resolve(session, key)[Attribute.EXTRACTABLE] = False

        self._run(run)

    def receive_key(
        self,
        sender: TokenConnection,
        key: KeyRef,
        label: str,
        *,
        key_id: bytes,
        wrapping: bool = False,
    ) -> KeyRef:
        """Copy an extractable AES key from ``sender``'s token into this one, never in clear.

        This token makes a session RSA key pair; the sender wraps the key under its public
        half (RSA-OAEP SHA-1, all SoftHSM 2.6 offers) and this token unwraps it with the private
        half into a non-extractable token object; the pair is destroyed right after.
        """
        capabilities = MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT
        if wrapping:
            capabilities |= MechanismFlag.WRAP | MechanismFlag.UNWRAP

        def run(session: PooledSession) -> KeyRef:
            public, private = session.raw.generate_keypair(
                KeyType.RSA,
                3072,
                store=False,
                capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP,
            )
            try:
                wrapped = sender.wrap_with_rsa_public_key(rsa_public_der(public), key)
                copy = private.unwrap_key(
                    ObjectClass.SECRET_KEY,
                    KeyType.AES,
                    wrapped,
                    id=key_id,
                    label=label,
                    mechanism=Mechanism.RSA_PKCS_OAEP,
                    mechanism_param=(Mechanism.SHA_1, _MGF1_SHA1, None),
                    store=True,
                    capabilities=capabilities,
                    template={
                        Attribute.PRIVATE: True,
                        Attribute.SENSITIVE: True,
                        Attribute.EXTRACTABLE: False,
                    },
                )
            finally:
                private.destroy()
                public.destroy()
            return KeyRef(copy.handle, label, key_id)

        return self._run(run)

    # -- crypto -------------------------------------------------------------------------------

    def gcm_encrypt(self, key: KeyRef, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """AES-GCM in the token with the caller's IV (at most 12 bytes); returns ct || tag.

        One C_EncryptInit and one C_Encrypt (gcm.py), not python-pkcs11's three calls.
        """
        _check_iv(iv)
        gcm = self._module.gcm

        def run(session: PooledSession) -> bytes:
            return gcm.encrypt(session.raw.handle, resolve(session, key).handle, iv, aad, plaintext)

        return self._run(run)

    def gcm_decrypt(self, key: KeyRef, iv: bytes, sealed: bytes, aad: bytes) -> bytes:
        """Inverse of :meth:`gcm_encrypt`; :class:`GcmAuthenticationFailed` on a bad tag or AAD."""
        _check_iv(iv)
        gcm = self._module.gcm

        def run(session: PooledSession) -> bytes:
            try:
                return gcm.decrypt(
                    session.raw.handle, resolve(session, key).handle, iv, aad, sealed
                )
            except (p11x.GeneralError, p11x.EncryptedDataInvalid, p11x.EncryptedDataLenRange):
                # SoftHSM 2.6 reports a wrong tag as CKR_GENERAL_ERROR, which is also what it
                # says when the token's files are gone: tell the two apart.
                self._check_token_present()
                raise GcmAuthenticationFailed("AES-GCM authentication failed") from None

        return self._run(run)

    def random(self, n: int) -> bytes:
        """``n`` random bytes from the token's generator."""
        return self._run(lambda session: bytes(session.raw.generate_random(n * 8)))

    def wrap_key(self, wrapping: KeyRef, key: KeyRef) -> bytes:
        """Wrap an extractable key with CKM_AES_KEY_WRAP_PAD (to replicate it to another token)."""

        def run(session: PooledSession) -> bytes:
            return bytes(
                resolve(session, wrapping).wrap_key(
                    resolve(session, key), mechanism=Mechanism.AES_KEY_WRAP_PAD
                )
            )

        return self._run(run)

    def unwrap_aes_key(
        self,
        wrapping: KeyRef,
        wrapped: bytes,
        label: str,
        *,
        key_id: bytes,
        extractable: bool = False,
    ) -> KeyRef:
        """Unwrap a KWP-wrapped AES key into a token object (SENSITIVE, ENCRYPT/DECRYPT)."""

        def run(session: PooledSession) -> KeyRef:
            key = resolve(session, wrapping).unwrap_key(
                ObjectClass.SECRET_KEY,
                KeyType.AES,
                wrapped,
                id=key_id,
                label=label,
                mechanism=Mechanism.AES_KEY_WRAP_PAD,
                store=True,
                capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                template={
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: extractable,
                },
            )
            session.objects[key.handle] = key
            return KeyRef(key.handle, label, key_id)

        return self._run(run)

    def wrap_with_rsa_public_key(self, public_der: bytes, key: KeyRef) -> bytes:
        """Wrap an extractable key with RSA-OAEP (SHA-1, MGF1-SHA-1) under a DER public key."""
        template = rsa_public_template(public_der)

        def run(session: PooledSession) -> bytes:
            public = session.raw.create_object(template)
            try:
                return bytes(
                    public.wrap_key(
                        resolve(session, key),
                        mechanism=Mechanism.RSA_PKCS_OAEP,
                        mechanism_param=(Mechanism.SHA_1, _MGF1_SHA1, None),
                    )
                )
            finally:
                public.destroy()

        return self._run(run)

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the sessions and log out (if no other connection of the process uses the token)."""
        if self._pool.close():  # once, even when threads race to close
            logins.release(self._login)

    def _run(self, operation: Callable[[PooledSession], T]) -> T:
        """Run ``operation`` on a pooled session; retry once after a stale key or lost session.

        A key that is not (any more) found is either destroyed, or invisible because the
        process was logged out, or its token is gone: the session state and a token search
        tell which, and only a lost login or session costs a reconnect.
        """
        for attempt in (1, 2):
            stale = lost = None
            session = self._pool.take(_CHECKOUT_TIMEOUT)
            if session is None:
                raise TokenUnavailable(self._why_no_session())
            try:
                return operation(session)
            except _NOT_FOUND_ERRORS as exc:
                session.objects.clear()
                if self._module.user_logged_in(session.raw.handle):
                    stale = exc
                else:
                    session.broken = True
                    lost = exc
            except _SESSION_ERRORS as exc:
                session.broken = True
                lost = exc
            except p11x.PKCS11Error as exc:
                self._pool.count_error()
                raise self._translate(exc) from None
            finally:
                self._pool.give(session)
            # The session is back in the pool (or closed) while we recover.
            if stale is not None:
                self._check_token_present()
                if attempt == 2 or isinstance(stale, TokenKeyNotFound):
                    raise TokenKeyNotFound(f"a key is no longer on token {self._label!r}") from None
            elif lost is not None:
                if attempt == 2:
                    raise TokenUnavailable(
                        f"token {self._label!r} is unavailable ({type(lost).__name__})"
                    )
                self._reconnect(session.generation)
        raise AssertionError("unreachable")

    def _translate(self, exc: Exception) -> Pkcs11Error:
        """No python-pkcs11 exception leaves the driver; the CKR name is kept for operators."""
        name = type(exc).__name__
        if isinstance(exc, (p11x.KeyUnextractable, p11x.KeyNotWrappable)):
            return AttributeCheckFailed(f"token {self._label!r} refused: {name}")
        return Pkcs11Error(f"token {self._label!r} failed the operation: {name}")

    def _open_session(self) -> Any:
        try:
            return self._token.open(rw=True)
        except p11x.PKCS11Error as exc:
            raise TokenUnavailable(
                f"cannot open a session on token {self._label!r} ({type(exc).__name__})"
            ) from None

    def _why_no_session(self) -> str:
        if self._pool.closed:
            return f"the connection to token {self._label!r} is closed"
        return f"no session of token {self._label!r} became free in {_CHECKOUT_TIMEOUT:.0f} s"

    def _check_token_present(self) -> None:
        try:
            self._module.find_token(self._label)
        except TokenNotFound as exc:
            raise TokenUnavailable(str(exc)) from None

    def _reconnect(self, seen_generation: int) -> None:
        """Find the token again, renew the process's login if it was lost, start a new pool.

        Threads that lost their sessions at the same time reconnect once: the pool's
        generation says whether another thread did it already.
        """
        with self._reconnecting:
            if self._pool.generation != seen_generation:
                return
            self._pool.reset()
            try:
                token = self._module.find_token(self._label)
            except TokenNotFound as exc:
                raise TokenUnavailable(str(exc)) from None
            self._token = token
            logins.renew(self._login, token, self.__pin, self._module.user_logged_in)


def _check_iv(iv: bytes) -> None:
    if not 0 < len(iv) <= _GCM_IV_MAX:
        raise ValueError(f"the GCM IV must be 1..{_GCM_IV_MAX} bytes")
