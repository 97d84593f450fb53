"""Round trips through a real Strongroom, and the errors a caller can act on."""

from __future__ import annotations

import io
from typing import Any

import pytest

from strongroom.envelope import (
    SIGNED,
    UNSIGNED,
    InvalidMessageError,
    KeyUnusableError,
    KmsError,
    KmsKeyring,
    LimitExceededError,
    MissingContextError,
    PermissionDeniedError,
    Suite,
    SuiteNotAcceptedError,
    UsageError,
    WrongKeyError,
    decrypt_stream,
    encrypt_stream,
    kms_client,
    read_message_header,
)
from strongroom.envelope.format import FINAL_FRAME_MARKER, PUBLIC_KEY_CONTEXT_KEY
from strongroom.kms.app import open_data_dir
from tests.envelope.helpers import decrypt, encrypt, random_bytes
from tests.support.servers import InProcessServer

FRAME = 64
SUITES = pytest.mark.parametrize("suite", [SIGNED, UNSIGNED], ids=["signed", "unsigned"])


@SUITES
@pytest.mark.parametrize("size", [0, 1, FRAME - 1, FRAME, FRAME + 1, 2 * FRAME, 7 * FRAME + 5])
def test_round_trip_around_frame_boundaries(keyring: KmsKeyring, suite: Suite, size: int) -> None:
    data = random_bytes(size)
    message = encrypt(keyring, data, suite=suite, frame_length=FRAME, context={"app": "t"})
    assert decrypt(keyring, message) == data
    # Whole frames, then a final frame shorter than a frame (empty after an exact fill).
    regular_frames = size // FRAME
    frame_size = 4 + 12 + FRAME + 16
    header = read_message_header(io.BytesIO(message))
    assert header.frame_length == FRAME
    assert message.count(FINAL_FRAME_MARKER.to_bytes(4, "big")) >= 1
    body_and_footer = len(message) - _header_and_tag_length(message)
    footer = 2 + 103 if suite.signed else 0
    final = 4 + 4 + 12 + 4 + size % FRAME + 16
    assert body_and_footer == regular_frames * frame_size + final + footer


def _header_and_tag_length(message: bytes) -> int:
    from strongroom.envelope.format import StreamReader, read_header

    stream = io.BytesIO(message)
    _, raw = read_header(StreamReader(stream), None)
    return len(raw) + 16


def test_large_frames_and_many_frames(keyring: KmsKeyring) -> None:
    data = random_bytes(3 * 1024 * 1024 + 17)
    for frame_length in (4096, 1024 * 1024):
        assert decrypt(keyring, encrypt(keyring, data, frame_length=frame_length)) == data


def test_signed_suite_puts_public_key_in_context(keyring: KmsKeyring) -> None:
    signed = read_message_header(io.BytesIO(encrypt(keyring, b"x", context={"a": "b"})))
    unsigned = read_message_header(io.BytesIO(encrypt(keyring, b"x", suite=UNSIGNED)))
    assert signed.suite_id == 0x0578 and unsigned.suite_id == 0x0478
    assert signed.encryption_context["a"] == "b"
    assert len(signed.encryption_context[PUBLIC_KEY_CONTEXT_KEY]) == 68  # 49 bytes, base64
    assert PUBLIC_KEY_CONTEXT_KEY not in unsigned.encryption_context


def test_any_one_of_several_keys_decrypts(kms: Any, key_arns: list[str]) -> None:
    message = encrypt(KmsKeyring(kms, key_arns), b"shared secret")
    header = read_message_header(io.BytesIO(message))
    assert [key.provider_info for key in header.encrypted_data_keys] == key_arns
    for arn in key_arns:
        assert decrypt(KmsKeyring(kms, [arn]), message) == b"shared secret"


def test_strict_mode_accepts_key_ids_and_aliases(kms: Any, key_arns: list[str]) -> None:
    message = encrypt(KmsKeyring(kms, [key_arns[1]]), b"named")
    key_id = key_arns[1].rsplit("/", 1)[1]
    alias = f"alias/envelope-{key_id[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    assert decrypt(KmsKeyring(kms, [key_id]), message) == b"named"
    assert decrypt(KmsKeyring(kms, [alias]), message) == b"named"
    # Encrypting with an alias records the key ARN, as the SDKs do.
    header = read_message_header(io.BytesIO(encrypt(KmsKeyring(kms, [alias]), b"a")))
    assert header.encrypted_data_keys[0].provider_info == key_arns[1]


def test_wrong_key_is_named(kms: Any, key_arns: list[str]) -> None:
    message = encrypt(KmsKeyring(kms, [key_arns[0]]), b"for key 0")
    with pytest.raises(WrongKeyError, match=r"encrypted for .*allowed keys are") as caught:
        decrypt(KmsKeyring(kms, [key_arns[2]]), message)
    assert key_arns[0] in str(caught.value) and key_arns[2] in str(caught.value)


