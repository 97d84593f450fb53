"""Interoperability, both ways, with the official aws-encryption-sdk and aws-encryption-cli.

The SDK reaches the in-process Strongroom through botocore's standard environment
(``AWS_ENDPOINT_URL_KMS``), exactly as a user's program would.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from strongroom.envelope import SIGNED, UNSIGNED, KmsKeyring, Suite, read_message_header
from tests.envelope.helpers import decrypt, encrypt, random_bytes

esdk = pytest.importorskip("aws_encryption_sdk")
from aws_encryption_sdk.identifiers import (  # type: ignore[import-untyped]  # noqa: E402
    Algorithm,
    CommitmentPolicy,
)
from aws_encryption_sdk.key_providers.kms import (  # type: ignore[import-untyped]  # noqa: E402
    DiscoveryAwsKmsMasterKeyProvider,
    StrictAwsKmsMasterKeyProvider,
)

ALGORITHMS = {
    SIGNED.suite_id: Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    UNSIGNED.suite_id: Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
}
SUITES = pytest.mark.parametrize("suite", [SIGNED, UNSIGNED], ids=["signed", "unsigned"])
SIZES = pytest.mark.parametrize("size", [0, 1, 4096, 4097, 3 * 4096, 100_000])
CONTEXT = {"tenant": "blue", "purpose": "interop"}


@pytest.fixture
def sdk(kms_env: None) -> Any:
    return esdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )


@SUITES
@SIZES
def test_sdk_decrypts_ours(
    sdk: Any, keyring: KmsKeyring, key_arns: list[str], suite: Suite, size: int
) -> None:
    data = random_bytes(size)
    message = encrypt(keyring, data, suite=suite, frame_length=4096, context=CONTEXT)
    provider = StrictAwsKmsMasterKeyProvider(key_ids=[key_arns[0]])
    plaintext, header = sdk.decrypt(source=message, key_provider=provider)
    assert plaintext == data
    assert header.algorithm == ALGORITHMS[suite.suite_id]
    assert {k: v for k, v in header.encryption_context.items() if k in CONTEXT} == CONTEXT
    # And with the SDK's streaming reader, iterated as its CLI does.
    with sdk.stream(
        mode="d", source=io.BytesIO(message), key_provider=DiscoveryAwsKmsMasterKeyProvider()
    ) as stream:
        assert b"".join(stream) == data


@SUITES
@SIZES
def test_we_decrypt_the_sdks(
    sdk: Any, keyring: KmsKeyring, key_arns: list[str], suite: Suite, size: int
) -> None:
    data = random_bytes(size)
    message, _ = sdk.encrypt(
        source=data,
        key_provider=StrictAwsKmsMasterKeyProvider(key_ids=[key_arns[0]]),
        encryption_context=CONTEXT,
        algorithm=ALGORITHMS[suite.suite_id],
        frame_length=4096,
    )
    assert read_message_header(io.BytesIO(message)).suite_id == suite.suite_id
    assert decrypt(keyring, message, required_context=CONTEXT) == data


def test_several_keys_both_ways(sdk: Any, kms: Any, key_arns: list[str]) -> None:
    ours = encrypt(KmsKeyring(kms, key_arns[:2]), b"two keys")
    for arn in key_arns[:2]:
        provider = StrictAwsKmsMasterKeyProvider(key_ids=[arn])
        assert sdk.decrypt(source=ours, key_provider=provider)[0] == b"two keys"
    theirs, _ = sdk.encrypt(
        source=b"two keys", key_provider=StrictAwsKmsMasterKeyProvider(key_ids=key_arns[:2])
    )
    for arn in key_arns[:2]:
        assert decrypt(KmsKeyring(kms, [arn]), theirs) == b"two keys"


# --- the aws-encryption-cli command ----------------------------------------------------------

CLI = shutil.which("aws-encryption-cli") or str(
    Path(os.environ.get("VIRTUAL_ENV", ".venv")) / "bin" / "aws-encryption-cli"
)
CLI_ALGORITHMS = {suite.suite_id: suite.name for suite in (SIGNED, UNSIGNED)}


def run_cli(*args: str) -> None:
    result = subprocess.run(
        [CLI, *args], check=False, capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not Path(CLI).exists(), reason="aws-encryption-cli is not installed")
@SUITES
def test_the_sdk_cli_both_ways(
    kms_env: None, keyring: KmsKeyring, key_arns: list[str], suite: Suite, tmp_path: Path
) -> None:
    data = random_bytes(200_000)
    ours = tmp_path / "ours.encrypted"
    ours.write_bytes(encrypt(keyring, data, suite=suite, frame_length=65536, context=CONTEXT))
    run_cli(
        "-d", "-S", "-i", str(ours), "-o", str(tmp_path / "ours.plain"),
        "--wrapping-keys", f"key={key_arns[0]}",
        "--encryption-context", "tenant=blue",
    )  # fmt: skip
    assert (tmp_path / "ours.plain").read_bytes() == data

    source = tmp_path / "theirs.plain"
    source.write_bytes(data)
    theirs = tmp_path / "theirs.encrypted"
    run_cli(
        "-e", "-S", "-i", str(source), "-o", str(theirs),
        "--wrapping-keys", f"key={key_arns[0]}",
        "--encryption-context", "tenant=blue", "purpose=interop",
        "--algorithm", CLI_ALGORITHMS[suite.suite_id],
        "--frame-length", "65536",
    )  # fmt: skip
    assert decrypt(keyring, theirs.read_bytes(), required_context=CONTEXT) == data
