"""GetKeyLastUsage: the last successful cryptographic operation of a key."""

from __future__ import annotations

import time
from typing import Any

from strongroom.kms.app import database_url
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.usage import UsageRepository
from tests.support.errors import aws_error
from tests.support.servers import InProcessServer


def test_new_key_has_no_usage(kms: Any, key_id: str) -> None:
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    out = kms.get_key_last_usage(KeyId=key_id)
    assert out["KeyId"] == meta["Arn"]
    assert out["KeyLastUsage"] == {}
    assert out["KeyCreationDate"] == meta["CreationDate"]
    assert out["TrackingStartDate"] == meta["CreationDate"]


def test_last_successful_operation_is_reported(kms: Any, key_id: str) -> None:
    encrypted = kms.encrypt(KeyId=key_id, Plaintext=b"x")
    usage = kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]
    assert usage["Operation"] == "Encrypt"
    assert usage["KmsRequestId"] == encrypted["ResponseMetadata"]["RequestId"]
    assert usage["CloudTrailEventId"] == usage["KmsRequestId"]

    decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"])
    usage = kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]
    assert (usage["Operation"], usage["KmsRequestId"]) == (
        "Decrypt",
        decrypted["ResponseMetadata"]["RequestId"],
    )

    kms.disable_key(KeyId=key_id)
    with aws_error("DisabledException"):
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    kms.describe_key(KeyId=key_id)  # not cryptographic
    assert kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]["Operation"] == "Decrypt"


def test_re_encrypt_counts_for_both_keys(kms: Any, key_id: str) -> None:
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    moved = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=other)
    request_id = moved["ResponseMetadata"]["RequestId"]
    for key in (key_id, other):
        usage = kms.get_key_last_usage(KeyId=key)["KeyLastUsage"]
        assert (usage["Operation"], usage["KmsRequestId"]) == ("ReEncrypt", request_id)


def test_usage_is_written_to_the_database(kms: Any, server: InProcessServer, key_id: str) -> None:
    generated = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    repo = UsageRepository(Database.open(database_url(server.settings)))
    deadline = time.monotonic() + 3
    stored = repo.get(key_id)
    while stored is None and time.monotonic() < deadline:
        time.sleep(0.05)
        stored = repo.get(key_id)
    assert stored is not None, "usage never reached the database"
    assert (stored.operation, stored.request_id) == (
        "GenerateDataKey",
        generated["ResponseMetadata"]["RequestId"],
    )


def test_aliases_are_refused(kms: Any, key_id: str) -> None:
    kms.create_alias(AliasName=f"alias/usage-{key_id[:8]}", TargetKeyId=key_id)
    with aws_error("NotFoundException"):
        kms.get_key_last_usage(KeyId=f"alias/usage-{key_id[:8]}")
