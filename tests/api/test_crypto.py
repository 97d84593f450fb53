"""Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateRandom through boto3."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.errors import aws_error


@pytest.mark.parametrize("size", [1, 100, 4096])
def test_round_trip_sizes(kms: Any, key_id: str, size: int) -> None:
    plaintext = bytes(range(256)) * (size // 256) + bytes(size % 256)
    out = kms.encrypt(KeyId=key_id, Plaintext=plaintext)
    assert out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    if size >= 16:  # shorter plaintexts may occur in random bytes by chance
        assert plaintext not in out["CiphertextBlob"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"])
    assert back["Plaintext"] == plaintext
    assert back["KeyId"] == out["KeyId"]
    assert back["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert (
        back["KeyMaterialId"]
        == kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    )


def test_plaintext_limits(raw_kms: Any, key_id: str) -> None:
    with aws_error("ValidationException") as error:
        raw_kms.encrypt(KeyId=key_id, Plaintext=b"x" * 4097)
    assert error.message == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )


def test_every_key_identifier_encrypts(kms: Any, key_id: str) -> None:
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    alias = f"alias/crypto-{key_id[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    for ref in (key_id, arn, alias, arn.split(":key/")[0] + ":" + alias):
        blob = kms.encrypt(KeyId=ref, Plaintext=b"p")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["KeyId"] == arn


def test_encryption_context_is_bound(kms: Any, key_id: str) -> None:
    context = {"tenant": "blue", "purpose": "test"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret", EncryptionContext=context)[
        "CiphertextBlob"
    ]
    reordered = {"purpose": "test", "tenant": "blue"}
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=reordered)["Plaintext"] == b"secret"
    for wrong in (
        None,
        {"tenant": "blue"},
        {"tenant": "Blue", "purpose": "test"},
        {**context, "extra": "x"},
    ):
        kwargs = {} if wrong is None else {"EncryptionContext": wrong}
        with aws_error("InvalidCiphertextException", 400) as error:
            kms.decrypt(CiphertextBlob=blob, **kwargs)
        assert error.message == ""
    plain = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=plain, EncryptionContext={"a": "b"})


def test_tampered_truncated_and_foreign_blobs_fail_alike(kms: Any, key_id: str) -> None:
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"data")["CiphertextBlob"]
    candidates = [blob[:-1], blob[:20], b"\x02" + blob[1:], b"garbage" * 10, blob + b"\x00"]
    for index in (1, 10, 40, len(blob) - 20, len(blob) - 1):
        flipped = bytearray(blob)
        flipped[index] ^= 0x01
        candidates.append(bytes(flipped))
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    # A blob naming another key (same length, same structure) is foreign.
    candidates.append(blob.replace(key_id.encode(), other.encode()))
    messages = set()
    for candidate in candidates:
        with aws_error("InvalidCiphertextException") as error:
            kms.decrypt(CiphertextBlob=candidate)
        messages.add(error.message)
    assert messages == {""}


def test_decrypt_with_wrong_key_id_is_incorrect_key(kms: Any, key_id: str) -> None:
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"data")["CiphertextBlob"]
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    with aws_error("IncorrectKeyException"):
        kms.decrypt(CiphertextBlob=blob, KeyId=other)
    assert kms.decrypt(CiphertextBlob=blob, KeyId=key_id)["Plaintext"] == b"data"


def test_re_encrypt_moves_to_destination_key(kms: Any, key_id: str) -> None:
    destination = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"move me", EncryptionContext={"a": "1"})[
        "CiphertextBlob"
    ]
    out = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"a": "1"},
        DestinationKeyId=destination["KeyId"],
        DestinationEncryptionContext={"b": "2"},
    )
    assert out["KeyId"] == destination["Arn"]
    assert out["SourceKeyId"].endswith(key_id)
    assert out["DestinationKeyMaterialId"] == destination["CurrentKeyMaterialId"]
    assert len(out["SourceKeyMaterialId"]) == 64
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"b": "2"})
    assert back["Plaintext"] == b"move me"
    assert back["KeyId"] == destination["Arn"]
    with aws_error("InvalidCiphertextException"):
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination["KeyId"])
    with aws_error("IncorrectKeyException"):
        kms.re_encrypt(
            CiphertextBlob=blob,
            SourceKeyId=destination["KeyId"],
            SourceEncryptionContext={"a": "1"},
            DestinationKeyId=key_id,
        )
    kms.disable_key(KeyId=destination["KeyId"])
    with aws_error("DisabledException"):
        kms.re_encrypt(
            CiphertextBlob=blob,
            SourceEncryptionContext={"a": "1"},
            DestinationKeyId=destination["KeyId"],
        )


def test_generate_data_key(kms: Any, key_id: str) -> None:
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    for kwargs, length in (
        ({"KeySpec": "AES_256"}, 32),
        ({"KeySpec": "AES_128"}, 16),
        ({"NumberOfBytes": 1}, 1),
        ({"NumberOfBytes": 1024}, 1024),
    ):
        out = kms.generate_data_key(KeyId=key_id, EncryptionContext={"f": "g"}, **kwargs)
        assert len(out["Plaintext"]) == length
        assert out["KeyId"] == arn
        assert len(out["KeyMaterialId"]) == 64
        back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"f": "g"})
        assert back["Plaintext"] == out["Plaintext"]
    keys = {kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"] for _ in range(5)}
    assert len(keys) == 5


def test_generate_data_key_argument_rules(raw_kms: Any, key_id: str) -> None:
    kms = raw_kms
    with aws_error("ValidationException"):
        kms.generate_data_key(KeyId=key_id)
    with aws_error("ValidationException"):
        kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", NumberOfBytes=32)
    with aws_error("ValidationException") as error:
        kms.generate_data_key(KeyId=key_id, NumberOfBytes=1025)
    assert "less than or equal to 1024" in error.message
    with aws_error("ValidationException") as error:
        kms.generate_data_key(KeyId=key_id, NumberOfBytes=0)
    assert "greater than or equal to 1" in error.message


def test_generate_data_key_without_plaintext(kms: Any, key_id: str) -> None:
    out = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=48)
    assert "Plaintext" not in out
    assert len(kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"]) == 48


def test_generate_random(kms: Any, raw_kms: Any) -> None:
    values = {kms.generate_random(NumberOfBytes=32)["Plaintext"] for _ in range(4)}
    assert len(values) == 4 and all(len(v) == 32 for v in values)
    assert len(kms.generate_random(NumberOfBytes=1024)["Plaintext"]) == 1024
    with aws_error("ValidationException"):
        raw_kms.generate_random(NumberOfBytes=1025)
    with aws_error("ValidationException"):
        kms.generate_random()
    with aws_error("CustomKeyStoreNotFoundException"):
        kms.generate_random(NumberOfBytes=8, CustomKeyStoreId="cks-1234567890abcdef0")


def test_dry_run(kms: Any, key_id: str) -> None:
    with aws_error("DryRunOperationException", 400):
        kms.encrypt(KeyId=key_id, Plaintext=b"x", DryRun=True)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    with aws_error("DryRunOperationException"):
        kms.decrypt(CiphertextBlob=blob, DryRun=True)
    with aws_error("DryRunOperationException"):
        kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", DryRun=True)
    with aws_error("DryRunOperationException"):
        kms.decrypt(KeyId=key_id, DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
    with aws_error("DryRunOperationException"):
        kms.re_encrypt(
            CiphertextBlob=b"not a blob",
            SourceKeyId=key_id,
            DestinationKeyId=key_id,
            DryRun=True,
            DryRunModifiers=["IGNORE_CIPHERTEXT"],
        )
    with aws_error("ValidationException"):
        kms.decrypt(DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=b"not a blob", DryRun=True)
    kms.disable_key(KeyId=key_id)
    with aws_error("DisabledException"):
        kms.decrypt(KeyId=key_id, DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
    # A dry run reports the error the real call would meet.
    with aws_error("DisabledException"):
        kms.encrypt(KeyId=key_id, Plaintext=b"x", DryRun=True)


def test_wrong_encryption_algorithm(kms: Any, key_id: str) -> None:
    with aws_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def test_oversized_encryption_context_is_a_validation_error(kms: Any, key_id: str) -> None:
    with aws_error("ValidationException") as error:
        kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"k": "v" * 70_000})
    assert "encryption context is too large" in error.message
    context = {f"key{n}": "v" * 100 for n in range(70)}  # about 7.6 KiB encoded: accepted
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext=context)
    assert (
        kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext=context)["Plaintext"]
        == b"x"
    )
