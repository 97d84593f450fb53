"""The PKCS#11 driver against a real SoftHSM2 token: keys, attributes, GCM, PINs, lifecycle."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pkcs11 import Attribute
from pkcs11 import exceptions as p11x

from strongroom.kms.keystores.pkcs11 import (
    GcmAuthenticationFailed,
    PinIncorrect,
    TokenConnection,
    TokenKeyNotFound,
    TokenNotFound,
    TokenUnavailable,
    load_module,
)
from tests.support.softhsm import MODULE, SoftHsmToken, create_token

IV = bytes(range(12))


def test_generated_key_is_local_never_extractable_and_sensitive(conn: TokenConnection) -> None:
    key = conn.generate_aes_key("root-v1", key_id=b"\x01")
    attrs = conn.attributes(key)
    assert attrs.label == "root-v1"
    assert attrs.local and attrs.never_extractable and attrs.sensitive and attrs.always_sensitive
    assert attrs.token and not attrs.extractable
    assert repr(key) == "KeyRef(label='root-v1')"


def test_reading_the_value_of_a_generated_key_is_refused(
    conn: TokenConnection, softhsm_token: SoftHsmToken
) -> None:
    conn.generate_aes_key("secret", key_id=b"s")
    token = load_module(MODULE).find_token(softhsm_token.label)
    with token.open() as session:
        (key,) = session.get_objects({Attribute.LABEL: "secret"})
        with pytest.raises(p11x.AttributeSensitive):
            key[Attribute.VALUE]


def test_session_key_is_not_a_token_object(conn: TokenConnection) -> None:
    key = conn.generate_aes_key("ephemeral", key_id=b"e", token_object=False, extractable=True)
    attrs = conn.attributes(key)
    assert not attrs.token and attrs.extractable and not attrs.never_extractable


def test_gcm_round_trip_and_layout(conn: TokenConnection) -> None:
    key = conn.generate_aes_key("gcm", key_id=b"g")
    sealed = conn.gcm_encrypt(key, IV, b"attack at dawn", b"context")
    assert len(sealed) == len(b"attack at dawn") + 16
    assert conn.gcm_decrypt(key, IV, sealed, b"context") == b"attack at dawn"
    assert conn.gcm_decrypt(key, IV, conn.gcm_encrypt(key, IV, b"", b""), b"") == b""


def test_gcm_wrong_aad_or_tag_fails_authentication(conn: TokenConnection) -> None:
    key = conn.generate_aes_key("gcm", key_id=b"g")
    sealed = conn.gcm_encrypt(key, IV, b"payload", b"aad")
    with pytest.raises(GcmAuthenticationFailed):
        conn.gcm_decrypt(key, IV, sealed, b"other aad")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(GcmAuthenticationFailed):
        conn.gcm_decrypt(key, IV, tampered, b"aad")
    # The connection stays usable after authentication failures.
    assert conn.gcm_decrypt(key, IV, sealed, b"aad") == b"payload"


def test_gcm_iv_longer_than_12_bytes_is_refused(conn: TokenConnection) -> None:
    key = conn.generate_aes_key("gcm", key_id=b"g")
    with pytest.raises(ValueError, match="IV"):
        conn.gcm_encrypt(key, bytes(16), b"x", b"")


def test_find_key_by_label(conn: TokenConnection) -> None:
    assert conn.find_aes_key("absent") is None
    made = conn.generate_aes_key("findme", key_id=b"\x07")
    found = conn.find_aes_key("findme")
    assert found is not None and found.key_id == b"\x07"
    assert conn.gcm_decrypt(found, IV, conn.gcm_encrypt(made, IV, b"m", b""), b"") == b"m"


def test_random_returns_bytes_not_bits(conn: TokenConnection) -> None:
    first, second = conn.random(32), conn.random(32)
    assert len(first) == 32 and len(second) == 32 and first != second


def test_destroyed_key_is_not_found_any_more(conn: TokenConnection) -> None:
    key = conn.generate_aes_key("doomed", key_id=b"d")
    conn.destroy(key)
    assert conn.find_aes_key("doomed") is None
    with pytest.raises(TokenKeyNotFound):
        conn.gcm_encrypt(key, IV, b"x", b"")


def test_wrong_pin_is_pin_incorrect_and_never_echoed(softhsm_token: SoftHsmToken) -> None:
    with pytest.raises(PinIncorrect) as caught:
        TokenConnection.open(softhsm_token.module, softhsm_token.label, "not-the-pin-4242")
    assert "not-the-pin-4242" not in str(caught.value)


def test_wrong_pin_is_refused_while_the_process_is_logged_in(conn: TokenConnection) -> None:
    with pytest.raises(PinIncorrect):
        TokenConnection.open(MODULE, conn.token_label, "not-the-pin-4242")
    assert len(conn.random(4)) == 4


def test_second_connection_shares_the_login_and_outlives_the_first(
    softhsm_token: SoftHsmToken,
) -> None:
    first = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    second = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    key = first.generate_aes_key("shared", key_id=b"1")
    first.close()
    # PRIVATE objects stay usable: closing one connection did not log the process out.
    assert second.gcm_decrypt(key, IV, second.gcm_encrypt(key, IV, b"y", b""), b"") == b"y"
    second.close()


def test_unknown_token_is_token_not_found() -> None:
    with pytest.raises(TokenNotFound, match="no-such-token"):
        TokenConnection.open(MODULE, "no-such-token", "whatever")


def test_close_makes_every_call_token_unavailable(softhsm_token: SoftHsmToken) -> None:
    conn = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    key = conn.generate_aes_key("k", key_id=b"k")
    conn.close()
    with pytest.raises(TokenUnavailable):
        conn.gcm_encrypt(key, IV, b"x", b"")
    with pytest.raises(TokenUnavailable):
        conn.random(1)
    assert "closed" in repr(conn)
    # The process is logged out: a new connection must log in again with the PIN.
    with pytest.raises(PinIncorrect):
        TokenConnection.open(softhsm_token.module, softhsm_token.label, "bad-pin-0000")


def test_token_serial_and_label(conn: TokenConnection, softhsm_token: SoftHsmToken) -> None:
    assert conn.token_label == softhsm_token.label
    assert conn.token_serial and conn.token_serial.isalnum()
    assert softhsm_token.pin not in repr(conn)


def test_material_encrypted_in_token_opens_in_software_with_same_key() -> None:
    """The GCM output is standard: a key of known value gives what cryptography gives."""
    token = create_token()
    conn = TokenConnection.open(token.module, token.label, token.pin)
    try:
        from tests.support.softhsm import import_aes_key

        value = bytes(range(32))
        import_aes_key(token, "known", value)
        key = conn.find_aes_key("known")
        assert key is not None
        sealed = conn.gcm_encrypt(key, IV, b"interop", b"aad")
        assert AESGCM(value).decrypt(IV, sealed, b"aad") == b"interop"
    finally:
        conn.close()


def test_session_copy_is_sensitive_in_memory_and_the_same_key(conn: TokenConnection) -> None:
    key = conn.generate_aes_key("root", key_id=b"r")
    copy = conn.session_copy(key)
    attrs = conn.attributes(copy)
    assert not attrs.token and attrs.sensitive and not attrs.extractable
    assert attrs.never_extractable and attrs.local
    sealed = conn.gcm_encrypt(copy, IV, b"copied", b"")
    assert conn.gcm_decrypt(key, IV, sealed, b"") == b"copied"
    found = conn.find_aes_key("root")  # token objects only: the copy does not make it ambiguous
    assert found is not None and conn.attributes(found).token
    conn.destroy(copy)
    assert conn.gcm_decrypt(key, IV, sealed, b"") == b"copied"


def test_max_sessions_must_be_positive(softhsm_token: SoftHsmToken) -> None:
    with pytest.raises(ValueError, match="max_sessions"):
        TokenConnection.open(
            softhsm_token.module, softhsm_token.label, softhsm_token.pin, max_sessions=0
        )
