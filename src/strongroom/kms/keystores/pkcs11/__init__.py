"""A PKCS#11 driver: one logged-in, thread-safe connection per token and process.

Built on python-pkcs11; ``Any`` from that untyped library stays inside this package.
"""

from strongroom.kms.keystores.pkcs11.connection import TokenConnection
from strongroom.kms.keystores.pkcs11.errors import (
    AttributeCheckFailed,
    GcmAuthenticationFailed,
    PinIncorrect,
    PinLocked,
    Pkcs11Error,
    TokenKeyNotFound,
    TokenNotFound,
    TokenUnavailable,
)
from strongroom.kms.keystores.pkcs11.keys import KeyAttributes, KeyRef
from strongroom.kms.keystores.pkcs11.library import Pkcs11Module, load_module

__all__ = [
    "AttributeCheckFailed",
    "GcmAuthenticationFailed",
    "KeyAttributes",
    "KeyRef",
    "PinIncorrect",
    "PinLocked",
    "Pkcs11Error",
    "Pkcs11Module",
    "TokenConnection",
    "TokenKeyNotFound",
    "TokenNotFound",
    "TokenUnavailable",
    "load_module",
]
