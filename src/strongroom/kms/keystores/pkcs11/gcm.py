"""AES-GCM in a token: C_EncryptInit + one C_Encrypt (C_DecryptInit + one C_Decrypt).

This is the data-plane call of every Encrypt, Decrypt and GenerateDataKey under a key of a
custom key store (ADR 0035). python-pkcs11's ``encrypt``/``decrypt`` make three calls into the
module per operation (the init, a C_Encrypt that only asks for the output size, the C_Encrypt
itself) and build a mechanism object, an 8 KiB output buffer object and a lock round trip each
time. GCM's output size is known before the call (plaintext plus the tag; a plaintext is never
longer than its ciphertext), so here the output buffer is sized first and the module is entered
twice. With SoftHSM2 in our process, every entry also costs the request around it: SoftHSM's
work evicts the interpreter's caches and the request's Python then runs slower (measured in
bench/README.md, "Custom key stores").

Calls go through the module's function list (as python-pkcs11's do) and release the GIL (a
networked HSM answers in milliseconds). A failure raises the python-pkcs11 exception of its
CKR_ code, so :class:`~strongroom.kms.keystores.pkcs11.connection.TokenConnection` handles a
lost session, a stale key or a bad tag exactly as it does for every other operation.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from pkcs11 import exceptions as p11x

_CKM_AES_GCM = 0x1087
_TAG_BYTES = 16
# Positions in CK_FUNCTION_LIST (after the CK_VERSION, which is padded to one pointer).
_C_ENCRYPT_INIT = 30
_C_ENCRYPT = 31
_C_DECRYPT_INIT = 34
_C_DECRYPT = 35
_CKR_OK = 0
_CKR_BUFFER_TOO_SMALL = 0x150

# CKR_ codes -> python-pkcs11's exceptions (those TokenConnection tells apart, and the ones a
# GCM call can plausibly return); any other code is a plain PKCS11Error naming it.
_ERRORS: dict[int, type[p11x.PKCS11Error]] = {
    0x02: p11x.HostMemory,
    0x03: p11x.SlotIDInvalid,
    0x05: p11x.GeneralError,
    0x06: p11x.FunctionFailed,
    0x07: p11x.ArgumentsBad,
    0x20: p11x.DataInvalid,
    0x21: p11x.DataLenRange,
    0x30: p11x.DeviceError,
    0x31: p11x.DeviceMemory,
    0x32: p11x.DeviceRemoved,
    0x40: p11x.EncryptedDataInvalid,
    0x41: p11x.EncryptedDataLenRange,
    0x60: p11x.KeyHandleInvalid,
    0x63: p11x.KeyTypeInconsistent,
    0x70: p11x.MechanismInvalid,
    0x71: p11x.MechanismParamInvalid,
    0x82: p11x.ObjectHandleInvalid,
    0x90: p11x.OperationActive,
    0x91: p11x.OperationNotInitialized,
    0xB0: p11x.SessionClosed,
    0xB3: p11x.SessionHandleInvalid,
    0xE0: p11x.TokenNotPresent,
    0xE1: p11x.TokenNotRecognised,
    0x101: p11x.UserNotLoggedIn,
}


class _GcmParams(ctypes.Structure):
    # CK_GCM_PARAMS of PKCS#11 v2.40 (the layout python-pkcs11 and SoftHSM 2.6 use).
    _fields_ = (
        ("pIv", ctypes.c_char_p),
        ("ulIvLen", ctypes.c_ulong),
        ("ulIvBits", ctypes.c_ulong),
        ("pAAD", ctypes.c_char_p),
        ("ulAADLen", ctypes.c_ulong),
        ("ulTagBits", ctypes.c_ulong),
    )


class _Mechanism(ctypes.Structure):
    _fields_ = (
        ("mechanism", ctypes.c_ulong),
        ("pParameter", ctypes.c_void_p),
        ("ulParameterLen", ctypes.c_ulong),
    )


_GCM_PARAMS_SIZE = ctypes.sizeof(_GcmParams)
# CFUNCTYPE foreign functions release the GIL during the call.
_Init = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_ulong, ctypes.POINTER(_Mechanism), ctypes.c_ulong)
_Crypt = ctypes.CFUNCTYPE(
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
    ctypes.POINTER(ctypes.c_ulong),
)


_Call = Callable[..., int]


def error_of(rv: int) -> p11x.PKCS11Error:
    """The python-pkcs11 exception for a CKR_ code."""
    kind = _ERRORS.get(rv)
    return kind() if kind is not None else p11x.PKCS11Error(f"CKR 0x{rv:x}")


class GcmCalls:
    """AES-GCM (128-bit tag, the caller's IV) through one module's function list."""

    __slots__ = ("_decrypt", "_decrypt_init", "_encrypt", "_encrypt_init")

    def __init__(self, function_list: ctypes.c_void_p) -> None:
        table = ctypes.cast(function_list, ctypes.POINTER(ctypes.c_void_p))
        self._encrypt_init: _Call = _Init(table[_C_ENCRYPT_INIT])
        self._encrypt: _Call = _Crypt(table[_C_ENCRYPT])
        self._decrypt_init: _Call = _Init(table[_C_DECRYPT_INIT])
        self._decrypt: _Call = _Crypt(table[_C_DECRYPT])

    def encrypt(self, session: int, key: int, iv: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """ct || tag of ``plaintext`` under the key object ``key``, in session ``session``."""
        self._init(self._encrypt_init, session, key, iv, aad)
        return _finish(self._encrypt, session, plaintext, len(plaintext) + _TAG_BYTES)

    def decrypt(self, session: int, key: int, iv: bytes, aad: bytes, sealed: bytes) -> bytes:
        """The plaintext of ct || tag; a wrong tag or AAD raises the module's error."""
        self._init(self._decrypt_init, session, key, iv, aad)
        return _finish(self._decrypt, session, sealed, len(sealed))

    @staticmethod
    def _init(function: _Call, session: int, key: int, iv: bytes, aad: bytes) -> None:
        params = _GcmParams(iv, len(iv), len(iv) * 8, aad, len(aad), _TAG_BYTES * 8)
        mechanism = _Mechanism(_CKM_AES_GCM, ctypes.addressof(params), _GCM_PARAMS_SIZE)
        rv = function(session, mechanism, key)
        if rv != _CKR_OK:
            raise error_of(rv)


def _finish(function: _Call, session: int, data: bytes, size: int) -> bytes:
    """The single-part call of an initialised operation, into a buffer of ``size`` bytes.

    A module that asks for more room (CKR_BUFFER_TOO_SMALL keeps the operation active and
    says how much) gets it once. One that still refuses leaves an operation active in the
    session: that is reported as a device error, so the session is thrown away.
    """
    for _ in range(2):
        out = ctypes.create_string_buffer(size)
        length = ctypes.c_ulong(size)
        rv = function(session, data, len(data), out, length)
        if rv == _CKR_OK:
            return ctypes.string_at(out, length.value)
        if rv != _CKR_BUFFER_TOO_SMALL:
            raise error_of(rv)  # the operation ended with the error
        if length.value <= size:
            break
        size = length.value
    raise p11x.DeviceError("the module asked for an output buffer it then refused")
