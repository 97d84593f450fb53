"""AES-GCM through the function list: one init and one single-part call, python-pkcs11 errors."""

from __future__ import annotations

import ctypes

import pytest
from pkcs11 import Attribute, Mechanism
from pkcs11 import exceptions as p11x
from pkcs11.mechanisms import GCMParams

from strongroom.kms.keystores.pkcs11 import TokenConnection, load_module
from strongroom.kms.keystores.pkcs11.gcm import _finish, error_of
from tests.support.softhsm import SoftHsmToken

IV = bytes(range(12))


def test_same_bytes_as_python_pkcs11_both_ways(
    conn: TokenConnection, softhsm_token: SoftHsmToken
) -> None:
    key = conn.generate_aes_key("gcm-interop", key_id=b"i")
    token = load_module(softhsm_token.module).find_token(softhsm_token.label)
    with token.open() as session:
        (obj,) = session.get_objects({Attribute.LABEL: "gcm-interop"})
        for plaintext in (b"", b"x", bytes(4096)):
            theirs = bytes(
                obj.encrypt(
                    plaintext,
                    mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(IV, b"aad", 128),
                )
            )
            ours = conn.gcm_encrypt(key, IV, plaintext, b"aad")
            assert ours == theirs and len(ours) == len(plaintext) + 16
            assert conn.gcm_decrypt(key, IV, theirs, b"aad") == plaintext


def test_short_ivs_and_long_aad(conn: TokenConnection) -> None:
    key = conn.generate_aes_key("gcm-shapes", key_id=b"s")
    for iv in (IV[:1], IV[:8], IV):
        aad = bytes(range(256)) * 8
        assert conn.gcm_decrypt(key, iv, conn.gcm_encrypt(key, iv, b"m", aad), aad) == b"m"


def test_return_codes_become_python_pkcs11_errors() -> None:
    assert isinstance(error_of(0xB3), p11x.SessionHandleInvalid)
    assert isinstance(error_of(0x82), p11x.ObjectHandleInvalid)
    assert isinstance(error_of(0x05), p11x.GeneralError)
    assert isinstance(error_of(0x101), p11x.UserNotLoggedIn)
    unknown = error_of(0x7FFF)
    assert type(unknown) is p11x.PKCS11Error and "0x7fff" in str(unknown)


class _Module:
    """A stand-in for a module's C_Encrypt: answers with the codes it is given, in order."""

    def __init__(self, *answers: tuple[int, int]) -> None:
        self.answers = list(answers)
        self.sizes: list[int] = []

    def __call__(
        self, session: int, data: bytes, size: int, out: ctypes.Array[ctypes.c_char], length: object
    ) -> int:
        assert isinstance(length, ctypes.c_ulong)
        self.sizes.append(length.value)
        rv, wanted = self.answers.pop(0)
        if rv == 0:
            ctypes.memmove(out, data, size)
        length.value = wanted
        return rv


def test_one_call_into_a_buffer_of_the_known_size() -> None:
    module = _Module((0, 3))
    assert _finish(module, 1, b"abc", 19) == b"abc"
    assert module.sizes == [19]


def test_a_module_that_wants_more_room_gets_it_once() -> None:
    module = _Module((0x150, 40), (0, 3))  # CKR_BUFFER_TOO_SMALL, then done
    assert _finish(module, 1, b"abc", 19) == b"abc"
    assert module.sizes == [19, 40]
    stubborn = _Module((0x150, 40), (0x150, 40))
    with pytest.raises(p11x.DeviceError):  # an operation left active: the session goes
        _finish(stubborn, 1, b"abc", 19)
    with pytest.raises(p11x.DeviceError):
        _finish(_Module((0x150, 19)), 1, b"abc", 19)


def test_other_failures_raise_their_error() -> None:
    with pytest.raises(p11x.SessionHandleInvalid):
        _finish(_Module((0xB3, 0)), 1, b"abc", 19)
