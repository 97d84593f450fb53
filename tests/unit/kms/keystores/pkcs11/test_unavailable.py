"""A token that disappears under a running connection gives TokenUnavailable, others go on."""

from __future__ import annotations

import ctypes
import multiprocessing
from collections.abc import Callable
from typing import Any

import pytest

from strongroom.kms.keystores.pkcs11 import (
    TokenConnection,
    TokenKeyNotFound,
    TokenNotFound,
    TokenUnavailable,
    load_module,
)
from tests.support.softhsm import SoftHsmToken, bring_back, remove_token, take_away

IV = bytes(12)


def test_removed_token_is_unavailable_and_other_tokens_keep_working(
    softhsm_tokens: Callable[[int], list[SoftHsmToken]],
) -> None:
    gone, kept = softhsm_tokens(2)
    lost = TokenConnection.open(gone.module, gone.label, gone.pin)
    other = TokenConnection.open(kept.module, kept.label, kept.pin)
    try:
        lost_key = lost.generate_aes_key("k", key_id=b"1")
        kept_key = other.generate_aes_key("k", key_id=b"1")
        assert lost.gcm_encrypt(lost_key, IV, b"x", b"")
        remove_token(gone)
        with pytest.raises(TokenUnavailable, match=gone.label):
            lost.gcm_encrypt(lost_key, IV, b"x", b"")
        with pytest.raises(TokenUnavailable):
            lost.generate_aes_key("k2", key_id=b"2")
        with pytest.raises(TokenNotFound):
            TokenConnection.open(gone.module, gone.label, gone.pin)
        sealed = other.gcm_encrypt(kept_key, IV, b"still here", b"")
        assert other.gcm_decrypt(kept_key, IV, sealed, b"") == b"still here"
    finally:
        lost.close()
        other.close()


def test_a_dropped_login_is_renewed_and_the_operation_retried(
    softhsm_tokens: Callable[[int], list[SoftHsmToken]],
) -> None:
    """An HSM may drop a login (failover, timeout): private keys vanish from every session."""
    (token,) = softhsm_tokens(1)
    conn = TokenConnection.open(token.module, token.label, token.pin)
    try:
        key = conn.generate_aes_key("k", key_id=b"1")
        sealed = conn.gcm_encrypt(key, IV, b"kept", b"")
        # Log the process out behind the driver's back, through another session.
        with load_module(token.module).find_token(token.label).open() as other:
            assert ctypes.CDLL(token.module).C_Logout(ctypes.c_ulong(other.handle)) == 0
        assert conn.gcm_decrypt(key, IV, sealed, b"") == b"kept"
        conn.destroy(key)
        with pytest.raises(TokenKeyNotFound):  # a destroyed key is not a lost login
            conn.gcm_decrypt(key, IV, sealed, b"")
    finally:
        conn.close()


def _decrypt_in_child(module: str, label: str, pin: str, sealed: bytes, queue: Any) -> None:
    conn = TokenConnection.open(module, label, pin)
    key = conn.find_aes_key("k")
    assert key is not None
    queue.put(conn.gcm_decrypt(key, IV, sealed, b""))
    conn.close()


def test_a_token_taken_away_is_back_for_a_new_process(
    softhsm_tokens: Callable[[int], list[SoftHsmToken]],
) -> None:
    (token,) = softhsm_tokens(1)
    conn = TokenConnection.open(token.module, token.label, token.pin)
    try:
        key = conn.generate_aes_key("k", key_id=b"1")
        sealed = conn.gcm_encrypt(key, IV, b"survives", b"")
        away = take_away(token)
        with pytest.raises(TokenUnavailable):
            conn.gcm_decrypt(key, IV, sealed, b"")
        bring_back(away)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(
            target=_decrypt_in_child, args=(token.module, token.label, token.pin, sealed, queue)
        )
        child.start()
        assert queue.get(timeout=60) == b"survives"
        child.join(30)
        assert child.exitcode == 0
    finally:
        conn.close()
