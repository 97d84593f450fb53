"""Key wrapping: KWP between two tokens, RSA-OAEP-SHA1 export checked by cryptography."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from strongroom.kms.keystores.pkcs11 import AttributeCheckFailed, Pkcs11Error, TokenConnection
from tests.support.softhsm import SoftHsmToken, import_aes_key

IV = bytes(12)
TRANSPORT = bytes(range(100, 132))


def test_kwp_wrap_on_one_token_unwrap_on_another(
    softhsm_tokens: Callable[[int], list[SoftHsmToken]],
) -> None:
    first, second = softhsm_tokens(2)
    a = TokenConnection.open(first.module, first.label, first.pin)
    b = TokenConnection.open(second.module, second.label, second.pin)
    try:
        import_aes_key(first, "transport", TRANSPORT)
        import_aes_key(second, "transport", TRANSPORT)
        wrap_a, wrap_b = a.find_aes_key("transport"), b.find_aes_key("transport")
        assert wrap_a is not None and wrap_b is not None
        key = a.generate_aes_key("replicated", key_id=b"r", extractable=True)
        blob = a.wrap_key(wrap_a, key)
        assert len(blob) == 40
        copy = b.unwrap_aes_key(wrap_b, blob, "replicated", key_id=b"r")
        sealed = a.gcm_encrypt(key, IV, b"cluster data", b"aad")
        assert b.gcm_decrypt(copy, IV, sealed, b"aad") == b"cluster data"
        attrs = b.attributes(copy)
        assert attrs.sensitive and not attrs.extractable and not attrs.local
        # RFC 5649: the software unwrap gives the same key.
        material = aes_key_unwrap_with_padding(TRANSPORT, blob)
        assert AESGCM(material).decrypt(IV, sealed, b"aad") == b"cluster data"
    finally:
        a.close()
        b.close()


def test_non_extractable_key_cannot_be_wrapped(softhsm_token: SoftHsmToken) -> None:
    conn = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    try:
        import_aes_key(softhsm_token, "transport", TRANSPORT)
        wrapping = conn.find_aes_key("transport")
        assert wrapping is not None
        key = conn.generate_aes_key("locked", key_id=b"l")
        with pytest.raises(AttributeCheckFailed, match="KeyUnextractable"):
            conn.wrap_key(wrapping, key)
    finally:
        conn.close()


def test_rsa_oaep_sha1_wrap_opens_in_software(softhsm_token: SoftHsmToken) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_der = private.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    conn = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    try:
        key = conn.generate_aes_key("export", key_id=b"x", extractable=True)
        wrapped = conn.wrap_with_rsa_public_key(public_der, key)
        assert len(wrapped) == 256
        # SHA-1 because SoftHSM 2.6.1 supports no other OAEP hash (docs/keystores.md).
        sha1 = hashes.SHA1()  # noqa: S303
        oaep = padding.OAEP(mgf=padding.MGF1(sha1), algorithm=sha1, label=None)
        material = private.decrypt(wrapped, oaep)
        assert len(material) == 32
        sealed = conn.gcm_encrypt(key, IV, b"byok", b"")
        assert AESGCM(material).decrypt(IV, sealed, b"") == b"byok"
    finally:
        conn.close()


def test_wrapping_with_a_non_rsa_public_key_is_refused(softhsm_token: SoftHsmToken) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    der = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    conn = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    try:
        key = conn.generate_aes_key("export", key_id=b"x", extractable=True)
        with pytest.raises(Pkcs11Error, match="not an RSA key"):
            conn.wrap_with_rsa_public_key(der, key)
    finally:
        conn.close()


def test_a_wrap_with_trusted_key_is_not_wrapped_by_an_untrusted_key(
    softhsm_token: SoftHsmToken,
) -> None:
    conn = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    try:
        import_aes_key(softhsm_token, "transport", TRANSPORT)
        wrapping = conn.find_aes_key("transport")
        assert wrapping is not None
        guarded = conn.generate_aes_key(
            "guarded", key_id=b"g", extractable=True, wrap_with_trusted=True
        )
        plain = conn.generate_aes_key("plain", key_id=b"p", extractable=True)
        assert len(conn.wrap_key(wrapping, plain)) == 40
        with pytest.raises(AttributeCheckFailed):
            conn.wrap_key(wrapping, guarded)
    finally:
        conn.close()
