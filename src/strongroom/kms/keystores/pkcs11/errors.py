"""Errors of the PKCS#11 driver.

Every message names the token (by label) and what failed, never a PIN: callers log these and turn
them into API errors, so they must be safe to show an operator.
"""

from __future__ import annotations


class Pkcs11Error(Exception):
    """Base class of every error the driver raises."""


class TokenNotFound(Pkcs11Error):
    """No token with the label is present in the module's slots."""


class PinIncorrect(Pkcs11Error):
    """The token refused the PIN (the token counts the failure)."""


class PinLocked(Pkcs11Error):
    """The user PIN is locked after too many failures; a security officer must reset it."""


class TokenUnavailable(Pkcs11Error):
    """The token, device or session is gone (after one re-open retry), or the connection closed."""


class TokenKeyNotFound(Pkcs11Error):
    """No key with the label exists on the token (or it was destroyed)."""


class GcmAuthenticationFailed(Pkcs11Error):
    """AES-GCM decryption failed: wrong key, IV, AAD or tag."""


class AttributeCheckFailed(Pkcs11Error):
    """A key's attributes do not meet a requirement (for example LOCAL or NEVER_EXTRACTABLE)."""
