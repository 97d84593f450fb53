"""The per-process login to a token, shared by every connection of the process to that token.

PKCS#11 logs in an *application* (a process), not a session: ``C_Login`` on one session logs in
all of them, a second ``C_Login`` fails with ``CKR_USER_ALREADY_LOGGED_IN``, and python-pkcs11's
``Session.close()`` on the session that logged in calls ``C_Logout``, which logs the whole
process out. So each process keeps one login session per token open for as long as any
connection to that token is open, counts its users, and logs out when the last one closes.
A second connection must present the same PIN (compared as salted digests, so a wrong PIN is
refused even though the token is already logged in).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pkcs11 import exceptions as p11x

from strongroom.kms.keystores.pkcs11.errors import (
    PinIncorrect,
    PinLocked,
    Pkcs11Error,
    TokenUnavailable,
)

_SALT = os.urandom(16)


def _digest(pin: str) -> bytes:
    return hashlib.sha256(_SALT + pin.encode()).digest()


@dataclass(eq=False)
class Login:
    """A logged-in session kept open (never closed while in use) and its users."""

    key: tuple[int, str, str]
    session: Any
    pin_digest: bytes = field(repr=False)
    users: int = 1

    def __repr__(self) -> str:
        return f"Login(token={self.key[2]!r}, users={self.users})"


_logins: dict[tuple[int, str, str], Login] = {}
_lock = threading.Lock()


def _open_login_session(token: Any, label: str, pin: str) -> Any:
    try:
        return token.open(rw=True, user_pin=pin)
    except p11x.PinIncorrect:
        raise PinIncorrect(f"token {label!r} refused the PIN") from None
    except p11x.PinLocked:
        raise PinLocked(f"the user PIN of token {label!r} is locked") from None
    except (p11x.PinLenRange, p11x.PinInvalid):
        raise PinIncorrect(f"token {label!r} refused the PIN (length or characters)") from None
    except p11x.UserAlreadyLoggedIn:
        # Logged in by code outside this registry in this process: share it, never log it out.
        return token.open(rw=True)
    except (p11x.TokenNotPresent, p11x.DeviceRemoved, p11x.DeviceError, p11x.SlotIDInvalid) as exc:
        raise TokenUnavailable(f"token {label!r} is unavailable ({type(exc).__name__})") from None
    except p11x.PKCS11Error as exc:
        raise Pkcs11Error(f"login to token {label!r} failed ({type(exc).__name__})") from None


def acquire(module_path: str, token: Any, label: str, pin: str) -> Login:
    """Log this process in to the token, or join its existing login with the same PIN."""
    key = (os.getpid(), module_path, label)
    with _lock:
        login = _logins.get(key)
        if login is not None:
            if not hmac.compare_digest(login.pin_digest, _digest(pin)):
                raise PinIncorrect(f"token {label!r} refused the PIN")
            login.users += 1
            return login
        login = Login(key, _open_login_session(token, label, pin), _digest(pin))
        _logins[key] = login
        return login


@contextlib.contextmanager
def using(login: Login) -> Iterator[Any]:
    """The login session itself, for the rare work that must outlive pooled sessions."""
    with _lock:
        yield login.session


def renew(login: Login, token: Any, pin: str, logged_in: Callable[[int], bool]) -> None:
    """Log in again if the login session lost its login (another thread may have done it)."""
    with _lock:
        if logged_in(login.session.handle):
            return
        _close_quietly(login.session)
        login.session = _open_login_session(token, login.key[2], pin)


def release(login: Login) -> None:
    """Drop one user; the last one logs the process out."""
    with _lock:
        login.users -= 1
        if login.users > 0:
            return
        if _logins.get(login.key) is login:
            del _logins[login.key]
        _close_quietly(login.session)


def _close_quietly(session: Any) -> None:
    # A session or token that is already gone has nothing left to log out.
    with contextlib.suppress(p11x.PKCS11Error):
        session.close()
