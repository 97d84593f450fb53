"""Loading a PKCS#11 module once per process, initialised for use from many threads.

python-pkcs11 0.10.1 calls ``C_Initialize(NULL)``, which tells the module the application will not
call it from several threads at once, and then releases the GIL around every call. SoftHSM2 then
runs without mutexes and concurrent sessions crash the process (segfaults, heap corruption). So we
call ``C_Initialize`` ourselves through ctypes with ``CKF_OS_LOCKING_OK`` first, and hand
python-pkcs11 a ``lib`` whose ``initialize`` does nothing.

A forked child inherits the parent's module state but none of its sessions are usable there; the
PKCS#11 rule is that a child must initialise afresh. :func:`load_module` remembers the pid that
initialised a module and finalises and re-initialises it in a child before handing it out.
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any

from pkcs11 import _pkcs11
from pkcs11 import exceptions as p11x

from strongroom.kms.keystores.pkcs11.errors import Pkcs11Error, TokenNotFound
from strongroom.kms.keystores.pkcs11.gcm import GcmCalls

_CKF_OS_LOCKING_OK = 0x2
_CKR_OK = 0
_CKR_CRYPTOKI_NOT_INITIALIZED = 0x190
_CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191
# Positions in CK_FUNCTION_LIST (after the CK_VERSION, which is padded to one pointer).
_C_INITIALIZE = 1
_C_FINALIZE = 2
_CKS_RO_USER_FUNCTIONS = 1
_CKS_RW_USER_FUNCTIONS = 3


class _InitArgs(ctypes.Structure):
    _fields_ = (
        ("CreateMutex", ctypes.c_void_p),
        ("DestroyMutex", ctypes.c_void_p),
        ("LockMutex", ctypes.c_void_p),
        ("UnlockMutex", ctypes.c_void_p),
        ("flags", ctypes.c_ulong),
        ("pReserved", ctypes.c_void_p),
    )


class _SessionInfo(ctypes.Structure):
    _fields_ = (
        ("slotID", ctypes.c_ulong),
        ("state", ctypes.c_ulong),
        ("flags", ctypes.c_ulong),
        ("ulDeviceError", ctypes.c_ulong),
    )


class _PreInitialisedLib(_pkcs11.lib):
    """python-pkcs11's ``lib`` without its own ``C_Initialize(NULL)``: we did it already."""

    def initialize(self) -> None:
        return None


_CFunc = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)


class Pkcs11Module:
    """One loaded PKCS#11 module (a shared library) of this process."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._dll = ctypes.CDLL(path)
        function_list = ctypes.c_void_p()
        rv = self._dll.C_GetFunctionList(ctypes.byref(function_list))
        if rv != _CKR_OK:
            raise Pkcs11Error(f"C_GetFunctionList of {path} failed (0x{rv:x})")
        table = ctypes.cast(function_list, ctypes.POINTER(ctypes.c_void_p))
        self._c_initialize = _CFunc(table[_C_INITIALIZE])
        self._c_finalize = _CFunc(table[_C_FINALIZE])
        # The data-plane AES-GCM calls (gcm.py); the function list stays valid after a fork.
        self.gcm = GcmCalls(function_list)
        self._args = _InitArgs(None, None, None, None, _CKF_OS_LOCKING_OK, None)
        self._initialize()
        self.pid = os.getpid()
        self._lib: Any = _PreInitialisedLib(path)
        # A module stays loaded for the life of the process. Keeping one reference forever also
        # means python-pkcs11's __dealloc__ never runs at interpreter exit, where it would look
        # up ``unload`` on our subclass after the class was torn down and print an error.
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(self._lib))

    def _initialize(self) -> None:
        rv = self._c_initialize(ctypes.byref(self._args))
        if rv not in (_CKR_OK, _CKR_CRYPTOKI_ALREADY_INITIALIZED):
            raise Pkcs11Error(f"C_Initialize of {self.path} failed (0x{rv:x})")

    def reinitialize_after_fork(self) -> None:
        """Drop the state inherited from the parent and initialise for this process."""
        rv = self._c_finalize(None)
        if rv not in (_CKR_OK, _CKR_CRYPTOKI_NOT_INITIALIZED):
            raise Pkcs11Error(f"C_Finalize of {self.path} failed (0x{rv:x})")
        self._initialize()
        self.pid = os.getpid()

    @property
    def raw(self) -> Any:
        """The python-pkcs11 ``lib`` (slots, tokens), for tests and tools."""
        return self._lib

    def user_logged_in(self, session_handle: int) -> bool:
        """Whether a session is in a user state (python-pkcs11 has no C_GetSessionInfo).

        Private keys are invisible to a logged-out session, so "key not found" may mean
        "logged out" (an HSM that dropped the login, say); this tells the two apart.
        """
        info = _SessionInfo()
        rv = self._dll.C_GetSessionInfo(ctypes.c_ulong(session_handle), ctypes.byref(info))
        return rv == _CKR_OK and info.state in (_CKS_RO_USER_FUNCTIONS, _CKS_RW_USER_FUNCTIONS)

    def find_token(self, label: str) -> Any:
        """The token with this label (labels, not slot ids: SoftHSM renumbers slots).

        A slot whose token info cannot be read (SoftHSM answers CKR_GENERAL_ERROR for a token
        whose files were removed) is skipped rather than failing the search for the others.
        """
        try:
            slots = self._lib.get_slots(token_present=True)
        except p11x.PKCS11Error as exc:
            raise TokenNotFound(f"cannot list slots of {self.path}: {type(exc).__name__}") from None
        tokens = []
        for slot in slots:
            try:
                token = slot.get_token()
            except p11x.PKCS11Error:
                continue
            if token.label == label:
                tokens.append(token)
        if not tokens:
            raise TokenNotFound(f"no token labelled {label!r} in {self.path}")
        if len(tokens) > 1:
            raise TokenNotFound(f"{len(tokens)} tokens are labelled {label!r} in {self.path}")
        return tokens[0]

    def __repr__(self) -> str:
        return f"Pkcs11Module({self.path!r})"


_modules: dict[str, Pkcs11Module] = {}
_lock = threading.Lock()


def load_module(path: str) -> Pkcs11Module:
    """The process-wide module for ``path``, initialised in this process (also after a fork)."""
    real = os.path.realpath(path)
    with _lock:
        module = _modules.get(real)
        if module is None:
            try:
                module = Pkcs11Module(real)
            except OSError as exc:
                raise Pkcs11Error(f"cannot load PKCS#11 module {path}: {exc}") from None
            _modules[real] = module
        elif module.pid != os.getpid():
            module.reinitialize_after_fork()
        return module
