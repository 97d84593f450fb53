"""``strongroom byok from-hsm`` as a real process, against SoftHSM2 tokens and a live server.

The token key leaves the token only wrapped (inside the token) under the KMS wrapping key; the
server's answers (material ids, decryption, IncorrectKeyMaterialException), the exposure
report and the recorded lineage show what the command did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from strongroom.kms.keystores.pkcs11 import TokenConnection
from tests.support.byok import FOREVER, external_key, import_material, state
from tests.support.cli import run as run_cli
from tests.support.raw_kms import RawKms, Reply
from tests.support.servers import InProcessServer, in_process_server
from tests.support.softhsm import SoftHsmToken

REGION = "us-east-1"
PIN_ENV = "TEST_FROM_HSM_PIN"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with in_process_server(tmp_path_factory.mktemp("byok-from-hsm")) as running:
        yield running


@pytest.fixture(scope="module")
def kms(server: InProcessServer) -> Any:
    return server.client()


class Raw:
    """Extension calls, each on a fresh connection (the server drops idle keep-alive
    connections after a few seconds, and the commands in between take that long)."""

    def __init__(self, server: InProcessServer) -> None:
        self._server = server

    def call(self, operation: str, payload: dict[str, Any]) -> Reply:
        conn = RawKms(self._server.endpoint, self._server.admin_key)
        try:
            return conn.call(operation, payload)
        finally:
            conn.close()


@pytest.fixture
def raw(server: InProcessServer) -> Raw:
    return Raw(server)


def from_hsm(
    server: InProcessServer,
    tmp: Path,
    token: SoftHsmToken,
    key_id: str,
    *extra: str,
    pin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``strongroom byok from-hsm`` as its own process; the PIN only in its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STRONGROOM_"))}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-credentials"),
        AWS_CONFIG_FILE=str(tmp / "no-config"),
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ACCESS_KEY_ID=server.admin_key.access_key_id,
        AWS_SECRET_ACCESS_KEY=server.admin_key.secret_access_key,
        **{PIN_ENV: token.pin if pin is None else pin},
    )
    argv = [
        sys.executable,
        "-m",
        "strongroom.cli.main",
        "byok",
        "from-hsm",
        "--endpoint-url",
        server.endpoint,
        "--key-id",
        key_id,
        "--module",
        token.module,
        "--token-label",
        token.label,
        "--pin-env",
        PIN_ENV,
        *extra,
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert token.pin not in " ".join(argv) + result.stdout + result.stderr
    return result


def succeeded(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    output: dict[str, Any] = json.loads(result.stdout)
    return output


def token_material(token: SoftHsmToken, label: str) -> bytes:
    """The token key's bytes, exported by the token itself under a test RSA key (OAEP SHA-1)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    connection = TokenConnection.open(token.module, token.label, token.pin)
    try:
        key = connection.find_aes_key(label)
        assert key is not None
        wrapped = connection.wrap_with_rsa_public_key(public_der, key)
    finally:
        connection.close()
    sha1 = hashes.SHA1()  # noqa: S303 (SoftHSM 2.6 wraps with OAEP SHA-1 only)
    oaep = padding.OAEP(mgf=padding.MGF1(sha1), algorithm=sha1, label=None)
    return private.decrypt(wrapped, oaep)


def exposure_row(server: InProcessServer, key_arn: str) -> dict[str, Any]:
    status, out, err = run_cli(
        "report", "exposure", "--data-dir", str(server.data_dir), "--format", "json"
    )
    assert status == 0, err
    (row,) = [k for k in json.loads(out)["Keys"] if k["KeyArn"] == key_arn]
    return dict(row)


def test_from_hsm_imports_the_token_key_and_records_its_lineage(
    server: InProcessServer, kms: Any, raw: Raw, softhsm_token: SoftHsmToken, tmp_path: Path
) -> None:
    key_id = external_key(kms)
    out = succeeded(from_hsm(server, tmp_path, softhsm_token, key_id, "--key-label", "k1"))
    assert out["KeyState"] == "Enabled" and out["KeyGenerated"] is True
    assert out["Lineage"] == "RECORDED" and out["WrappingAlgorithm"] == "RSAES_OAEP_SHA_1"
    assert (out["TokenLabel"], out["KeyLabel"]) == (softhsm_token.label, "k1")
    assert out["TokenSerial"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"from the token")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from the token"

    # The key in the token is the imported one: its bytes, imported again, are the same material.
    material = token_material(softhsm_token, "k1")
    assert len(material) == 32
    again = import_material(kms, tmp_path, key_id, material, **FOREVER)
    assert again["KeyMaterialId"] == out["KeyMaterialId"]

    # The lineage is recorded: the exposure report flags the key.
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    row = exposure_row(server, arn)
    assert row["Exposure"] == "provider-under-quorum"
    (flag,) = row["Flags"]
    assert flag.startswith(
        f"protection lowered: material exported from HSM token {softhsm_token.label} "
        f"({out['TokenSerial']})"
    )
    assert (row["ExpirationModel"], row["ValidTo"]) == ("KEY_MATERIAL_DOES_NOT_EXPIRE", None)
    # DescribeKey stays AWS-shaped: nothing about the lineage.
    assert "Lineage" not in json.dumps(kms.describe_key(KeyId=key_id)["KeyMetadata"], default=str)

    # The lineage is immutable: a second RecordKeyLineage is refused.
    reply = raw.call(
        "RecordKeyLineage",
        {"KeyId": key_id, "TokenLabel": "elsewhere", "TokenSerial": "0", "KeyLabel": "other"},
    )
    assert (reply.status, reply.error_code) == (400, "AlreadyExistsException")
    assert "cannot be changed" in reply.body["message"]
    assert exposure_row(server, arn)["Flags"] == [flag]


