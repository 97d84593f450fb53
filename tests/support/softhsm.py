"""Isolated SoftHSM2 tokens for tests.

SoftHSM reads ``SOFTHSM2_CONF`` once, when the library is first initialised in a process, and
only then scans its token directory: a token that another process (``softhsm2-util
--init-token``) creates later is invisible to a process that already initialised the library.
So one pytest run uses ONE token directory and configuration (:func:`configure_session`, called
from ``tests/conftest.py`` before anything loads PKCS#11), and each test gets a fresh token with a
unique label that is initialised *in this process* through PKCS#11 itself (``C_InitToken`` on
the free slot, then ``C_InitPIN`` as the security officer; SoftHSM then adds a new free slot).
That also keeps the PINs out of any process's argv. Subprocesses (servers, CLI runs) inherit
``SOFTHSM2_CONF`` through the environment and see every token created before they start.

Making a token unavailable (:func:`remove_token`, :func:`take_away`): SoftHSM keeps each
token in a directory ``<tokendir>/<uuid>/`` and, with the file backend, re-reads the object
files on every use. Deleting or moving that directory under a running process makes later
operations on token objects fail (``CKR_OBJECT_HANDLE_INVALID``, ``CKR_GENERAL_ERROR`` for
new token objects) and the token's info unreadable, so the driver's retry (find the token by
label) fails too and callers see ``TokenUnavailable``; other tokens keep working. Session
objects and ``C_GenerateRandom`` keep working (they live in memory), unlike a real device
removal. In that process the token stays unavailable even if the directory comes back
(SoftHSM drops it); a process started after :func:`bring_back` (a restarted server
subprocess, say) sees it again, keys and all.
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pkcs11.exceptions import PKCS11Error

from strongroom.kms.keystores.pkcs11 import load_module

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SO_PIN = "so-87654321"
USER_PIN = "user-12345678"
_TOKEN_INITIALIZED = 0x400
_LABEL_LEN = 32
_counter = itertools.count(1)


@dataclass(frozen=True)
class SoftHsmToken:
    module: str
    label: str
    pin: str
    so_pin: str
    conf: Path
    token_dir: Path

    def __repr__(self) -> str:
        return f"SoftHsmToken(label={self.label!r})"


def configure_session(mechanisms: str = "ALL") -> Path:
    """Create this process's token directory and config, export SOFTHSM2_CONF; return the conf.

    ``mechanisms`` is SoftHSM's ``slots.mechanisms`` (benches compare a restricted list).
    """
    root = Path(tempfile.mkdtemp(prefix="strongroom-softhsm-"))
    tokens = root / "tokens"
    tokens.mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
        f"slots.mechanisms = {mechanisms}\n"
        "library.reset_on_fork = false\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return conf


def _conf() -> Path:
    conf = os.environ.get("SOFTHSM2_CONF")
    if not conf:
        raise RuntimeError("SOFTHSM2_CONF is not set; tests/conftest.py sets it")
    return Path(conf)


def _token_dir(conf: Path) -> Path:
    for line in conf.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.strip() == "directories.tokendir":
            return Path(value.strip())
    raise RuntimeError(f"{conf} names no token directory")


def _is_free(slot: object) -> bool:
    try:
        flags = slot.get_token().flags  # type: ignore[attr-defined]
    except PKCS11Error:
        return False  # a removed token (see remove_token) answers CKR_GENERAL_ERROR
    return not flags & _TOKEN_INITIALIZED


def create_token(prefix: str = "t", *, pin: str = USER_PIN, so_pin: str = SO_PIN) -> SoftHsmToken:
    """Initialise a fresh token with a unique label on the free slot of this process's SoftHSM."""
    conf = _conf()
    module = load_module(MODULE)
    label = f"{prefix}-{os.getpid()}-{next(_counter)}"
    free = [slot for slot in module.raw.get_slots(token_present=True) if _is_free(slot)]
    if not free:
        raise RuntimeError("SoftHSM offers no free slot")
    dll = ctypes.CDLL(MODULE)
    padded = label.encode().ljust(_LABEL_LEN, b" ")
    so = so_pin.encode()
    rv = dll.C_InitToken(ctypes.c_ulong(free[0].slot_id), so, ctypes.c_ulong(len(so)), padded)
    if rv != 0:
        raise RuntimeError(f"C_InitToken failed (0x{rv:x})")
    token = module.find_token(label)
    with token.open(rw=True, so_pin=so_pin) as session:
        session.init_pin(pin)
    return SoftHsmToken(MODULE, label, pin, so_pin, conf, _token_dir(conf))


def token_path(token: SoftHsmToken) -> Path:
    """The directory SoftHSM keeps this token's files in."""
    for child in token.token_dir.iterdir():
        info = child / "token.object"
        if info.exists() and token.label.encode().ljust(_LABEL_LEN) in info.read_bytes():
            return child
    raise FileNotFoundError(f"no directory for token {token.label!r}")


def remove_token(token: SoftHsmToken) -> None:
    """Delete the token's files under running processes: it becomes unavailable."""
    shutil.rmtree(token_path(token))


def take_away(token: SoftHsmToken) -> Path:
    """Move the token's files aside (unavailable to running processes); returns where to."""
    path = token_path(token)
    away = path.with_name(path.name + ".away")
    path.rename(away)
    return away


def bring_back(away: Path) -> None:
    """Undo :func:`take_away`, for processes started from now on."""
    away.rename(away.with_name(away.name.removesuffix(".away")))


def import_aes_key(token: SoftHsmToken, label: str, value: bytes) -> None:
    """Put a known AES wrapping key on a token (as an operator would by key ceremony).

    Uses python-pkcs11 directly; the process must already be logged in to the token (a
    TokenConnection to it is open), so a PIN-less session may create private objects.
    """
    from pkcs11 import Attribute, KeyType, ObjectClass

    with load_module(token.module).find_token(token.label).open(rw=True) as session:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.SECRET_KEY,
                Attribute.KEY_TYPE: KeyType.AES,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.WRAP: True,
                Attribute.UNWRAP: True,
                Attribute.LABEL: label,
                Attribute.ID: label.encode(),
                Attribute.VALUE: value,
            }
        )
