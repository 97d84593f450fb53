"""Quota tables and the node-wide lease table, with real files shared by real processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from strongroom.kms.api.quotas import (
    ECC_KEYS,
    RSA_KEYS,
    SYMMETRIC_KEYS,
    LeaseTable,
    Quota,
    RequestQuotas,
    key_type_quota,
    parse_overrides,
    quota_table,
)
from strongroom.kms.config import ConfigError, Settings
from strongroom.kms.errors import ThrottlingException


def table(overrides: str = "", workers: int = 2, nodes: int = 1) -> dict[str, Quota]:
    return quota_table(
        cryptographic=100, asymmetric=10, ecc=6, overrides=overrides, nodes=nodes, workers=workers
    )


def test_symmetric_operations_share_one_quota_and_management_operations_have_their_own() -> None:
    quotas = table()
    assert quotas[SYMMETRIC_KEYS] is quotas["GenerateDataKey"] is quotas["GenerateRandom"]
    assert quotas["GenerateDataKey"].tokens == 100
    assert (quotas[RSA_KEYS].tokens, quotas[ECC_KEYS].tokens) == (10, 6)
    for by_key in ("Encrypt", "Decrypt", "Sign", "Verify", "ReEncrypt"):
        assert by_key not in quotas  # counted by their key's type, once it is resolved
    assert quotas["CreateKey"].tokens == 5
    assert quotas["CreateKey"] is not quotas["CreateAlias"]
    assert "ListProviderAccesses" not in quotas


@pytest.mark.parametrize(
    ("spec", "quota"),
    [
        ("SYMMETRIC_DEFAULT", SYMMETRIC_KEYS),
        ("HMAC_256", SYMMETRIC_KEYS),
        ("RSA_2048", RSA_KEYS),
        ("ECC_NIST_P256", ECC_KEYS),
        ("ECC_SECG_P256K1", ECC_KEYS),
        ("SM2", ECC_KEYS),
    ],
)
def test_each_key_type_has_its_quota(spec: str, quota: str) -> None:
    assert key_type_quota(spec) == quota


def test_rates_below_one_become_longer_windows() -> None:
    quota = table()["GetParametersForImport"]  # AWS: 1 in each 4-second interval
    assert (quota.tokens, quota.seconds) == (1, 4.0)
    assert table("CreateKey=0.1")["CreateKey"].seconds == pytest.approx(10.0)


def test_nodes_split_the_quota_and_leases_are_a_sixteenth_per_worker() -> None:
    quota = table(nodes=4, workers=2)[SYMMETRIC_KEYS]
    assert quota.tokens == 25
    assert table(workers=2)[SYMMETRIC_KEYS].lease == 100 // 32


@pytest.mark.parametrize("text", ["CreateKey", "CreateKey=0", "=5", "CreateKey=-1"])
def test_malformed_overrides_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not Operation=requests-per-second"):
        parse_overrides(text)


def test_overriding_a_shared_operation_is_refused_by_the_settings() -> None:
    with pytest.raises(ConfigError, match="Encrypt share a quota"):
        Settings(quota_overrides="Encrypt=5").validated()


def test_two_workers_sharing_the_file_admit_exactly_the_quota_per_window(tmp_path: Path) -> None:
    now = [1000.0]
    quotas = table("CreateKey=7")
    workers = [RequestQuotas(quotas, LeaseTable(tmp_path / "quotas"), lambda: now[0]) for _ in "ab"]
    admitted = 0
    for turn in range(40):
        try:
            workers[turn % 2].admit("111122223333", "us-east-1", "CreateKey")
            admitted += 1
        except ThrottlingException as error:
            assert error.status == 400
            assert error.message.startswith("You have exceeded the rate at which you may call KMS.")
    assert admitted == 7
    workers[0].admit("444455556666", "us-east-1", "CreateKey")  # another account has its own quota
    workers[0].admit("111122223333", "eu-west-1", "CreateKey")  # and so has another region
    with pytest.raises(ThrottlingException):
        workers[1].admit("111122223333", "us-east-1", "CreateKey")
    now[0] += 1.0
    workers[1].admit("111122223333", "us-east-1", "CreateKey")  # a new window


def test_requests_spend_the_quota_of_their_key_type(tmp_path: Path) -> None:
    quotas = RequestQuotas(table(workers=1), LeaseTable(tmp_path / "quotas"), lambda: 7000.5)
    account, region = "111122223333", "us-east-1"
    for _ in range(10):  # the RSA quota: 10 per second here
        quotas.admit_by_key(account, region, "Sign", "RSA_2048")
    with pytest.raises(ThrottlingException):
        quotas.admit_by_key(account, region, "Encrypt", "RSA_4096")
    quotas.admit_by_key(account, region, "Encrypt", "SYMMETRIC_DEFAULT")  # its own quota
    quotas.admit_by_key(account, region, "Sign", "ECC_NIST_P384")  # and so has ECC
    quotas.admit_by_key(account, region, "CreateKey", "RSA_2048")  # not BY_KEY: counted at the door


def _spend(path: str, attempts: int, results: multiprocessing.Queue[int]) -> None:
    quotas = RequestQuotas(table(workers=4), LeaseTable(Path(path)), lambda: 5000.5)
    admitted = 0
    for _ in range(attempts):
        try:
            quotas.admit_by_key("111122223333", "us-east-1", "Encrypt", "SYMMETRIC_DEFAULT")
            admitted += 1
        except ThrottlingException:
            pass
    results.put(admitted)


def test_worker_processes_never_admit_more_than_the_quota_together(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[int] = context.Queue()
    path = str(tmp_path / "quotas")
    processes = [context.Process(target=_spend, args=(path, 80, results)) for _ in range(4)]
    for process in processes:
        process.start()
    counts = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    # 100 per window; each worker may strand fewer than one lease (100 // 64 = 1: none).
    assert sum(counts) == 100
    assert all(count <= 80 for count in counts)
