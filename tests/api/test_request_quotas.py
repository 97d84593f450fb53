"""Request quotas with boto3 (retries off) and over raw connections pinned to each worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.errors import aws_error
from tests.support.processes import OutputDrain, uvicorn_workers
from tests.support.raw_kms import connect_to_each_worker
from tests.support.servers import InProcessServer, in_process_server, server_process

THROTTLED = (
    "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
)


def at_window_start(seconds: float) -> None:
    """Sleep until the next quota window of ``seconds`` (aligned to the epoch) begins.

    Always the next one: a test must not inherit a window an earlier test spent.
    """
    time.sleep(seconds - time.time() % seconds + 0.01)


@pytest.fixture(scope="module")
def quoted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with in_process_server(
        tmp_path_factory.mktemp("quotas") / "data",
        request_quotas="aws",
        quota_cryptographic=4,
        quota_overrides="CreateKey=0.2",
    ) as running:
        yield running


def test_create_key_over_its_quota_is_throttled(quoted: InProcessServer) -> None:
    kms = quoted.client()
    at_window_start(5)
    kms.create_key(Description="the one of this window")
    started = time.time()
    with aws_error("ThrottlingException", 400) as caught:
        kms.create_key(Description="one too many")
    assert caught.message == THROTTLED
    assert int(started / 5) == int(time.time() / 5), "the window ended during the test"
    assert isinstance(kms.list_keys()["Keys"], list)  # another operation, its own quota


def test_symmetric_operations_share_the_cryptographic_quota(quoted: InProcessServer) -> None:
    kms = quoted.client()
    at_window_start(5)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    at_window_start(1)
    started = time.time()
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"a")["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob)
    kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    kms.generate_random(NumberOfBytes=16)
    try:
        kms.encrypt(KeyId=key_id, Plaintext=b"b")
        fifth: tuple[str, int] = ("OK", 200)
    except ClientError as error:
        fifth = (
            error.response["Error"]["Code"],
            error.response["ResponseMetadata"]["HTTPStatusCode"],
        )
    if int(started) != int(time.time()):  # a new window began: the fifth call was allowed
        pytest.skip("the machine was too slow to make five calls in one second")
    assert fifth == ("ThrottlingException", 400)
    time.sleep(1.05 - time.time() % 1)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"a"


def test_quota_is_shared_by_the_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRONGROOM_REQUEST_QUOTAS", "aws")
    monkeypatch.setenv("STRONGROOM_QUOTA_OVERRIDES", "ListKeys=0.1")
    monkeypatch.setenv("STRONGROOM_KEEP_ALIVE_TIMEOUT_SECONDS", "60")  # pinned while we wait
    with server_process(tmp_path / "data", 2) as running:
        assert running.process is not None
        OutputDrain(running.process)
        workers = uvicorn_workers(running.process.pid)
        pinned = connect_to_each_worker(running.endpoint, running.admin_key, workers)
        at_window_start(10)
        started = time.time()
        replies: list[Any] = []
        for _ in range(3):
            replies += [conn.call("ListKeys", {}) for conn in pinned.values()]
        assert int(started / 10) == int(time.time() / 10), "the window ended during the test"
        statuses = sorted((reply.status, reply.error_code) for reply in replies)
        # One ListKeys per 10 s for the whole node, whichever worker answers.
        assert statuses == [(200, None)] + [(400, "ThrottlingException")] * 5
        for conn in pinned.values():
            conn.close()


@pytest.fixture(scope="module")
def rsa_quoted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with in_process_server(
        tmp_path_factory.mktemp("rsa-quotas") / "data",
        request_quotas="aws",
        quota_asymmetric=0.5,  # one request in each 2-second window
        quota_cryptographic=1000,
    ) as running:
        yield running


def test_requests_with_rsa_keys_spend_the_rsa_quota(rsa_quoted: InProcessServer) -> None:
    """As on AWS, the quota follows the key's type: Encrypt with an RSA key spends the RSA
    quota (one per 2 s here), not the symmetric one."""
    kms = rsa_quoted.client()
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    aes = kms.create_key()["KeyMetadata"]["KeyId"]
    at_window_start(2)
    started = time.time()
    kms.encrypt(KeyId=rsa, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    try:
        kms.encrypt(KeyId=rsa, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
        second = "OK"
    except ClientError as error:
        second = error.response["Error"]["Code"]
    assert kms.encrypt(KeyId=aes, Plaintext=b"y")["KeyId"].endswith(aes)  # its own quota
    if int(started / 2) != int(time.time() / 2):
        pytest.skip("the machine was too slow to make three calls in two seconds")
    assert second == "ThrottlingException"