def test_running_again_reimports_the_same_key_and_refuses_another(
    server: InProcessServer, kms: Any, softhsm_token: SoftHsmToken, tmp_path: Path
) -> None:
    key_id = external_key(kms)
    first = succeeded(
        from_hsm(server, tmp_path, softhsm_token, key_id, "--key-label", "k", "--expires", "2h")
    )
    assert first["ExpirationModel"] == "KEY_MATERIAL_EXPIRES" and "ValidTo" in first
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"kept")["CiphertextBlob"]
    kms.delete_imported_key_material(KeyId=key_id)
    assert state(kms, key_id) == "PendingImport"

    again = succeeded(from_hsm(server, tmp_path, softhsm_token, key_id, "--key-label", "k"))
    assert (again["KeyGenerated"], again["Lineage"]) == (False, "RECORDED_BEFORE")
    assert again["KeyMaterialId"] == first["KeyMaterialId"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"

    # Another token key under the same label (the first one destroyed, a new one generated):
    # the lineage matches, the material does not, and the server refuses it.
    connection = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    try:
        old_key = connection.find_aes_key("k")
        assert old_key is not None
        connection.destroy(old_key)
    finally:
        connection.close()
    kms.delete_imported_key_material(KeyId=key_id)
    other = from_hsm(server, tmp_path, softhsm_token, key_id, "--key-label", "k")
    assert other.returncode == 2 and other.stdout == ""
    assert "ImportKeyMaterial failed: IncorrectKeyMaterialException" in other.stderr
    assert state(kms, key_id) == "PendingImport"

    # A token key other than the one the lineage names is not exported at all.
    named = from_hsm(server, tmp_path, softhsm_token, key_id, "--key-label", "another")
    assert named.returncode == 2 and named.stdout == ""
    assert "RecordKeyLineage failed: AlreadyExistsException" in named.stderr
    assert "key another: nothing was exported" in named.stderr
    lookup = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    try:
        assert lookup.find_aes_key("another") is None  # not even generated
    finally:
        lookup.close()


def test_a_key_that_cannot_leave_the_token_is_refused(
    server: InProcessServer, kms: Any, softhsm_token: SoftHsmToken, tmp_path: Path
) -> None:
    connection = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    try:
        connection.generate_aes_key("locked", key_id=b"locked", extractable=False)
    finally:
        connection.close()
    key_id = external_key(kms)
    result = from_hsm(server, tmp_path, softhsm_token, key_id, "--key-label", "locked")
    assert result.returncode == 2
    assert "'locked'" in result.stderr and "not extractable" in result.stderr
    assert state(kms, key_id) == "PendingImport"


def test_a_wrong_pin_or_no_pin_is_refused_without_showing_it(
    server: InProcessServer, kms: Any, softhsm_token: SoftHsmToken, tmp_path: Path
) -> None:
    key_id = external_key(kms)
    pin_file = tmp_path / "pin"
    pin_file.write_text("wrong-pin-4711\n")
    result = from_hsm(server, tmp_path, softhsm_token, key_id, "--pin-file", str(pin_file), pin="")
    assert result.returncode == 2 and "PinIncorrect" in result.stderr
    assert "wrong-pin-4711" not in result.stderr
    result = from_hsm(server, tmp_path, softhsm_token, key_id, pin="")
    assert result.returncode == 2 and f"set the environment variable {PIN_ENV}" in result.stderr
    assert state(kms, key_id) == "PendingImport"


def test_record_key_lineage_is_for_external_keys_only(kms: Any, raw: Raw) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    lineage = {"KeyId": key_id, "TokenLabel": "t", "TokenSerial": "1", "KeyLabel": "k"}
    reply = raw.call("RecordKeyLineage", lineage)
    assert (reply.status, reply.error_code) == (400, "UnsupportedOperationException")
    assert "origin is AWS_KMS" in reply.body["message"]
    reply = raw.call("RecordKeyLineage", {"KeyId": key_id, "TokenLabel": "t"})
    assert (reply.status, reply.error_code) == (400, "UnsupportedOperationException")
    external = external_key(kms)
    reply = raw.call("RecordKeyLineage", {"KeyId": external, "TokenLabel": "t"})
    assert (reply.status, reply.error_code) == (400, "ValidationException")
    assert "TokenSerial, KeyLabel is required" in reply.body["message"]
    # a key pending deletion takes no lineage either (the key-state table of imports)
    kms.schedule_key_deletion(KeyId=external, PendingWindowInDays=7)
    reply = raw.call(
        "RecordKeyLineage",
        {"KeyId": external, "TokenLabel": "t", "TokenSerial": "1", "KeyLabel": "k"},
    )
    assert (reply.status, reply.error_code) == (400, "KMSInvalidStateException")
    assert state(kms, external) == "PendingDeletion"