def test_discovery_mode_and_accounts(kms: Any, key_arns: list[str]) -> None:
    message = encrypt(KmsKeyring(kms, [key_arns[0]]), b"discover me")
    account = key_arns[0].split(":")[4]
    assert decrypt(KmsKeyring(kms, discovery=True), message) == b"discover me"
    assert (
        decrypt(KmsKeyring(kms, discovery=True, discovery_accounts=[account]), message)
        == b"discover me"
    )
    with pytest.raises(WrongKeyError, match="accounts 000000000000"):
        decrypt(KmsKeyring(kms, discovery=True, discovery_accounts=["000000000000"]), message)
    with pytest.raises(UsageError):
        KmsKeyring(kms, [key_arns[0]], discovery=True)


def test_required_context(keyring: KmsKeyring) -> None:
    message = encrypt(keyring, b"ctx", context={"tenant": "blue", "purpose": "test"})
    assert decrypt(keyring, message, {"tenant": "blue"}) == b"ctx"
    with pytest.raises(MissingContextError, match=r"no pair tenant=red \(it has another value\)"):
        decrypt(keyring, message, {"tenant": "red"})
    with pytest.raises(MissingContextError, match=r"no pair region=eu$"):
        decrypt(keyring, message, {"region": "eu"})
    with pytest.raises(MissingContextError):
        decrypt(keyring, encrypt(keyring, b"no context"), {"tenant": "blue"})


def test_reserved_context_key_is_refused(keyring: KmsKeyring) -> None:
    with pytest.raises(UsageError, match="reserved"):
        encrypt(keyring, b"x", context={PUBLIC_KEY_CONTEXT_KEY: "mine"})


def test_encrypted_data_key_limit(kms: Any, key_arns: list[str]) -> None:
    keyring = KmsKeyring(kms, key_arns)
    with pytest.raises(LimitExceededError, match="3 KMS keys"):
        encrypt_stream(io.BytesIO(b"x"), io.BytesIO(), keyring, max_encrypted_data_keys=2)
    message = encrypt(keyring, b"three keys")
    with pytest.raises(LimitExceededError, match="3 encrypted data keys"):
        decrypt_stream(io.BytesIO(message), io.BytesIO(), keyring, max_encrypted_data_keys=2)
    assert decrypt(keyring, message) == b"three keys"


def test_unknown_key_on_encrypt(kms: Any) -> None:
    with pytest.raises(KeyUnusableError, match="NotFoundException"):
        encrypt(KmsKeyring(kms, ["11111111-2222-3333-4444-555555555555"]), b"x")


@pytest.fixture(scope="module")
def stranger(server: InProcessServer) -> Any:
    """A user of the admin's account with no policy at all."""
    data = open_data_dir(server.settings)
    try:
        account = server.admin_key.account_id
        data.admin.create_user(account, "envelope-stranger")
        key = data.admin.create_access_key(account, "envelope-stranger")
    finally:
        data.db.engine.dispose()
    return server.client(key)


def test_missing_permission(stranger: Any, keyring: KmsKeyring, key_arns: list[str]) -> None:
    with pytest.raises(PermissionDeniedError, match="not allowed to use KMS key"):
        encrypt(KmsKeyring(stranger, [key_arns[0]]), b"x")
    message = encrypt(keyring, b"x")
    with pytest.raises(PermissionDeniedError, match="not allowed to decrypt"):
        decrypt(KmsKeyring(stranger, [key_arns[0]]), message)
    with pytest.raises(PermissionDeniedError):
        decrypt(KmsKeyring(stranger, discovery=True), message)


def test_botocore_client_from_standard_environment(kms_env: None, key_arns: list[str]) -> None:
    """No endpoint argument: botocore takes AWS_ENDPOINT_URL_KMS and the credentials."""
    keyring = KmsKeyring(kms_client(), [key_arns[0]])
    assert decrypt(keyring, encrypt(keyring, b"env")) == b"env"


def test_error_message_is_fixed(keyring: KmsKeyring) -> None:
    message = encrypt(keyring, b"abc")
    with pytest.raises(InvalidMessageError) as caught:
        decrypt(keyring, message[:-1])
    assert str(caught.value) == "the message is invalid or was not encrypted for this key"


def test_accepting_only_signed_messages(keyring: KmsKeyring) -> None:
    unsigned = encrypt(keyring, b"anyone who can decrypt could have written this", suite=UNSIGNED)
    with pytest.raises(SuiteNotAcceptedError, match="AES_256_GCM_HKDF_SHA512_COMMIT_KEY, which"):
        decrypt_stream(io.BytesIO(unsigned), io.BytesIO(), keyring, accept=(SIGNED,))
    signed = encrypt(keyring, b"signed")
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(signed), out, keyring, accept=(SIGNED,))
    assert out.getvalue() == b"signed"


def test_unreachable_kms(key_arns: list[str], kms_env: None) -> None:
    from tests.support.servers import free_port

    keyring = KmsKeyring(kms_client(f"http://127.0.0.1:{free_port()}"), [key_arns[0]])
    with pytest.raises(KmsError, match="cannot reach the KMS"):
        encrypt(keyring, b"x")
